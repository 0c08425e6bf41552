/**
 * Cross-origin requests from tenants' browser apps: preflights answered for an origin some
 * tenant allows, actual requests checked against the calling tenant's own origins once auth has
 * found it, errors before that check readable by any allowed origin, public routes untouched.
 */
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type LightMyRequestResponse } from 'fastify';
import fp from 'fastify-plugin';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { corsPlugin, type CorsPolicy } from '../../src/api/plugins/cors.js';
import { errorsPlugin } from '../../src/api/plugins/errors.js';
import { ProblemError } from '../../src/api/problem.js';

const SHOP = 'https://shop.example';
const SHOP_DEV = 'http://127.0.0.1:5173';
const OTHER = 'https://other.example';
const EVIL = 'https://evil.example';

const ORIGINS: Record<string, readonly string[]> = { shop: [SHOP, SHOP_DEV], other: [OTHER] };
const policy: CorsPolicy = {
  originsOf: (tenantId) => ORIGINS[tenantId] ?? [],
  allowedAnywhere: (origin) => Object.values(ORIGINS).some((origins) => origins.includes(origin)),
};

/** `Authorization: Bearer <tenant>` for the tenants above, `Bearer admin` on admin routes. */
const standInAuth = fp(
  async (app: FastifyInstance) => {
    app.decorateRequest('tenantId', '');
    app.addHook('onRequest', async (request) => {
      const { config, url } = request.routeOptions;
      if (config.public || url === undefined) return;
      const credential = request.headers.authorization?.replace(/^Bearer /, '');
      if (config.admin && credential === 'admin') return;
      if (credential === undefined || !(credential in ORIGINS))
        throw new ProblemError(401, 'unauthorized', 'unknown API key', {}, { 'WWW-Authenticate': 'Bearer' });
      request.tenantId = credential;
    });
  },
  { name: 'auth' },
);

/** The rate limit's place: an app-level onRequest hook before auth. */
const standInRateLimit = fp(async (app: FastifyInstance) => {
  app.addHook('onRequest', async (request) => {
    if (request.headers['x-flood'])
      throw new ProblemError(429, 'rate_limited', 'too many requests', {}, { 'Retry-After': '7' });
  });
});

let app: FastifyInstance;
const calls = { list: 0, create: 0, admin: 0, webhook: 0, page: 0, socket: 0 };

beforeAll(async () => {
  app = Fastify({ logger: false });
  await app.register(errorsPlugin);
  await app.register(standInRateLimit);
  await app.register(websocket);
  await app.register(standInAuth);
  await app.register(corsPlugin, { policy });
  await app.register(async (api) => {
    api.get('/v1/payments', async () => {
      calls.list += 1;
      return { data: [] };
    });
    api.post('/v1/payments', async (_request, reply) => {
      calls.create += 1;
      return reply.status(201).header('Location', '/v1/payments/pay_1').send({ id: 'pay_1' });
    });
    api.get('/v1/payments/:id', async (request) => {
      const { id } = request.params as { id: string };
      if (id === 'pay_missing') throw new ProblemError(404, 'payment_not_found', 'no such payment');
      return { id };
    });
    // An event stream takes the reply over and writes its own head.
    api.get('/v1/payments/:id/stream', async (_request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      reply.raw.end('event: payment\ndata: {}\n\n');
    });
    api.get('/v1/stream', { websocket: true }, (socket) => {
      calls.socket += 1;
      socket.close();
    });
    api.get('/v1/admin/tenants', { config: { admin: true } }, async () => {
      calls.admin += 1;
      return { data: [] };
    });
  });
  app.post('/webhooks/:connector', { config: { public: true } }, async () => {
    calls.webhook += 1;
    return { received: true };
  });
  app.get('/checkout/:id', { config: { public: true, page: true } }, async (_request, reply) => {
    calls.page += 1;
    return reply.type('text/html').send('<p>pay</p>');
  });
  await app.ready();
});

afterAll(() => app.close());

beforeEach(() => {
  for (const key of Object.keys(calls) as (keyof typeof calls)[]) calls[key] = 0;
});

const corsHeaders = (res: LightMyRequestResponse) =>
  Object.keys(res.headers).filter((name) => name.startsWith('access-control-'));

const preflight = (origin: string, url = '/v1/payments', requested?: string) =>
  app.inject({
    method: 'OPTIONS',
    url,
    headers: {
      origin,
      'access-control-request-method': 'POST',
      ...(requested ? { 'access-control-request-headers': requested } : {}),
    },
  });

const call = (method: 'GET' | 'POST', url: string, headers: Record<string, string>) =>
  app.inject({
    method,
    url,
    headers,
    ...(method === 'POST' ? { payload: { amount: 100 } } : {}),
  });

