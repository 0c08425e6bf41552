import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { AppError } from '../../app/errors.js';
import { unavailableError } from '../../app/dependencies.js';
import {
  PROBLEM_CONTENT_TYPE,
  ProblemError,
  problemBody,
  problemFromAppError,
  type Problem,
} from '../problem.js';

/** Fastify's own client errors, mapped onto stable problem codes. */
const FASTIFY_CODES: Record<string, { status: number; code: string; detail?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_json' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_request' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'body_too_large' },
  // Raised by the router before any route runs (see `frameworkErrors` below).
  FST_ERR_BAD_URL: {
    status: 400,
    code: 'invalid_url',
    detail: 'the URL is not valid: a path segment has malformed percent-encoding',
  },
  // A path parameter over the router's maxParamLength (app.ts): as any over-long field, a 400.
  FST_ERR_MAX_PARAM_LENGTH: {
    status: 400,
    code: 'validation_error',
    detail: 'a path parameter is longer than the API accepts',
  },
};

/** The problem for an error Fastify raised on its own (router, body parser), if it is one we know. */
function fastifyProblem(error: FastifyError): Problem | undefined {
  const known = error.code ? FASTIFY_CODES[error.code] : undefined;
  return known ? problemBody(known.status, known.code, known.detail ?? error.message) : undefined;
}

/**
 * Fastify's `frameworkErrors` option: errors the router raises before a route (and so before the
 * error handler) is chosen, such as a path that is not valid percent-encoding (`/v1/payments/%zz`)
 * or a parameter over `maxParamLength`. Without this they leave as Fastify's own
 * `application/json` bodies.
 */
export function frameworkErrors(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  let problem = fastifyProblem(error);
  if (!problem) {
    request.log.error({ err: error }, 'router error');
    problem = problemBody(500, 'internal_error', 'an unexpected error occurred; it has been logged');
  }
  void reply.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

/** What Node's HTTP parser reports on a connection, mapped onto problems. */
const CONNECTION_ERRORS: Record<string, { status: number; code: string; detail: string }> = {
  HPE_HEADER_OVERFLOW: {
    status: 431,
    code: 'headers_too_large',
    detail: 'the request line and headers exceed the size the server accepts',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    status: 408,
    code: 'request_timeout',
    detail: 'the request was not received in time',
  },
};

/**
 * Fastify's `clientErrorHandler` option: Node's HTTP parser refused the request (headers or URL
 * too large, malformed HTTP) before Fastify saw it. Answers with a problem and closes the
 * connection, as Node and Fastify do by default, but with a problem+json body.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const known = error.code ? CONNECTION_ERRORS[error.code] : undefined;
  const problem = known
    ? problemBody(known.status, known.code, known.detail)
    : problemBody(400, 'malformed_request', 'the request is not valid HTTP/1.1');
  const body = JSON.stringify(problem);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${problem.status} ${problem.title}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy(error);
}

/** `/v1/payments/:id/refunds` as a regular expression over request paths. */
function routePattern(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) =>
      segment.startsWith(':')
        ? '[^/]+'
        : segment === '*'
          ? '.*'
          : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${source}$`);
}

/**
 * One error handler for the whole API: every error leaves as application/problem+json, and a
 * 5xx never carries the internal message. Errors Fastify answers before a route runs go through
 * `frameworkErrors` and `clientErrorHandler` above (wired in app.ts).
 */
export const errorsPlugin = fp(
  async (app: FastifyInstance) => {
    // A known path with a method it does not have is a 405 with Allow, not a 404 (nor a 400 for
    // a body-carrying method such as QUERY without a content type): checked before the body.
    const routes = new Map<string, { pattern: RegExp; methods: Set<string> }>();
    app.addHook('onRoute', (route) => {
      let entry = routes.get(route.url);
      if (!entry) {
        entry = { pattern: routePattern(route.url), methods: new Set() };
        routes.set(route.url, entry);
      }
      for (const method of [route.method].flat()) entry.methods.add(method.toUpperCase());
      if (entry.methods.has('GET')) entry.methods.add('HEAD');
    });
    app.addHook('onRequest', async (request) => {
      if (!request.is404) return;
      const path = request.url.split('?')[0]!;
      const allowed = new Set<string>();
      for (const { pattern, methods } of routes.values())
        if (pattern.test(path)) methods.forEach((m) => allowed.add(m));
      if (allowed.size > 0 && !allowed.has(request.method)) {
        const allow = [...allowed].sort().join(', ');
        throw new ProblemError(
          405,
          'method_not_allowed',
          `${request.method} is not allowed on ${path}; allowed: ${allow}`,
          {},
          { Allow: allow },
        );
      }
    });

    app.setErrorHandler((error: FastifyError, request, reply) => {
      let problem: Problem;
      let outage: AppError | undefined;
      const known = fastifyProblem(error);
      if (error instanceof ProblemError || error instanceof AppError) {
        const refusal = error instanceof AppError ? problemFromAppError(error) : error;
        problem = refusal.toProblem();
        void reply.headers(refusal.headers);
      } else if (hasZodFastifySchemaValidationErrors(error)) {
        problem = {
          ...problemBody(400, 'validation_error', 'the request does not match the schema'),
          errors: error.validation.map((issue) => ({
            path: `${error.validationContext ?? 'body'}${issue.instancePath.replaceAll('/', '.')}`,
            message: issue.message ?? 'invalid value',
          })),
        };
      } else if (known) {
        problem = known;
      } else if (
        error.code === 'FST_ERR_VALIDATION' ||
        (error.statusCode && error.statusCode >= 400 && error.statusCode < 500)
      ) {
        problem = problemBody(error.statusCode ?? 400, 'invalid_request', error.message);
      } else if ((outage = unavailableError(error))) {
        // A dependency outage is not a bug: a fast 503 the client may retry, not a masked 500.
        const refusal = problemFromAppError(outage);
        problem = refusal.toProblem();
        void reply.headers(refusal.headers);
        request.log.warn({ dependency: outage.extensions.dependency, err: error }, 'dependency unavailable');
      } else {
        if (isResponseSerializationError(error))
          request.log.error({ issues: error.cause.issues }, 'response schema mismatch');
        request.log.error({ err: error }, 'unhandled error');
        problem = problemBody(500, 'internal_error', 'an unexpected error occurred; it has been logged');
      }
      return reply.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
    });

    app.setNotFoundHandler((request, reply) =>
      reply
        .status(404)
        .type(PROBLEM_CONTENT_TYPE)
        .send(
          problemBody(
            404,
            'route_not_found',
            `${request.method} ${request.url.split('?')[0]} is not a route`,
          ),
        ),
    );
  },
  { name: 'errors' },
);
