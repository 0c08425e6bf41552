import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';
import { claimAt, highestRole, type JwtSettings } from '../domain/tenants.js';

/** A tenant that accepts its identity provider's tokens, with its settings. */
export interface JwtTenant {
  tenantId: string;
  jwt: JwtSettings;
}

export type JwtIdentity =
  | { role: 'customer'; tenantId: string; customerId: string; subject: string; expiresAt: Date }
  | { role: 'merchant' | 'admin'; tenantId: string; subject: string; expiresAt: Date };

/**
 * `invalid`: the token is refused (401). `unavailable`: a key set it needs could not be fetched,
 * so it could not be checked (503); never let in.
 */
export type JwtVerdict =
  { ok: JwtIdentity } | { error: 'invalid'; reason: string } | { error: 'unavailable'; reason: string };

/** The longest customer id taken from a token. */
const MAX_CUSTOMER_ID_LENGTH = 200;

/** Why a remote key set could not be used: its provider did not answer with a key set. */
class KeySetUnavailable extends Error {}

type CandidateOutcome =
  { verified: JwtTenant; payload: JWTPayload } | { error: 'invalid' | 'unavailable'; reason: string };

/**
 * Tokens signed by a tenant's own identity provider (`settings.jwt`): they act for that tenant,
 * as one of its customers, as the tenant itself (merchant) or as its admin. The unverified `iss`
 * and `aud` only pick the tenants that could have issued a token; its signature, issuer, audience,
 * algorithm and times are then checked against each of them with jose, and exactly one must
 * accept it. Keys come from jose's remote JWK set (one per URL, cached, fetched again for an
 * unknown `kid` at most once per cooldown) or from the keys the tenant stored.
 */
export class TenantJwtVerifier {
  readonly #timeoutMs: number;
  readonly #cooldownMs: number;
  readonly #cacheMaxAgeMs: number;
  /** One remote key set per URL, shared by every tenant that names it: its keys stay cached. */
  readonly #remote = new Map<string, JWTVerifyGetKey>();
  /** Stored keys, per settings object (a reload of the tenants brings new objects). */
  readonly #local = new WeakMap<JwtSettings, JWTVerifyGetKey | { malformed: string }>();

  constructor(
    options: {
      /** The timeout of a key set's fetch; default 2000. */
      timeoutMs?: number;
      /** The least time between two fetches of a key set for an unknown `kid`; default 30000. */
      cooldownMs?: number;
      /** How long fetched keys are used before the key set is fetched again; default 600000. */
      cacheMaxAgeMs?: number;
    } = {},
  ) {
    this.#timeoutMs = Math.round(options.timeoutMs ?? 2000);
    this.#cooldownMs = options.cooldownMs ?? 30_000;
    this.#cacheMaxAgeMs = options.cacheMaxAgeMs ?? 600_000;
  }

