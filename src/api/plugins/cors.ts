import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ProblemError } from '../problem.js';

/** Which browser origins may call the API, as the tenants' settings (`corsOrigins`) say. */
export interface CorsPolicy {
  /** The origins tenant `tenantId` allows (empty for none or an unknown tenant). */
  originsOf(tenantId: string): readonly string[];
  /** Whether any tenant allows this origin (what a preflight, which carries no credential, can know). */
  allowedAnywhere(origin: string): boolean;
}

export interface CorsOptions {
  policy: CorsPolicy;
  /** The API's public URL (`PUBLIC_URL`): requests from its origin are same-origin. */
  publicUrl?: string | undefined;
}

/** The methods a browser page may call across origins (GET and HEAD need no preflight). */
const ALLOWED_METHODS = 'GET, POST, PATCH, PUT, DELETE';

/**
 * The request headers the API reads: the credential, the JSON body's type, `Idempotency-Key`,
 * an event stream's `Last-Event-ID`, `Prefer: respond-async` (payments, refunds) and the W3C
 * trace context a traced browser app sends. A preflight asking for anything else is answered
 * without it, and the browser does not send the request.
 */
const ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'Idempotency-Key',
  'Last-Event-ID',
  'Prefer',
  'traceparent',
  'tracestate',
];
const ALLOWED_HEADER_BY_NAME = new Map(ALLOWED_HEADERS.map((name) => [name.toLowerCase(), name]));

/**
 * The response headers a browser app may read besides the CORS-safelisted ones: where a created
 * resource is, when to retry (429, 409 in flight, 503), whether an answer is an
 * `Idempotency-Key` replay, the rate limit's counters and the trace the request ran in.
 */
const EXPOSED_HEADERS = [
  'Location',
  'Retry-After',
  'Idempotent-Replayed',
  'X-RateLimit-Limit',
  'X-RateLimit-Remaining',
  'X-RateLimit-Reset',
  'traceparent',
].join(', ');

/** How long a browser may reuse a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE = '600';

/** What the origin check decided for a request that reached it. */
type Verdict = 'allowed' | 'refused';

/**
 * Cross-origin requests from browser pages (CORS), per tenant: each tenant lists the origins its
 * browser apps run on (`settings.corsOrigins`, exact origins, no wildcards).
 *
 * A request is cross-origin when its `Origin` is not the request's own origin
 * (`<protocol>://<Host>`, as Fastify reads them: behind a proxy that terminates TLS, only with
 * `trustProxy` does the protocol read `https`). Requests without `Origin` (servers, curl) and
 * same-origin requests are left alone. `Origin: null` (sandboxed frames, `file:` pages, some
 * redirects) is cross-origin and never allowed: any page can send it.
 *
 * - Preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`): it carries no
 *   credential, so it cannot know the tenant; it is allowed when any tenant allows the origin.
 *   Allowed: 204 echoing the origin (never `*`), the methods, the requested headers the API reads
 *   (an allow-list) and a max age. Refused: 204 with no CORS header, and the browser does not
 *   send the request. An `OPTIONS` that is not a preflight answers 204 with `Allow`.
 * - Actual request on a route with a credential: checked once the auth hook has found the tenant
 *   (this plugin is registered after `auth`, so its `onRequest` hook runs after auth's). The
 *   tenant allows the origin: the answer carries `Access-Control-Allow-Origin`, `Vary: Origin`
 *   and `Access-Control-Expose-Headers`. It does not: 403 `origin_not_allowed` with no CORS
 *   header, before the handler runs. Refusing, not only withholding the headers, matters: a
 *   "simple" request (a form-encoded POST, a GET) is sent without preflight, and the browser's
 *   refusal to show the answer would come after the API had acted. This is what keeps an origin
 *   that another tenant allows (and so passes the preflight) from using this tenant's
 *   credential. Admin routes have no tenant and take no cross-origin request.
 * - WebSocket upgrades carry `Origin` and are not subject to CORS in the browser: the same check
 *   refuses a disallowed origin with the 403 before the upgrade (cross-site WebSocket hijacking).
 * - Errors answered before the check (a 401 from auth, a 429 from the rate limit, a 503 under
 *   pressure, a 404 or 405): they carry the CORS headers when some tenant allows the origin, so
 *   the browser app can read why it failed (the tenant is unknown at that point). They are
 *   added in `onSend`, which every reply Fastify sends passes through, and only to error
 *   statuses: a success is never answered to an origin the check did not allow.
 * - Public routes (gateway webhooks, health, docs) and the customer's pages: no CORS header and
 *   no origin check; they are not called by a tenant's browser app.
 *
 * Never `Access-Control-Allow-Credentials`: the API's credentials are bearer headers a script
 * sets, not cookies, so the browser needs no permission to send them.
 *
 * Preflights are answered by an `OPTIONS` route added beside each route that takes a
 * credential (as the routes are registered after this plugin). Not one `OPTIONS *` route: the
 * errors plugin's 405 check records every route's path and methods, and a wildcard path would
 * make every unknown path a 405 instead of a 404. A known path's `Allow` lists `OPTIONS` too.
 */
