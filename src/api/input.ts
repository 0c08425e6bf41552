import type { FastifyInstance, FastifyRequest } from 'fastify';
import { invalidCharacters, NUL_MESSAGE, parseJsonBody, type FieldError } from '../app/json-body.js';

/**
 * What the API accepts as input beyond its schemas: strict JSON bodies and no NUL in the path
 * or query string (PostgreSQL cannot store U+0000 in text).
 */
export function refuseNulInUrl(app: FastifyInstance): void {
  app.addHook('preValidation', async (request: FastifyRequest) => {
    const errors = [...nulErrors('params', request.params), ...nulErrors('querystring', request.query)];
    if (errors.length > 0) throw invalidCharacters(errors);
  });
}

/** Strict JSON for the routes of `app` (encapsulated: webhooks keep their raw-bytes parser). */
export function strictJsonBodies(app: FastifyInstance): void {
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}

function nulErrors(context: string, values: unknown): FieldError[] {
  if (!values || typeof values !== 'object') return [];
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(values)) {
    const items: unknown[] = Array.isArray(value) ? value : [value];
    if (key.includes('\0') || items.some((item) => typeof item === 'string' && item.includes('\0')))
      errors.push({ path: `${context}.${key.replaceAll('\0', '\\u0000')}`, message: NUL_MESSAGE });
  }
  return errors;
}
