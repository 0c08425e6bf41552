import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  base64url,
  decodeProtectedHeader,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  SignJWT,
  UnsecuredJWT,
  type CryptoKey,
  type JWK,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TenantJwtVerifier, type JwtTenant, type JwtVerdict } from '../../src/api/tenant-jwt.js';
import { claimAt, jwtSettings } from '../../src/domain/tenants.js';
import { startIssuer, type TestIssuer } from '../support/oidc-issuer.js';

/** A tenant as the identity directory holds it: its settings parsed, so defaults apply. */
function tenant(tenantId: string, settings: Record<string, unknown>): JwtTenant {
  return { tenantId, jwt: jwtSettings.parse(settings) };
}

/** The directory's index: the tenants whose issuer is the token's. */
function byIssuer(...tenants: JwtTenant[]): (issuer: string) => readonly JwtTenant[] {
  return (issuer) => tenants.filter((t) => t.jwt.issuer === issuer);
}

function expectOk(verdict: JwtVerdict) {
  if (!('ok' in verdict)) throw new Error(`expected an identity, got ${JSON.stringify(verdict)}`);
  return verdict.ok;
}

function expectInvalid(verdict: JwtVerdict, token: string): void {
  expect(verdict).toMatchObject({ error: 'invalid' });
  expect(JSON.stringify(verdict)).not.toContain(token);
}

function expectUnavailable(verdict: JwtVerdict, token: string): void {
  expect(verdict).toMatchObject({ error: 'unavailable' });
  expect(JSON.stringify(verdict)).not.toContain(token);
}

