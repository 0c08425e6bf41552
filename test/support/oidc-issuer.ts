import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/**
 * A small OpenID Connect issuer on 127.0.0.1: discovery, a JWK set, and tokens signed with its
 * current key. Its keys rotate, its key set can go down, and it counts how often the key set is
 * fetched.
 */
export interface TestIssuer {
  /** e.g. http://127.0.0.1:PORT */
  issuer: string;
  /** `${issuer}/.well-known/jwks.json`; discovery is at `${issuer}/.well-known/openid-configuration`. */
  jwksUrl: string;
  /** A token signed with the current key. Defaults: exp in 300 s, iat now, alg of the issuer, header kid of the current key. `audience` default 'paysaga'. */
  sign(
    claims: Record<string, unknown>,
    options?: {
      audience?: string | string[];
      expiresInSeconds?: number;
      notBeforeSeconds?: number;
      issuer?: string;
    },
  ): Promise<string>;
  /** A new key pair becomes the signing key; the JWKS now publishes the old and the new. Returns the new kid. */
  rotate(): Promise<string>;
  /** A token signed by a key the JWKS never publishes (its kid unknown even after a refetch). */
  signWithUnpublishedKey(
    claims: Record<string, unknown>,
    options?: { audience?: string | string[] },
  ): Promise<string>;
  /** While down, the JWKS and discovery answer 503. */
  setDown(down: boolean): void;
  /** How many times the JWKS document was requested. */
  jwksRequests(): number;
  close(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

const JWKS_PATH = '/.well-known/jwks.json';
const DISCOVERY_PATH = '/.well-known/openid-configuration';

export async function startIssuer(options: { algorithm?: 'RS256' | 'ES256' } = {}): Promise<TestIssuer> {
  const alg = options.algorithm ?? 'RS256';

  const newKey = async (): Promise<SigningKey> => {
    const { privateKey, publicKey } = await generateKeyPair(alg);
    const kid = randomUUID();
    return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
  };

  const published: SigningKey[] = [await newKey()];
  let current = published[0]!;
  let unpublished: SigningKey | undefined;
  let down = false;
  let jwksCount = 0;
  let issuer = '';

  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === JWKS_PATH) jwksCount += 1;
    if (path !== JWKS_PATH && path !== DISCOVERY_PATH) {
      response.writeHead(404).end();
      return;
    }
    if (down) {
      response.writeHead(503, { 'content-type': 'text/plain' }).end('unavailable');
      return;
    }
    const body =
      path === JWKS_PATH
        ? { keys: published.map((key) => key.publicJwk) }
        : {
            issuer,
            jwks_uri: `${issuer}${JWKS_PATH}`,
            id_token_signing_alg_values_supported: [alg],
            response_types_supported: ['code'],
            subject_types_supported: ['public'],
          };
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const signWith = (
    key: SigningKey,
    claims: Record<string, unknown>,
    opts: {
      audience?: string | string[];
      expiresInSeconds?: number;
      notBeforeSeconds?: number;
      issuer?: string;
    },
  ): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg, kid: key.kid, typ: 'JWT' })
      .setIssuer(opts.issuer ?? issuer)
      .setAudience(opts.audience ?? 'paysaga')
      .setIssuedAt(now)
      .setExpirationTime(now + (opts.expiresInSeconds ?? 300));
    if (opts.notBeforeSeconds !== undefined) jwt.setNotBefore(now + opts.notBeforeSeconds);
    return jwt.sign(key.privateKey);
  };

  return {
    issuer,
    jwksUrl: `${issuer}${JWKS_PATH}`,
    sign: (claims, opts = {}) => signWith(current, claims, opts),
    async rotate() {
      current = await newKey();
      published.push(current);
      return current.kid;
    },
    async signWithUnpublishedKey(claims, opts = {}) {
      unpublished ??= await newKey();
      return signWith(unpublished, claims, opts);
    },
    setDown(value) {
      down = value;
    },
    jwksRequests: () => jwksCount,
    async close() {
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections of HTTP clients would hold the server open.
        server.closeAllConnections();
      });
    },
  };
}
