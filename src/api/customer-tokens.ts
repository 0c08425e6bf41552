import { jwtVerify, SignJWT } from 'jose';

/**
 * Short-lived tokens a merchant hands to its customer's app (a rider waiting on a 3-D Secure
 * page): they read that customer's payments, wallet, streams and customer record, nothing else, and never carry
 * the merchant's key. HS256 JWTs signed with `CUSTOMER_TOKEN_SECRET`.
 */
export interface CustomerClaims {
  tenantId: string;
  customerId: string;
  expiresAt: Date;
}

const ISSUER = 'paysaga';
const AUDIENCE = 'paysaga-customer';
/** The longest a customer token lives: it is handed to an app the merchant does not control. */
export const MAX_CUSTOMER_TOKEN_SECONDS = 3600;

export class CustomerTokens {
  readonly #key: Uint8Array;

  constructor(secret: string) {
    if (secret.length < 32) throw new Error('CUSTOMER_TOKEN_SECRET must be at least 32 characters');
    this.#key = new TextEncoder().encode(secret);
  }

  async issue(
    tenantId: string,
    customerId: string,
    ttlSeconds: number,
  ): Promise<{ token: string; expiresAt: Date }> {
    if (ttlSeconds > MAX_CUSTOMER_TOKEN_SECONDS)
      throw new RangeError(`a customer token lives at most ${MAX_CUSTOMER_TOKEN_SECONDS} s`);
    const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
    const token = await new SignJWT({ tid: tenantId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(customerId)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(this.#key);
    return { token, expiresAt };
  }

  /**
   * The claims of a valid token, or undefined (bad signature, expired, another audience, or a
   * lifetime longer than {@link MAX_CUSTOMER_TOKEN_SECONDS}: whoever signed that one, it was not
   * this API's `issue`, and a leaked secret must not mint tokens that live for years).
   */
  async verify(token: string): Promise<CustomerClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
        // Also refuses an `iat` in the future, which would stretch the lifetime checked below.
        maxTokenAge: MAX_CUSTOMER_TOKEN_SECONDS,
      });
      if (typeof payload.tid !== 'string' || !payload.sub || !payload.exp || !payload.iat) return undefined;
      if (payload.exp - payload.iat > MAX_CUSTOMER_TOKEN_SECONDS) return undefined;
      return { tenantId: payload.tid, customerId: payload.sub, expiresAt: new Date(payload.exp * 1000) };
    } catch {
      return undefined;
    }
  }
}

/** A bearer credential shaped like a JWT (three base64url parts), as opposed to an API key. */
export function looksLikeJwt(credential: string): boolean {
  return /^eyJ[\w-]*\.[\w-]+\.[\w-]+$/.test(credential);
}