  /** `candidates(issuer)`: the tenants whose jwt.issuer is that issuer (the caller indexes them). */
  async verify(token: string, candidates: (issuer: string) => readonly JwtTenant[]): Promise<JwtVerdict> {
    let unverified: JWTPayload;
    try {
      decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch {
      return { error: 'invalid', reason: 'not a well-formed JWT' };
    }
    const { iss, aud } = unverified;
    if (typeof iss !== 'string' || iss === '') return { error: 'invalid', reason: 'no issuer' };
    const tokenAudiences = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    const tenants = candidates(iss).filter((tenant) =>
      audiencesOf(tenant.jwt).some((audience) => tokenAudiences.includes(audience)),
    );
    if (tenants.length === 0)
      return { error: 'invalid', reason: 'no tenant accepts this issuer and audience' };

    const outcomes = await Promise.all(tenants.map((tenant) => this.#check(token, tenant)));
    const verified = outcomes.filter((o) => 'verified' in o);
    const refused = outcomes.filter((o) => 'error' in o);
    // Never guess a tenant: a token that two of them accept acts for neither, and while one of
    // them cannot be checked, the one that accepts it is not known to be the only one.
    if (verified.length > 1) return { error: 'invalid', reason: 'the token is valid for several tenants' };
    const unavailable = refused.find((o) => o.error === 'unavailable');
    if (unavailable) return { error: 'unavailable', reason: unavailable.reason };
    const [accepted] = verified;
    if (accepted) return identityOf(accepted.verified, accepted.payload);
    const [only, ...others] = refused;
    return {
      error: 'invalid',
      reason: only && others.length === 0 ? only.reason : 'no tenant accepts the token',
    };
  }

  async #check(token: string, tenant: JwtTenant): Promise<CandidateOutcome> {
    const settings = tenant.jwt;
    const keys = this.#keysOf(settings);
    if ('malformed' in keys) return { error: 'invalid', reason: keys.malformed };
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms: settings.algorithms,
        clockTolerance: settings.clockToleranceSeconds,
        requiredClaims: ['exp'],
      });
      return { verified: tenant, payload };
    } catch (error) {
      if (error instanceof KeySetUnavailable) return { error: 'unavailable', reason: error.message };
      return { error: 'invalid', reason: reasonOf(error) };
    }
  }

  #keysOf(settings: JwtSettings): JWTVerifyGetKey | { malformed: string } {
    if (settings.jwksUrl !== undefined) return this.#remoteSet(settings.jwksUrl);
    let local = this.#local.get(settings);
    if (!local) {
      try {
        local = createLocalJWKSet({ keys: settings.keys ?? [] });
      } catch {
        local = { malformed: "the tenant's keys are not a valid JWK set" };
      }
      this.#local.set(settings, local);
    }
    return local;
  }

  #remoteSet(jwksUrl: string): JWTVerifyGetKey {
    let keys = this.#remote.get(jwksUrl);
    if (!keys) {
      const remote = createRemoteJWKSet(new URL(jwksUrl), {
        timeoutDuration: this.#timeoutMs,
        cooldownDuration: this.#cooldownMs,
        cacheMaxAge: this.#cacheMaxAgeMs,
      });
      // What goes wrong while looking up a key is told apart here: no key for the token (it is
      // refused) or no key set at all (the token cannot be checked).
      keys = async (protectedHeader, token) => {
        try {
          return await remote(protectedHeader, token);
        } catch (error) {
          const unavailable = unavailability(error);
          if (unavailable) throw new KeySetUnavailable(`${unavailable} (${new URL(jwksUrl).host})`);
          throw error;
        }
      };
      this.#remote.set(jwksUrl, keys);
    }
    return keys;
  }
}

function audiencesOf(settings: JwtSettings): readonly string[] {
  return typeof settings.audience === 'string' ? [settings.audience] : settings.audience;
}

/**
 * Why a remote key set gave no key because it could not be had, or undefined when it was had and
 * holds no key for the token. jose throws `JWKSTimeout` for a timeout, a plain `JOSEError` for an
 * answer other than 200 or one that is not JSON, `JWKSInvalid` for JSON that is not a key set,
 * and lets a failed fetch's own error (a `TypeError`) through. A key it publishes that cannot be
 * imported is the provider's fault as well: the token cannot be checked.
 */
function unavailability(error: unknown): string | undefined {
  if (error instanceof errors.JWKSTimeout) return 'the key set did not arrive in time';
  if (error instanceof errors.JWKSInvalid) return 'the key set is malformed';
  if (error instanceof errors.JOSEError)
    return error.code === errors.JOSEError.code ? 'the key set could not be fetched' : undefined;
  // A failed fetch, or a published key the runtime cannot import.
  return error instanceof TypeError ? 'the key set could not be fetched' : 'the key set could not be used';
}

/** A reason to refuse, from jose's error: its messages name claims and checks, never the token. */
function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) return error.message;
  if (error instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (error instanceof errors.JWKSNoMatchingKey) return 'no key matches the token';
  if (error instanceof errors.JWKSMultipleMatchingKeys) return 'several keys match the token';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (error instanceof errors.JOSEError) return error.message;
  return 'the token could not be verified';
}

function identityOf(tenant: JwtTenant, payload: JWTPayload): JwtVerdict {
  const role = highestRole(claimAt(payload, tenant.jwt.rolesClaim));
  if (!role) return { error: 'invalid', reason: 'no role' };
  const subject = typeof payload.sub === 'string' ? payload.sub : '';
  // `exp` is required by the check above.
  const expiresAt = new Date((payload.exp ?? 0) * 1000);
  if (role !== 'customer') return { ok: { role, tenantId: tenant.tenantId, subject, expiresAt } };
  const customerId = claimAt(payload, tenant.jwt.customerIdClaim);
  if (typeof customerId !== 'string' || customerId === '' || customerId.length > MAX_CUSTOMER_ID_LENGTH)
    return { error: 'invalid', reason: 'no customer id' };
  return { ok: { role, tenantId: tenant.tenantId, customerId, subject, expiresAt } };
}