export const corsPlugin = fp(
  async (app: FastifyInstance, options: CorsOptions) => {
    const { policy } = options;
    const publicOrigin = options.publicUrl ? new URL(options.publicUrl).origin.toLowerCase() : undefined;
    const verdicts = new WeakMap<FastifyRequest, Verdict>();
    /** Each route's path and its methods (for a plain `OPTIONS`'s `Allow`). */
    const methodsOf = new Map<string, Set<string>>();
    /** The paths that have an `OPTIONS` route. */
    const preflighted = new Set<string>();

    const allowedAnywhere = (origin: string) => origin !== 'null' && policy.allowedAnywhere(origin);

    app.addHook('onRoute', (route) => {
      const methods = methodsOf.get(route.url) ?? new Set<string>();
      methodsOf.set(route.url, methods);
      for (const method of [route.method].flat()) methods.add(method.toUpperCase());
      if (methods.has('GET')) methods.add('HEAD');
      if (preflighted.has(route.url) || !takesCredential(route.url, route.config ?? {})) return;
      preflighted.add(route.url);
      if (methods.has('OPTIONS')) return;
      methods.add('OPTIONS');
      app.route({
        method: 'OPTIONS',
        url: route.url,
        config: { public: true },
        schema: { hide: true },
        handler: async (request, reply) => {
          const origin = crossOrigin(request, publicOrigin);
          const method = request.headers['access-control-request-method'];
          if (origin === undefined || method === undefined)
            return reply
              .status(204)
              .header('Allow', [...methods].sort().join(', '))
              .send();
          if (!allowedAnywhere(origin)) return reply.status(204).send();
          const headers = requestedHeaders(request.headers['access-control-request-headers']);
          void reply
            .status(204)
            .header('Access-Control-Allow-Origin', origin)
            .header('Vary', withOrigin(reply.getHeader('vary')))
            .header('Access-Control-Allow-Methods', ALLOWED_METHODS)
            .header('Access-Control-Max-Age', PREFLIGHT_MAX_AGE);
          if (headers) void reply.header('Access-Control-Allow-Headers', headers);
          return reply.send();
        },
      });
    });

    app.addHook('onRequest', async (request, reply) => {
      const origin = crossOrigin(request, publicOrigin);
      const url = request.routeOptions.url;
      // No route (a 404, a 405): an error answered as one before the check, in onSend.
      if (origin === undefined || url === undefined || !takesCredential(url, request.routeOptions.config))
        return;
      const { tenantId } = request;
      if (origin === 'null' || tenantId === '' || !policy.originsOf(tenantId).includes(origin)) {
        verdicts.set(request, 'refused');
        throw new ProblemError(
          403,
          'origin_not_allowed',
          tenantId === ''
            ? `admin routes take no cross-origin request (Origin: ${origin})`
            : `the origin ${origin} is not among this tenant's allowed origins (its settings' corsOrigins)`,
        );
      }
      verdicts.set(request, 'allowed');
      // On the raw response as well: an event stream takes the reply over and writes its head
      // itself, without the headers Fastify keeps; Node merges these into any head written.
      const raw = reply.raw;
      raw.setHeader('Access-Control-Allow-Origin', origin);
      raw.setHeader('Vary', withOrigin(raw.getHeader('vary')));
      raw.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    });

    app.addHook('onSend', async (request, reply, payload) => {
      const origin = crossOrigin(request, publicOrigin);
      if (origin === undefined) return payload;
      const url = request.routeOptions.url;
      if (url !== undefined && !takesCredential(url, request.routeOptions.config)) return payload;
      const verdict = verdicts.get(request);
      if (verdict === 'refused') return payload;
      if (verdict === undefined && !(reply.statusCode >= 400 && allowedAnywhere(origin))) return payload;
      // Also when allowed: a header the route set itself (Vary) would replace the raw one.
      void reply
        .header('Access-Control-Allow-Origin', origin)
        .header('Vary', withOrigin(reply.getHeader('vary')))
        .header('Access-Control-Expose-Headers', EXPOSED_HEADERS);
      return payload;
    });
  },
  { name: 'cors', dependencies: ['auth'] },
);

/**
 * Whether a route takes a credential, as the auth hook decides: public routes (webhooks, health),
 * the customer's pages and the docs do not, and are no browser app's business.
 */
function takesCredential(url: string, config: { public?: boolean; page?: boolean }): boolean {
  return !config.public && !config.page && !url.startsWith('/docs');
}

/**
 * The request's `Origin` when it is neither the request's own origin nor the API's public one
 * (`PUBLIC_URL`, which names it behind a proxy that terminates TLS); undefined otherwise.
 */
function crossOrigin(request: FastifyRequest, publicOrigin: string | undefined): string | undefined {
  const origin = request.headers.origin;
  if (origin === undefined || origin === '') return undefined;
  const own = `${request.protocol}://${request.host}`.toLowerCase();
  const lower = origin.toLowerCase();
  return lower === own || lower === publicOrigin ? undefined : origin;
}

/** The headers a preflight asks for that the API reads, as the allow-list spells them. */
function requestedHeaders(header: string | string[] | undefined): string | undefined {
  const names = [header ?? []]
    .flat()
    .flatMap((value) => value.split(','))
    .map((name) => ALLOWED_HEADER_BY_NAME.get(name.trim().toLowerCase()))
    .filter((name): name is string => name !== undefined);
  return names.length > 0 ? [...new Set(names)].join(', ') : undefined;
}

/** A `Vary` value that includes `Origin`, keeping what was there. */
function withOrigin(vary: ReturnType<FastifyReply['getHeader']>): string {
  const values = [vary ?? []]
    .flat()
    .flatMap((value) => String(value).split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
  if (values.some((value) => value === '*' || value.toLowerCase() === 'origin')) return values.join(', ');
  return [...values, 'Origin'].join(', ');
}