/** A local HTTP server answering every request with `handler`; closed by `close()`. */
async function serve(handler: (request: IncomingMessage, response: ServerResponse) => void) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('tokens of a tenant identity provider', () => {
  let issuer: TestIssuer;
  let acme: JwtTenant;
  let candidates: (issuer: string) => readonly JwtTenant[];
  const verifier = new TenantJwtVerifier();

  beforeAll(async () => {
    issuer = await startIssuer();
    acme = tenant('acme', { issuer: issuer.issuer, audience: 'paysaga', jwksUrl: issuer.jwksUrl });
    candidates = byIssuer(acme);
  });
  afterAll(async () => issuer.close());

  it("a customer token acts as the customer its claim names, until the token's exp", async () => {
    const token = await issuer.sign({ sub: 'cus_1', roles: ['customer'] });
    const identity = expectOk(await verifier.verify(token, candidates));
    expect(identity).toEqual({
      role: 'customer',
      tenantId: 'acme',
      customerId: 'cus_1',
      subject: 'cus_1',
      expiresAt: expect.any(Date),
    });
    expect(Math.abs(identity.expiresAt.getTime() - (Date.now() + 300_000))).toBeLessThan(5_000);
  });

  it('maps the customer id and the roles from the claims the tenant names, nested ones too', async () => {
    const keycloak = tenant('keycloak', {
      issuer: issuer.issuer,
      audience: ['paysaga', 'account'],
      jwksUrl: issuer.jwksUrl,
      customerIdClaim: 'cid',
      rolesClaim: 'realm_access.roles',
    });
    const token = await issuer.sign({ sub: 'user-7', cid: 'cus_9', realm_access: { roles: ['customer'] } });
    expect(expectOk(await verifier.verify(token, byIssuer(keycloak)))).toMatchObject({
      role: 'customer',
      tenantId: 'keycloak',
      customerId: 'cus_9',
      subject: 'user-7',
    });
    // The top-level `roles` is not the claim this tenant reads.
    const elsewhere = await issuer.sign({ sub: 'user-7', cid: 'cus_9', roles: ['customer'] });
    expectInvalid(await verifier.verify(elsewhere, byIssuer(keycloak)), elsewhere);
  });

  it('a merchant token acts as the tenant; an admin token as its admin', async () => {
    const merchant = expectOk(
      await verifier.verify(await issuer.sign({ sub: 'ops@acme', roles: ['merchant'] }), candidates),
    );
    expect(merchant).toEqual({
      role: 'merchant',
      tenantId: 'acme',
      subject: 'ops@acme',
      expiresAt: expect.any(Date),
    });
    const admin = expectOk(
      await verifier.verify(await issuer.sign({ sub: 'root', roles: 'admin' }), candidates),
    );
    expect(admin).toMatchObject({ role: 'admin', tenantId: 'acme', subject: 'root' });
    // No subject: an empty one for the audit trail.
    const anonymous = expectOk(await verifier.verify(await issuer.sign({ roles: ['merchant'] }), candidates));
    expect(anonymous).toMatchObject({ role: 'merchant', subject: '' });
  });

  it('acts with the highest of several roles', async () => {
    const spaced = await issuer.sign({ sub: 'cus_1', roles: 'customer merchant' });
    expect(expectOk(await verifier.verify(spaced, candidates)).role).toBe('merchant');
    const listed = await issuer.sign({ sub: 'cus_1', roles: ['customer', 'admin', 'merchant'] });
    expect(expectOk(await verifier.verify(listed, candidates)).role).toBe('admin');
  });

  it('refuses a token without a known role', async () => {
    for (const claims of [
      { sub: 'cus_1' },
      { sub: 'cus_1', roles: ['viewer'] },
      { sub: 'cus_1', roles: [] },
      { sub: 'cus_1', roles: { customer: true } },
      { sub: 'cus_1', roles: 'Customer' },
    ]) {
      const token = await issuer.sign(claims);
      expectInvalid(await verifier.verify(token, candidates), token);
    }
  });

  it('refuses a customer token without a usable customer id', async () => {
    for (const claims of [
      { roles: ['customer'] },
      { sub: '', roles: ['customer'] },
      { sub: 'c'.repeat(201), roles: ['customer'] },
    ]) {
      const token = await issuer.sign(claims);
      expectInvalid(await verifier.verify(token, candidates), token);
    }
    const cid = tenant('cid', {
      issuer: issuer.issuer,
      audience: 'paysaga',
      jwksUrl: issuer.jwksUrl,
      customerIdClaim: 'cid',
    });
    for (const cidValue of [42, ['cus_1'], { id: 'cus_1' }, null]) {
      const token = await issuer.sign({ sub: 'cus_1', cid: cidValue, roles: ['customer'] });
      expectInvalid(await verifier.verify(token, byIssuer(cid)), token);
    }
    const longest = await issuer.sign({ sub: 'c'.repeat(200), roles: ['customer'] });
    expect(expectOk(await verifier.verify(longest, candidates))).toMatchObject({
      customerId: 'c'.repeat(200),
    });
  });

  it('refuses another audience, and takes a token whose audiences include the tenant’s', async () => {
    const other = await issuer.sign({ sub: 'cus_1', roles: ['customer'] }, { audience: 'another-api' });
    expectInvalid(await verifier.verify(other, candidates), other);
    const several = await issuer.sign(
      { sub: 'cus_1', roles: ['customer'] },
      { audience: ['another-api', 'paysaga'] },
    );
    expect(expectOk(await verifier.verify(several, candidates)).tenantId).toBe('acme');
  });

  it('refuses another issuer: no tenant to check it against', async () => {
    const seen: string[] = [];
    const token = await issuer.sign(
      { sub: 'cus_1', roles: ['customer'] },
      { issuer: 'https://login.elsewhere.example' },
    );
    const verdict = await verifier.verify(token, (iss) => {
      seen.push(iss);
      return candidates(iss);
    });
    expectInvalid(verdict, token);
    expect(seen).toEqual(['https://login.elsewhere.example']);
  });

  it('refuses a token that claims a tenant’s issuer but is checked against its settings', async () => {
    // The index is the caller's: even if it hands over a tenant of another issuer, jose checks `iss`.
    const token = await issuer.sign(
      { sub: 'cus_1', roles: ['customer'] },
      { issuer: 'https://login.elsewhere.example' },
    );
    expectInvalid(await verifier.verify(token, () => [acme]), token);
  });

  it('gives exp and nbf the leeway of the tenant, and no more', async () => {
    const claims = { sub: 'cus_1', roles: ['customer'] };
    const longExpired = await issuer.sign(claims, { expiresInSeconds: -120 });
    expectInvalid(await verifier.verify(longExpired, candidates), longExpired);
    const justExpired = await issuer.sign(claims, { expiresInSeconds: -10 });
    expectOk(await verifier.verify(justExpired, candidates));
    const strict = tenant('strict', {
      issuer: issuer.issuer,
      audience: 'paysaga',
      jwksUrl: issuer.jwksUrl,
      clockToleranceSeconds: 0,
    });
    expectInvalid(await verifier.verify(justExpired, byIssuer(strict)), justExpired);

    const notYet = await issuer.sign(claims, { notBeforeSeconds: 120 });
    expectInvalid(await verifier.verify(notYet, candidates), notYet);
    const almost = await issuer.sign(claims, { notBeforeSeconds: 10 });
    expectOk(await verifier.verify(almost, candidates));
    expectInvalid(await verifier.verify(almost, byIssuer(strict)), almost);
  });

  it('refuses a malformed token', async () => {
    for (const token of ['', 'not-a-jwt', 'eyJhbGciOiJSUzI1NiJ9.e30', 'eyJ.eyJ.sig', 'a.b.c']) {
      expect(await verifier.verify(token, candidates)).toEqual({
        error: 'invalid',
        reason: expect.any(String),
      });
    }
  });

  it('refuses HS256 tokens, whatever secret signed them: the public key itself too', async () => {
    const { keys } = (await (await fetch(issuer.jwksUrl)).json()) as { keys: JWK[] };
    const [publicJwk] = keys;
    const pem = await exportSPKI((await importJWK(publicJwk!, 'RS256', { extractable: true })) as CryptoKey);
    const secrets = [
      new TextEncoder().encode(pem),
      new TextEncoder().encode(JSON.stringify(publicJwk)),
      base64url.decode(publicJwk!.n!),
      new TextEncoder().encode('a shared secret of at least thirty-two bytes'),
    ];
    for (const secret of secrets) {
      const token = await new SignJWT({ sub: 'cus_1', roles: ['admin'] })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: publicJwk!.kid! })
        .setIssuer(issuer.issuer)
        .setAudience('paysaga')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(secret);
      expectInvalid(await verifier.verify(token, candidates), token);
    }
  });

  it('refuses an unsecured token (alg none)', async () => {
    const unsecured = new UnsecuredJWT({ sub: 'cus_1', roles: ['admin'] })
      .setIssuer(issuer.issuer)
      .setAudience('paysaga')
      .setIssuedAt()
      .setExpirationTime('5m')
      .encode();
    expectInvalid(await verifier.verify(unsecured, candidates), unsecured);
    // The same with a known kid and a signature part that is not empty.
    const signed = await issuer.sign({ sub: 'cus_1', roles: ['admin'] });
    const { kid } = decodeProtectedHeader(signed);
    const header = base64url.encode(JSON.stringify({ alg: 'none', kid, typ: 'JWT' }));
    const [, payload, signature] = signed.split('.');
    const forged = `${header}.${payload}.${signature}`;
    expectInvalid(await verifier.verify(forged, candidates), forged);
  });

  it('refuses a token signed by a key its issuer never published, after fetching the key set again', async () => {
    const fresh = new TenantJwtVerifier({ cooldownMs: 0 });
    expectOk(await fresh.verify(await issuer.sign({ sub: 'cus_1', roles: ['customer'] }), candidates));
    const before = issuer.jwksRequests();
    const token = await issuer.signWithUnpublishedKey({ sub: 'cus_1', roles: ['admin'] });
    expectInvalid(await fresh.verify(token, candidates), token);
    expect(issuer.jwksRequests()).toBeGreaterThan(before);
  });

  it('fetches the key set again for an unknown kid at most once per cooldown', async () => {
    const patient = new TenantJwtVerifier({ cooldownMs: 600_000 });
    expectOk(await patient.verify(await issuer.sign({ sub: 'cus_1', roles: ['customer'] }), candidates));
    const before = issuer.jwksRequests();
    for (let i = 0; i < 3; i += 1) {
      const token = await issuer.signWithUnpublishedKey({ sub: 'cus_1', roles: ['admin'] });
      expectInvalid(await patient.verify(token, candidates), token);
    }
    // Each verify has returned: any fetch it made has been answered and counted.
    expect(issuer.jwksRequests()).toBe(before);
  });

  it('keeps one key set per URL: tenants sharing it share its cache', async () => {
    const shared = new TenantJwtVerifier();
    const a = tenant('a', { issuer: issuer.issuer, audience: 'shop-a', jwksUrl: issuer.jwksUrl });
    const b = tenant('b', { issuer: issuer.issuer, audience: 'shop-b', jwksUrl: issuer.jwksUrl });
    const before = issuer.jwksRequests();
    for (const audience of ['shop-a', 'shop-b', 'shop-a', 'shop-b']) {
      const token = await issuer.sign({ sub: 'ops', roles: ['merchant'] }, { audience });
      expect(expectOk(await shared.verify(token, byIssuer(a, b))).tenantId).toBe(audience.slice(-1));
    }
    expect(issuer.jwksRequests()).toBe(before + 1);
  });

  it('never guesses a tenant: a token that two tenants accept is refused', async () => {
    const a = tenant('a', { issuer: issuer.issuer, audience: ['shop-a', 'shared'], jwksUrl: issuer.jwksUrl });
    const b = tenant('b', { issuer: issuer.issuer, audience: ['shop-b', 'shared'], jwksUrl: issuer.jwksUrl });
    for (const audience of ['shared', ['shop-a', 'shop-b']]) {
      const token = await issuer.sign({ sub: 'ops', roles: ['merchant'] }, { audience });
      const verdict = await verifier.verify(token, byIssuer(a, b));
      expectInvalid(verdict, token);
      expect(verdict).toMatchObject({ reason: expect.stringContaining('several tenants') });
    }
  });

  it('takes no token while another tenant that could accept it cannot be checked', async () => {
    const closed = await serve(() => undefined);
    await closed.close();
    const a = tenant('a', { issuer: issuer.issuer, audience: 'shared', jwksUrl: issuer.jwksUrl });
    const b = tenant('b', { issuer: issuer.issuer, audience: 'shared', jwksUrl: closed.url });
    const token = await issuer.sign({ sub: 'ops', roles: ['merchant'] }, { audience: 'shared' });
    expectUnavailable(await verifier.verify(token, byIssuer(a, b)), token);
  });
});