describe('preflight', () => {
  it('an origin some tenant allows: 204 echoing it, with the methods, the known headers asked for and a max age', async () => {
    const res = await preflight(SHOP, '/v1/payments', 'authorization, Content-Type,idempotency-key, x-evil');
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(SHOP);
    expect(res.headers.vary).toBe('Origin');
    expect(res.headers['access-control-allow-methods']).toBe('GET, POST, PATCH, PUT, DELETE');
    expect(res.headers['access-control-allow-headers']).toBe('Authorization, Content-Type, Idempotency-Key');
    expect(res.headers['access-control-max-age']).toBe('600');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(res.body).toBe('');
  });

  it('cannot know the tenant: an origin any tenant allows passes, on any path with a credential', async () => {
    const res = await preflight(OTHER, '/v1/payments/pay_1', 'last-event-id, prefer, traceparent');
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(OTHER);
    expect(res.headers['access-control-allow-headers']).toBe('Last-Event-ID, Prefer, traceparent');
    // No header asked for: none allowed.
    const bare = await preflight(SHOP_DEV, '/v1/payments/pay_1');
    expect(bare.headers['access-control-allow-origin']).toBe(SHOP_DEV);
    expect(bare.headers['access-control-allow-headers']).toBeUndefined();
  });

  it('an origin no tenant allows: 204 without any CORS header', async () => {
    const res = await preflight(EVIL, '/v1/payments', 'authorization');
    expect(res.statusCode).toBe(204);
    expect(corsHeaders(res)).toEqual([]);
    expect(res.headers.vary).toBeUndefined();
  });

  it('Origin: null is never allowed', async () => {
    const res = await preflight('null', '/v1/payments', 'authorization');
    expect(res.statusCode).toBe(204);
    expect(corsHeaders(res)).toEqual([]);
  });

  it('an OPTIONS that is not a preflight answers with Allow', async () => {
    const res = await app.inject({ method: 'OPTIONS', url: '/v1/payments' });
    expect(res.statusCode).toBe(204);
    expect(res.headers.allow).toBe('GET, HEAD, OPTIONS, POST');
    expect(corsHeaders(res)).toEqual([]);
  });

  it('leaves the 404 and 405 answers as they were (a known path lists OPTIONS in Allow)', async () => {
    const missing = await app.inject({ method: 'DELETE', url: '/v1/nothing-here' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().code).toBe('route_not_found');
    const unknownPreflight = await preflight(SHOP, '/v1/nothing-here');
    expect(unknownPreflight.statusCode).toBe(404);
    const wrongMethod = await app.inject({ method: 'DELETE', url: '/v1/payments' });
    expect(wrongMethod.statusCode).toBe(405);
    expect(wrongMethod.headers.allow).toBe('GET, HEAD, OPTIONS, POST');
  });
});

describe('actual requests with a credential', () => {
  it("the tenant's own origin: the answer carries the echoed origin, Vary and the exposed headers", async () => {
    const list = await call('GET', '/v1/payments', { origin: SHOP, authorization: 'Bearer shop' });
    expect(list.statusCode).toBe(200);
    expect(list.headers['access-control-allow-origin']).toBe(SHOP);
    expect(list.headers.vary).toBe('Origin');
    expect(list.headers['access-control-allow-credentials']).toBeUndefined();
    const exposed = String(list.headers['access-control-expose-headers']).split(', ');
    expect(exposed).toEqual(
      expect.arrayContaining(['Location', 'Retry-After', 'Idempotent-Replayed', 'X-RateLimit-Remaining']),
    );

    const create = await call('POST', '/v1/payments', { origin: SHOP_DEV, authorization: 'Bearer shop' });
    expect(create.statusCode).toBe(201);
    expect(create.headers['access-control-allow-origin']).toBe(SHOP_DEV);
    expect(create.headers.location).toBe('/v1/payments/pay_1');
    expect(calls).toMatchObject({ list: 1, create: 1 });
  });

  it('runs after auth: the check reads the tenant the auth hook set', async () => {
    // Were it before auth, the tenant would still be '' and every origin refused.
    const res = await call('GET', '/v1/payments', { origin: OTHER, authorization: 'Bearer other' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(OTHER);
  });

  it("an error after the check is readable by the tenant's origin", async () => {
    const res = await call('GET', '/v1/payments/pay_missing', { origin: SHOP, authorization: 'Bearer shop' });
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('payment_not_found');
    expect(res.headers['access-control-allow-origin']).toBe(SHOP);
  });

  it("another tenant's origin: 403 origin_not_allowed without CORS headers, and the handler never runs", async () => {
    for (const method of ['GET', 'POST'] as const) {
      const res = await call(method, '/v1/payments', { origin: OTHER, authorization: 'Bearer shop' });
      expect(res.statusCode).toBe(403);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json()).toMatchObject({
        code: 'origin_not_allowed',
        detail: expect.stringContaining(OTHER),
      });
      expect(corsHeaders(res)).toEqual([]);
    }
    expect(calls).toMatchObject({ list: 0, create: 0 });
  });

  it('an origin no tenant allows, and Origin: null, are refused too', async () => {
    for (const origin of [EVIL, 'null']) {
      const res = await call('POST', '/v1/payments', { origin, authorization: 'Bearer shop' });
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('origin_not_allowed');
      expect(corsHeaders(res)).toEqual([]);
    }
    expect(calls.create).toBe(0);
  });

  it('an admin route (no tenant) takes no cross-origin request', async () => {
    const res = await call('GET', '/v1/admin/tenants', { origin: SHOP, authorization: 'Bearer admin' });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('origin_not_allowed');
    expect(corsHeaders(res)).toEqual([]);
    expect(calls.admin).toBe(0);
    const direct = await call('GET', '/v1/admin/tenants', { authorization: 'Bearer admin' });
    expect(direct.statusCode).toBe(200);
  });

  it('a same-origin request is left alone', async () => {
    for (const origin of ['http://api.example', 'HTTP://API.example']) {
      const res = await call('POST', '/v1/payments', {
        host: 'api.example',
        origin,
        authorization: 'Bearer shop',
      });
      expect(res.statusCode).toBe(201);
      expect(corsHeaders(res)).toEqual([]);
    }
    // Another scheme or port is another origin.
    const https = await call('GET', '/v1/payments', {
      host: 'api.example',
      origin: 'https://api.example',
      authorization: 'Bearer shop',
    });
    expect(https.statusCode).toBe(403);
    expect(calls.create).toBe(2);
  });

  it('a request without Origin (a server, curl) is left alone', async () => {
    const res = await call('POST', '/v1/payments', { authorization: 'Bearer shop' });
    expect(res.statusCode).toBe(201);
    expect(corsHeaders(res)).toEqual([]);
    expect(res.headers.vary).toBeUndefined();
  });

  it('an event stream, which writes its own head, carries the headers', async () => {
    const res = await call('GET', '/v1/payments/pay_1/stream', {
      origin: SHOP,
      authorization: 'Bearer shop',
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/event-stream');
    expect(res.headers['access-control-allow-origin']).toBe(SHOP);
    expect(res.headers.vary).toBe('Origin');
    const refused = await call('GET', '/v1/payments/pay_1/stream', {
      origin: OTHER,
      authorization: 'Bearer shop',
    });
    expect(refused.statusCode).toBe(403);
  });

  it('a WebSocket upgrade from a disallowed origin is refused before the upgrade', async () => {
    const headers = { host: 'api.example', authorization: 'Bearer shop' };
    await expect(app.injectWS('/v1/stream', { headers: { ...headers, origin: OTHER } })).rejects.toThrow(
      'Unexpected server response: 403',
    );
    expect(calls.socket).toBe(0);
    const ws = await app.injectWS('/v1/stream', { headers: { ...headers, origin: SHOP } });
    await new Promise((resolve) => ws.once('close', resolve));
    expect(calls.socket).toBe(1);
  });
});

describe('errors answered before the check', () => {
  it('a 401 carries the CORS headers for an origin some tenant allows', async () => {
    for (const origin of [SHOP, OTHER]) {
      const res = await call('POST', '/v1/payments', { origin, authorization: 'Bearer nobody' });
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('unauthorized');
      expect(res.headers['access-control-allow-origin']).toBe(origin);
      expect(res.headers.vary).toBe('Origin');
    }
  });

  it('a 401 carries none for an origin no tenant allows, nor for Origin: null', async () => {
    for (const origin of [EVIL, 'null']) {
      const res = await call('GET', '/v1/payments', { origin });
      expect(res.statusCode).toBe(401);
      expect(corsHeaders(res)).toEqual([]);
    }
  });

  it("a 429 carries them too, with Retry-After readable; an unknown path's 404 likewise", async () => {
    const limited = await call('GET', '/v1/payments', {
      origin: SHOP,
      authorization: 'Bearer shop',
      'x-flood': '1',
    });
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['access-control-allow-origin']).toBe(SHOP);
    expect(String(limited.headers['access-control-expose-headers'])).toContain('Retry-After');
    const evil = await call('GET', '/v1/payments', {
      origin: EVIL,
      authorization: 'Bearer shop',
      'x-flood': '1',
    });
    expect(evil.statusCode).toBe(429);
    expect(corsHeaders(evil)).toEqual([]);
    const missing = await call('GET', '/v1/nothing-here', { origin: SHOP });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['access-control-allow-origin']).toBe(SHOP);
  });
});

describe('public routes and pages', () => {
  it('a gateway webhook and a customer page: no CORS header and no origin check', async () => {
    for (const origin of [SHOP, EVIL, 'null']) {
      const webhook = await call('POST', '/webhooks/stripe', { origin });
      expect(webhook.statusCode).toBe(200);
      expect(corsHeaders(webhook)).toEqual([]);
      const page = await call('GET', '/checkout/cs_1', { origin });
      expect(page.statusCode).toBe(200);
      expect(corsHeaders(page)).toEqual([]);
    }
    expect(calls).toMatchObject({ webhook: 3, page: 3 });
  });

  it('no preflight route beside them: a preflight there is refused', async () => {
    const res = await preflight(SHOP, '/webhooks/stripe', 'content-type');
    // The path has no OPTIONS: a 405 as any method it lacks, and no method or header allowed.
    expect(res.statusCode).toBe(405);
    expect(res.headers['access-control-allow-methods']).toBeUndefined();
    expect(res.headers['access-control-allow-headers']).toBeUndefined();
    expect(calls.webhook).toBe(0);
  });
});
