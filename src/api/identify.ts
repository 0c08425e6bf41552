import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { IdentityDirectory, KeyCheck } from '../app/identity.js';
import { looksLikeJwt, type CustomerClaims, type CustomerTokens } from './customer-tokens.js';
import type { JwtVerdict, TenantJwtVerifier } from './tenant-jwt.js';

/** What the bearer credential of a request is, checked once per request. */
export type Credential =
  | { kind: 'none' }
  | { kind: 'admin_key'; fingerprint: string }
  | { kind: 'api_key'; check: KeyCheck; fingerprint: string; secret: string }
  | { kind: 'customer_token'; claims: CustomerClaims; token: string }
  | { kind: 'tenant_jwt'; verdict: JwtVerdict; token: string };

/** The first 32 hex of a credential's SHA-256: how it is counted and named, never stored itself. */
export const fingerprintOf = (value: string) => createHash('sha256').update(value).digest('hex').slice(0, 32);

/** The bearer credential of a request, if any (a customer's token may come as `?access_token=`). */
export function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header) return /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  if (!request.routeOptions.config.customer) return undefined;
  // A browser's EventSource or WebSocket cannot set headers: customer tokens may come in the URL.
  const queryToken = (request.query as Record<string, unknown> | undefined)?.access_token;
  return typeof queryToken === 'string' && looksLikeJwt(queryToken) ? queryToken : undefined;
}

/**
 * Tells what a request's credential is: an operator's admin key, a tenant's API key (stored or of
 * the environment), Paysaga's own customer token, or a token from a tenant's identity provider.
 * The rate limit (which counts by credential) and the auth hook (which decides) both ask, and
 * each request is checked once: a signature is verified once, not once per hook.
 */
export class CredentialCheck {
  readonly #seen = new WeakMap<FastifyRequest, Promise<Credential>>();

  constructor(
    private readonly deps: {
      identity: Pick<IdentityDirectory, 'checkKey' | 'jwtTenants'>;
      adminKeys: ReadonlySet<string>;
      customerTokens: Pick<CustomerTokens, 'verify'>;
      tenantJwt: Pick<TenantJwtVerifier, 'verify'>;
    },
  ) {}

  of(request: FastifyRequest): Promise<Credential> {
    let credential = this.#seen.get(request);
    if (!credential) {
      credential = this.#check(bearer(request));
      this.#seen.set(request, credential);
    }
    return credential;
  }

  async #check(value: string | undefined): Promise<Credential> {
    if (!value) return { kind: 'none' };
    if (looksLikeJwt(value)) {
      const claims = await this.deps.customerTokens.verify(value);
      if (claims) return { kind: 'customer_token', claims, token: value };
      const verdict = await this.deps.tenantJwt.verify(value, (issuer) =>
        this.deps.identity.jwtTenants(issuer),
      );
      return { kind: 'tenant_jwt', verdict, token: value };
    }
    if (this.deps.adminKeys.has(value)) return { kind: 'admin_key', fingerprint: fingerprintOf(value) };
    // From memory only: a key not known here is looked up in PostgreSQL by the auth hook, after
    // the rate limit has counted the request among those without a valid key.
    return {
      kind: 'api_key',
      check: this.deps.identity.checkKey(value),
      fingerprint: fingerprintOf(value),
      secret: value,
    };
  }
}