describe('algorithms pinned by the tenant', () => {
  let es: TestIssuer;
  beforeAll(async () => {
    es = await startIssuer({ algorithm: 'ES256' });
  });
  afterAll(async () => es.close());

  it('refuses an algorithm the tenant does not pin, before fetching any key', async () => {
    const verifier = new TenantJwtVerifier();
    const rsOnly = tenant('rs', {
      issuer: es.issuer,
      audience: 'paysaga',
      jwksUrl: es.jwksUrl,
      algorithms: ['RS256'],
    });
    const token = await es.sign({ sub: 'cus_1', roles: ['customer'] });
    expectInvalid(await verifier.verify(token, byIssuer(rsOnly)), token);
    expect(es.jwksRequests()).toBe(0);

    const esPinned = tenant('es', {
      issuer: es.issuer,
      audience: 'paysaga',
      jwksUrl: es.jwksUrl,
      algorithms: ['ES256'],
    });
    expect(expectOk(await verifier.verify(token, byIssuer(esPinned))).tenantId).toBe('es');
    // The default list takes RS256 and ES256.
    const defaults = tenant('default', { issuer: es.issuer, audience: 'paysaga', jwksUrl: es.jwksUrl });
    expectOk(await verifier.verify(token, byIssuer(defaults)));
  });
});

