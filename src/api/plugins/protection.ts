import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import type { IdentityDirectory } from '../../app/identity.js';
import { fingerprintOf as hashed, type CredentialCheck } from '../identify.js';
import { PROBLEM_CONTENT_TYPE, ProblemError, problemBody } from '../problem.js';
import { ANONYMOUS_PREFIX, PAGES_PREFIX, SplitRateLimitStore } from './rate-limit-store.js';

export type ProtectionOptions = Pick<Config, 'rateLimit' | 'pressure'> & {
  credentials: CredentialCheck;
  identity: Pick<IdentityDirectory, 'rateLimitOf'>;
};

/**
 * What protects the API from its callers and from itself:
 * - security headers (`@fastify/helmet`); no Content-Security-Policy, since the API answers JSON
 *   and the Swagger UI at /docs runs inline scripts;
 * - a rate limit per API key (`@fastify/rate-limit`): `RATE_LIMIT_MAX` requests per
 *   `RATE_LIMIT_WINDOW_MS`, or the tenant's own limit (its settings, else `TENANT_RATE_LIMITS`); per customer
 *   (a valid customer token) the same `RATE_LIMIT_MAX`; 429 problem+json with `Retry-After`.
 *   Keys are counted by a hash, never stored. A request without a valid credential (none, an
 *   unknown key, a bad token) counts by client address, `RATE_LIMIT_ANONYMOUS_MAX` per window,
 *   in a bucket space of its own ({@link SplitRateLimitStore}): guessing keys is slow, and it
 *   cannot evict a tenant's counter. The customer's pages (checkout, the return page, payment
 *   links: routes with `config.page`) count by address too, `RATE_LIMIT_PAGES_MAX` per window in
 *   buckets of their own, so a customer paying spends nothing of the key-guessing budget and a
 *   flood of page requests is turned away before it opens sessions. Health, metrics, docs and
 *   gateway webhooks are not limited: they have no key, and a gateway retrying its webhooks must
 *   not be turned away;
 * - load shedding (`@fastify/under-pressure`): 503 problem+json with `Retry-After` while the
 *   event loop lags or memory is past its limit, so a saturated process answers fast instead of
 *   queueing work it cannot finish.
 * Counters live in each API process: N processes behind a balancer allow up to N times the limit.
 */
export const protectionPlugin = fp(
  async (app: FastifyInstance, options: ProtectionOptions) => {
    await app.register(helmet, { contentSecurityPolicy: false, global: true });

    const { max, anonymousMax, pagesMax, windowMs } = options.rateLimit;
    /** The bucket a request counts in: its valid credential's, or its address's. */
    const anonymous = new WeakSet<FastifyRequest>();
    /** The tenant whose own limit a bucket has, by request. */
    const tenantOf = new WeakMap<FastifyRequest, string>();
    const bucketOf = async (request: FastifyRequest): Promise<string> => {
      if (request.routeOptions.config.page) return `${PAGES_PREFIX}${request.ip}`;
      const credential = await options.credentials.of(request);
      switch (credential.kind) {
        case 'admin_key':
          return `key:${credential.fingerprint}`;
        case 'api_key':
          if (credential.check.status !== 'ok') break;
          tenantOf.set(request, credential.check.tenantId);
          return `key:${credential.fingerprint}`;
        case 'customer_token':
          return `customer:${hashed(`${credential.claims.tenantId}/${credential.claims.customerId}`)}`;
        case 'tenant_jwt': {
          if (!('ok' in credential.verdict)) break;
          const identity = credential.verdict.ok;
          if (identity.role === 'customer')
            return `customer:${hashed(`${identity.tenantId}/${identity.customerId}`)}`;
          tenantOf.set(request, identity.tenantId);
          return `jwt:${hashed(`${identity.tenantId}/${identity.subject}`)}`;
        }
        case 'none':
          break;
      }
      anonymous.add(request);
      return `${ANONYMOUS_PREFIX}${request.ip}`;
    };
    const callerOf = (request: FastifyRequest) => {
      if (request.routeOptions.config.page) return 'to these pages from this address';
      return anonymous.has(request) ? 'from this address without a valid API key' : 'for this API key';
    };
    await app.register(rateLimit, {
      // Not per route: a route's hooks run after the app's, so a request the auth hook refuses
      // (a guessed key) would never be counted. The app-level hook below runs before auth.
      global: false,
      timeWindow: windowMs,
      hook: 'onRequest',
      store: SplitRateLimitStore,
      keyGenerator: bucketOf,
      max: (request, bucket) => {
        if (bucket.startsWith(PAGES_PREFIX)) return pagesMax;
        if (bucket.startsWith(ANONYMOUS_PREFIX)) return anonymousMax;
        const tenant = tenantOf.get(request);
        return (tenant !== undefined ? options.identity.rateLimitOf(tenant) : undefined) ?? max;
      },
      allowList: (request) => {
        const url = request.routeOptions.url ?? '';
        const { public: open, page } = request.routeOptions.config;
        return (Boolean(open) && !page) || url.startsWith('/docs') || url === '/metrics';
      },
      errorResponseBuilder: (request, context) =>
        new ProblemError(
          429,
          'rate_limited',
          `more than ${context.max} requests in ${Math.round(windowMs / 1000)} s ${callerOf(request)}; retry after ${context.after}`,
          {},
          { 'Retry-After': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
        ),
    });

    app.addHook('onRequest', app.rateLimit());

    const { maxEventLoopDelayMs, maxHeapBytes, maxRssBytes } = options.pressure;
    await app.register(underPressure, {
      maxEventLoopDelay: maxEventLoopDelayMs,
      maxHeapUsedBytes: maxHeapBytes,
      maxRssBytes,
      retryAfter: 5,
      pressureHandler: (_request, reply, type, value) => {
        void reply
          .status(503)
          .header('Retry-After', '5')
          .type(PROBLEM_CONTENT_TYPE)
          .send(
            problemBody(503, 'overloaded', `the API is saturated (${type}: ${String(value)}); retry shortly`),
          );
      },
    });
  },
  { name: 'paysaga-protection' },
);
