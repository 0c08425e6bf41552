import { z } from 'zod';
import { connectorName, routingRule, routingRuleShape } from './routing.js';
import { storableText } from './text.js';

/**
 * Tenants and their API keys as data (PostgreSQL, managed by the admin API), and what a tenant
 * sets for itself: its connector and routing, its rate limit, the browser origins it allows, and
 * the identity provider whose tokens it accepts.
 */

/** A tenant's id: lower-case letters, digits, `_` and `-`; it names workflows and env suffixes. */
export const tenantId = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9_-]{0,62}$/,
    'lower-case letters, digits, _ and -, at most 63, starting alphanumeric',
  );

export const TENANT_STATUSES = ['active', 'suspended'] as const;
export type TenantStatus = (typeof TENANT_STATUSES)[number];

/**
 * What a key may do:
 * - `full`: everything the tenant may do;
 * - `read_only`: reads only (GET, HEAD);
 * - `publishable`: what a browser may do with a key it ships in its page: open a checkout page.
 *   Not customer tokens, not payments, not reads.
 */
export const KEY_SCOPES = ['full', 'read_only', 'publishable'] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];
export const KEY_MODES = ['live', 'test'] as const;
export type KeyMode = (typeof KEY_MODES)[number];

/** Stripe's shapes: `sk_` secret, `rk_` restricted (read-only here), `pk_` publishable. */
export function keyPrefix(scope: KeyScope, mode: KeyMode): string {
  const kind = scope === 'full' ? 'sk' : scope === 'read_only' ? 'rk' : 'pk';
  return `${kind}_${mode}_`;
}

/** Loopback hosts, where plain http is allowed (development, tests). */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
}

/**
 * Why a URL is not https, or http on a loopback address; with `origin`, also why it is not
 * exactly an origin as a browser sends it (`https://shop.example:8443`); undefined when neither.
 */
function urlProblem(value: string, { origin = false } = {}): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${value} is not a URL`;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname)))
    return `${value} is neither https nor http on localhost or 127.0.0.1`;
  if (origin && url.origin !== value) return `${value} is not an origin (scheme, host and port only)`;
  return undefined;
}

/**
 * A browser origin a tenant allows: scheme, host and port only, exactly as a browser sends it in
 * `Origin` (`https://shop.example`, `http://127.0.0.1:5173`): lower-case, no path, no wildcard (a
 * credentialed API never answers `*`). The shape is the schema's; https (http only on loopback)
 * is checked with the rest of the settings (`settingsProblem`).
 */
export const corsOrigin = z
  .string()
  .max(300)
  .regex(
    /^https?:\/\/[a-z0-9.:[\]-]+$/,
    'an origin such as https://shop.example (scheme, lower-case host, optional port)',
  );

/** A public JSON Web Key as identity providers publish them (RSA, EC or OKP; base64url members). */
const base64url = z
  .string()
  .max(2048)
  .regex(/^[A-Za-z0-9_-]+$/);
const publicJwk = z.strictObject({
  kty: z.enum(['RSA', 'EC', 'OKP']),
  kid: z
    .string()
    .max(200)
    .regex(/^[\x21-\x7e]+$/)
    .optional(),
  use: z.literal('sig').optional(),
  alg: z
    .string()
    .max(20)
    .regex(/^[A-Za-z0-9]+$/)
    .optional(),
  n: base64url.optional(),
  e: base64url.optional(),
  crv: z.enum(['P-256', 'P-384', 'P-521', 'Ed25519']).optional(),
  x: base64url.optional(),
  y: base64url.optional(),
});

/** Asymmetric algorithms only: an HMAC secret shared with an identity provider is not accepted. */
export const JWT_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'EdDSA',
] as const;

/** A claim by name, or a dotted path into nested claims (`realm_access.roles`). */
const claimPath = z
  .string()
  .max(100)
  .regex(/^[A-Za-z0-9_:/-]+(?:\.[A-Za-z0-9_:/-]+)*$/, 'a claim name or a dotted path');

/** The roles a tenant's identity provider may give, and what each acts as. */
export const JWT_ROLES = ['customer', 'merchant', 'admin'] as const;
export type JwtRole = (typeof JWT_ROLES)[number];

/**
 * A tenant's own identity provider: tokens it signs act for the tenant.
 * - `customer`: as that customer (the claim `customerIdClaim` names it), like Paysaga's customer tokens;
 * - `merchant`: as the tenant, like a full API key;
 * - `admin`: the admin routes of this tenant (the platform tenant's: every tenant's).
 * A token with several roles acts with the highest it has (admin, then merchant, then customer).
 */