describe('key rotation', () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startIssuer();
  });
  afterAll(async () => issuer.close());

  it('takes a token of a rotated key after fetching the key set again, and still the old key’s', async () => {
    const verifier = new TenantJwtVerifier({ cooldownMs: 0 });
    const candidates = byIssuer(
      tenant('acme', { issuer: issuer.issuer, audience: 'paysaga', jwksUrl: issuer.jwksUrl }),
    );
    const old = await issuer.sign({ sub: 'cus_1', roles: ['customer'] });
    expectOk(await verifier.verify(old, candidates));
    const before = issuer.jwksRequests();

    const kid = await issuer.rotate();
    const rotated = await issuer.sign({ sub: 'cus_1', roles: ['customer'] });
    expect(decodeProtectedHeader(rotated).kid).toBe(kid);
    expect(expectOk(await verifier.verify(rotated, candidates))).toMatchObject({ customerId: 'cus_1' });
    expect(issuer.jwksRequests()).toBeGreaterThan(before);
    expectOk(await verifier.verify(old, candidates));
  });
});

describe('an identity provider that cannot be reached', () => {
  let issuer: TestIssuer;
  let candidates: (issuer: string) => readonly JwtTenant[];
  beforeAll(async () => {
    issuer = await startIssuer();
    candidates = byIssuer(
      tenant('acme', { issuer: issuer.issuer, audience: 'paysaga', jwksUrl: issuer.jwksUrl }),
    );
  });
  afterAll(async () => {
    issuer.setDown(false);
    await issuer.close();
  });

  it('makes a token unavailable, never valid, when no key was fetched yet', async () => {
    const token = await issuer.sign({ sub: 'cus_1', roles: ['admin'] });
    issuer.setDown(true);
    const verifier = new TenantJwtVerifier();
    try {
      const before = issuer.jwksRequests();
      expectUnavailable(await verifier.verify(token, candidates), token);
      expect(issuer.jwksRequests()).toBeGreaterThan(before);
    } finally {
      issuer.setDown(false);
    }
    // Back up: the same verifier fetches the keys.
    expect(expectOk(await verifier.verify(token, candidates)).role).toBe('admin');
  });

  it('keeps taking tokens of keys already fetched while the provider is down', async () => {
    const verifier = new TenantJwtVerifier({ cooldownMs: 0 });
    expectOk(await verifier.verify(await issuer.sign({ sub: 'cus_1', roles: ['customer'] }), candidates));
    issuer.setDown(true);
    try {
      const known = await issuer.sign({ sub: 'cus_2', roles: ['customer'] });
      expect(expectOk(await verifier.verify(known, candidates))).toMatchObject({ customerId: 'cus_2' });
      // A kid it does not know cannot be looked up now: unavailable, not valid.
      const unknown = await issuer.signWithUnpublishedKey({ sub: 'cus_1', roles: ['admin'] });
      expectUnavailable(await verifier.verify(unknown, candidates), unknown);
    } finally {
      issuer.setDown(false);
    }
  });

  it('makes a token unavailable when the key set times out, is not JSON, is no key set, or is refused', async () => {
    const token = await issuer.sign({ sub: 'cus_1', roles: ['admin'] });
    const hanging = await serve(() => undefined);
    const notJson = await serve((_, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end('<html>');
    });
    const notKeys = await serve((_, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":"none"}');
    });
    const redirect = await serve((_, response) => {
      response.writeHead(302, { location: issuer.jwksUrl }).end();
    });
    const closed = await serve(() => undefined);
    await closed.close();
    try {
      const verifier = new TenantJwtVerifier({ timeoutMs: 200 });
      for (const server of [hanging, notJson, notKeys, redirect, closed]) {
        const candidate = tenant('acme', { issuer: issuer.issuer, audience: 'paysaga', jwksUrl: server.url });
        expectUnavailable(await verifier.verify(token, byIssuer(candidate)), token);
      }
    } finally {
      await Promise.all([hanging.close(), notJson.close(), notKeys.close(), redirect.close()]);
    }
  });
});

