import { createHash } from 'node:crypto';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import underPressure from '@fastify/under-pressure';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import { PROBLEM_CONTENT_TYPE, ProblemError, problemBody } from '../problem.js';

export type ProtectionOptions = Pick<Config, 'apiKeys' | 'rateLimit' | 'pressure'>;

/** The bearer credential of a request, if any. */
function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  return header ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
}

/**
 * What protects the API from its callers and from itself:
 * - security headers (`@fastify/helmet`); no Content-Security-Policy, since the API answers JSON
 *   and the Swagger UI at /docs runs inline scripts;
 * - a rate limit per API key (`@fastify/rate-limit`): `RATE_LIMIT_MAX` requests per
 *   `RATE_LIMIT_WINDOW_MS`, or the tenant's own limit from `TENANT_RATE_LIMITS`; 429 problem+json
 *   with `Retry-After`. Keys are counted by a hash, never stored; a request without one counts
 *   by address. Health, metrics, docs and gateway webhooks are not limited: they have no key,
 *   and a gateway retrying its webhooks must not be turned away;
 * - load shedding (`@fastify/under-pressure`): 503 problem+json with `Retry-After` while the
 *   event loop lags or memory is past its limit, so a saturated process answers fast instead of
 *   queueing work it cannot finish.
 * Counters live in each API process: N processes behind a balancer allow up to N times the limit.
 */
export const protectionPlugin = fp(
  async (app: FastifyInstance, options: ProtectionOptions) => {
    await app.register(helmet, { contentSecurityPolicy: false, global: true });

    const { max, windowMs, perTenant } = options.rateLimit;
    await app.register(rateLimit, {
      global: true,
      timeWindow: windowMs,
      hook: 'onRequest',
      keyGenerator: (request) => {
        const key = bearer(request);
        return key
          ? `key:${createHash('sha256').update(key).digest('hex').slice(0, 32)}`
          : `ip:${request.ip}`;
      },
      max: (request) => {
        const key = bearer(request);
        const tenant = key ? options.apiKeys.get(key) : undefined;
        return (tenant !== undefined ? perTenant.get(tenant) : undefined) ?? max;
      },
      allowList: (request) => {
        const url = request.routeOptions.url ?? '';
        return Boolean(request.routeOptions.config.public) || url.startsWith('/docs') || url === '/metrics';
      },
      errorResponseBuilder: (_request, context) =>
        new ProblemError(
          429,
          'rate_limited',
          `more than ${context.max} requests in ${Math.round(windowMs / 1000)} s for this API key; retry after ${context.after}`,
          {},
          { 'Retry-After': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
        ),
    });

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
