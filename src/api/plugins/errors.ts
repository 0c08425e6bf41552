import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { PROBLEM_CONTENT_TYPE, ProblemError, problemBody, type Problem } from '../problem.js';

/** Fastify's own client errors, mapped onto stable problem codes. */
const FASTIFY_CODES: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'invalid_json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_json' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_request' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'body_too_large' },
};

/**
 * One error handler for the whole API: every error leaves as application/problem+json, and a
 * 5xx never carries the internal message.
 */
export const errorsPlugin = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((error: FastifyError, request, reply) => {
      let problem: Problem;
      if (error instanceof ProblemError) {
        problem = error.toProblem();
        void reply.headers(error.headers);
      } else if (hasZodFastifySchemaValidationErrors(error)) {
        problem = {
          ...problemBody(400, 'validation_error', 'the request does not match the schema'),
          errors: error.validation.map((issue) => ({
            path: `${error.validationContext ?? 'body'}${issue.instancePath.replaceAll('/', '.')}`,
            message: issue.message ?? 'invalid value',
          })),
        };
      } else if (error.code && FASTIFY_CODES[error.code]) {
        const known = FASTIFY_CODES[error.code]!;
        problem = problemBody(known.status, known.code, error.message);
      } else if (
        error.code === 'FST_ERR_VALIDATION' ||
        (error.statusCode && error.statusCode >= 400 && error.statusCode < 500)
      ) {
        problem = problemBody(error.statusCode ?? 400, 'invalid_request', error.message);
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