describe('keys stored with the tenant', () => {
  const ISSUER = 'https://login.static.example';

  async function keyPair(kid: string) {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
  }

  it('verifies tokens with the stored keys, fetching nothing', async () => {
    const current = await keyPair('static-1');
    const stranger = await keyPair('static-1');
    const settings = { issuer: ISSUER, audience: 'paysaga', keys: [current.publicJwk] };
    const candidates = byIssuer(tenant('static', settings));
    const verifier = new TenantJwtVerifier();

    const claims = { sub: 'cus_1', roles: ['customer'] };
    const sign = (key: CryptoKey, withExp = true) => {
      const jwt = new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'static-1' })
        .setIssuer(ISSUER)
        .setAudience('paysaga')
        .setIssuedAt();
      return (withExp ? jwt.setExpirationTime('5m') : jwt).sign(key);
    };

    expect(expectOk(await verifier.verify(await sign(current.privateKey), candidates))).toMatchObject({
      role: 'customer',
      tenantId: 'static',
      customerId: 'cus_1',
    });
    // Another key under the same kid: the signature does not match.
    const forged = await sign(stranger.privateKey);
    expectInvalid(await verifier.verify(forged, candidates), forged);
    // No exp: refused, whoever signed it.
    const endless = await sign(current.privateKey, false);
    expectInvalid(await verifier.verify(endless, candidates), endless);
  });

  it('refuses every token of a tenant whose stored key cannot be used', async () => {
    const { privateKey, publicJwk } = await keyPair('k');
    const token = await new SignJWT({ sub: 'cus_1', roles: ['customer'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .setIssuer(ISSUER)
      .setAudience('paysaga')
      .setExpirationTime('5m')
      .sign(privateKey);
    const { d } = await exportJWK((await generateKeyPair('ES256', { extractable: true })).privateKey);
    const broken = tenant('broken', {
      issuer: ISSUER,
      audience: 'paysaga',
      keys: [{ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA', kid: 'k' }],
    });
    expectInvalid(await new TenantJwtVerifier().verify(token, byIssuer(broken)), token);
    // A private key where a public one belongs is not even stored.
    expect(
      jwtSettings.safeParse({ issuer: ISSUER, audience: 'paysaga', keys: [{ ...publicJwk, d }] }).success,
    ).toBe(false);
  });
});

describe('claim paths', () => {
  it("are names or dotted paths, read from the token's own members only", () => {
    const settings = (claim: string) =>
      jwtSettings.safeParse({
        issuer: 'https://idp.example',
        audience: 'a',
        jwksUrl: 'https://idp.example/jwks',
        rolesClaim: claim,
      });
    expect(settings('realm_access.roles').success).toBe(true);
    for (const bad of ['', '.', 'a..b', 'a.', '.a', 'a b', 'x'.repeat(101)])
      expect(settings(bad).success).toBe(false);
    const claims = JSON.parse('{"realm_access":{"roles":["admin"]},"__proto__":{"roles":"admin"}}') as Record<
      string,
      unknown
    >;
    expect(claimAt(claims, 'realm_access.roles')).toEqual(['admin']);
    expect(claimAt(claims, 'roles')).toBeUndefined();
    expect(claimAt({}, 'constructor')).toBeUndefined();
    expect(claimAt({}, '__proto__.roles')).toBeUndefined();
  });
});