export const jwtSettings = z.strictObject({
  issuer: storableText(500).min(1),
  audience: z.union([storableText(500).min(1), z.array(storableText(500).min(1)).min(1).max(10)]),
  /** Where the provider publishes its signing keys; fetched by jose, cached, refetched on an unknown `kid`. Exactly one of `jwksUrl` and `keys`. */
  jwksUrl: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .optional(),
  /** Or the keys themselves (public JWKs). */
  keys: z.array(publicJwk).min(1).max(20).optional(),
  algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default(['RS256', 'ES256']),
  customerIdClaim: claimPath.default('sub'),
  rolesClaim: claimPath.default('roles'),
  /** Leeway on `exp` and `nbf`. */
  clockToleranceSeconds: z.int().min(0).max(300).default(30),
});
export type JwtSettings = z.infer<typeof jwtSettings>;

/** What a tenant sets; every field optional: what it leaves out comes from the environment's defaults. */
export const tenantSettings = z.strictObject({
  /** The connector of its card payments and top-ups. */
  connector: connectorName.optional(),
  /** Its ordered routing rules (as `ROUTING_RULES` holds them per tenant). */
  routing: z.array(routingRuleShape).max(50).optional(),
  /** Requests per rate-limit window for each of its keys. */
  rateLimit: z.strictObject({ max: z.int().min(1).max(1_000_000) }).optional(),
  /** Browser origins that may call the API with its keys and tokens. */
  corsOrigins: z.array(corsOrigin).max(50).optional(),
  jwt: jwtSettings.optional(),
});
export type TenantSettings = z.infer<typeof tenantSettings>;

export interface Tenant {
  id: string;
  name: string;
  status: TenantStatus;
  settings: TenantSettings;
  /** `environment`: a bootstrap tenant of API_KEYS and friends, not (yet) stored. */
  source: 'database' | 'environment';
  createdAt?: string | undefined;
  updatedAt?: string | undefined;
}

/** An API key as stored and listed: never its secret. */
export interface ApiKey {
  id: string;
  tenantId: string;
  scope: KeyScope;
  mode: KeyMode;
  /** The secret's first characters, to tell keys apart (`sk_test_4f9Qa…`). */
  prefix: string;
  createdAt: string;
  /** Set when rolled: the key works until then. */
  expiresAt?: string | undefined;
  revokedAt?: string | undefined;
  /** The key this one replaced, when it came from a roll. */
  rolledFrom?: string | undefined;
}

/** The longest a rolled key keeps working beside its successor (Stripe allows up to 7 days). */
export const MAX_ROLL_OVERLAP_SECONDS = 7 * 24 * 3600;

/**
 * What in a tenant's settings the schema cannot say: an origin or a key-set URL that is neither
 * https nor http on loopback; undefined when none.
 */
export function settingsProblem(settings: TenantSettings): string | undefined {
  for (const [index, rule] of (settings.routing ?? []).entries()) {
    const checked = routingRule.safeParse(rule);
    if (!checked.success)
      return `routing[${index}]: ${checked.error.issues.map((i) => i.message).join('; ')}`;
  }
  for (const origin of settings.corsOrigins ?? []) {
    const problem = urlProblem(origin, { origin: true });
    if (problem) return `corsOrigins: ${problem}`;
  }
  const jwt = settings.jwt;
  if (jwt && (jwt.jwksUrl === undefined) === (jwt.keys === undefined))
    return 'jwt: give exactly one of jwksUrl and keys';
  const jwksUrl = jwt?.jwksUrl;
  const problem = jwksUrl !== undefined ? urlProblem(jwksUrl) : undefined;
  return problem && `jwt.jwksUrl: ${problem}`;
}

/** The value of a claim by name or dotted path; own properties only. */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  let value: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** The highest role a token's roles claim gives (a string, space-separated, or an array of strings). */
export function highestRole(claim: unknown): JwtRole | undefined {
  const roles =
    typeof claim === 'string'
      ? claim.split(/\s+/)
      : Array.isArray(claim)
        ? claim.filter((r): r is string => typeof r === 'string')
        : [];
  for (const role of ['admin', 'merchant', 'customer'] as const) if (roles.includes(role)) return role;
  return undefined;
}

/** A change to a tenant's settings: each field given replaces the stored one, `null` removes it. */
export const tenantSettingsPatch = z.strictObject({
  connector: connectorName.nullable().optional(),
  routing: z.array(routingRuleShape).max(50).nullable().optional(),
  rateLimit: z
    .strictObject({ max: z.int().min(1).max(1_000_000) })
    .nullable()
    .optional(),
  corsOrigins: z.array(corsOrigin).max(50).nullable().optional(),
  jwt: jwtSettings.nullable().optional(),
});
export type TenantSettingsPatch = z.infer<typeof tenantSettingsPatch>;

/** The settings after a patch. */
export function patchedSettings(settings: TenantSettings, patch: TenantSettingsPatch): TenantSettings {
  const next: Record<string, unknown> = { ...settings };
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null) delete next[field];
    else next[field] = value;
  }
  return tenantSettings.parse(next);
}
