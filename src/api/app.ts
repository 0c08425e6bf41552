import type { Client } from '@temporalio/client';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from '../config.js';
import type { Database } from '../db/client.js';
import { authPlugin } from './plugins/auth.js';
import { docsPlugin } from './plugins/docs.js';
import { clientErrorHandler, errorsPlugin, frameworkErrors } from './plugins/errors.js';
import { servicesPlugin } from './plugins/services.js';
import { ProblemError } from './problem.js';
import { healthRoutes } from './routes/health.js';
import { paymentRoutes } from './routes/payments.js';
import { refundRoutes } from './routes/refunds.js';
import { walletRoutes } from './routes/wallets.js';
import { webhookRoutes } from './routes/webhooks.js';

export interface AppDeps {
  config: Config;
  db: Database;
  temporal: Client;
  logger?: boolean;
}

export async function buildApp({ config, db, temporal, logger }: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: logger === false ? false : { level: config.logLevel },
    bodyLimit: 64 * 1024,
    // Return 400s for these rather than silently coercing.
    ajv: { customOptions: { coerceTypes: false } },
    // Errors answered before a route runs (bad percent-encoding, over-long parameters, headers
    // too large) leave as problem+json too.
    frameworkErrors,
    clientErrorHandler,
    // As long as the longest path parameter the schemas accept (external ids: 200 characters),
    // so a schema-valid id is never refused by the router; longer ones are a 400.
    routerOptions: { maxParamLength: 200 },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // The API speaks JSON only; anything else is a 415, not a string handed to the schema.
  app.removeContentTypeParser('text/plain');
  // PostgreSQL cannot store U+0000 in text: refuse it in the path and query string up front.
  app.addHook('preValidation', async (request: FastifyRequest) => {
    const errors = [...nulErrors('params', request.params), ...nulErrors('querystring', request.query)];
    if (errors.length > 0) throw invalidCharacters(errors);
  });

  await app.register(errorsPlugin);
  await app.register(servicesPlugin, { config, db, temporal });
  await app.register(authPlugin, { apiKeys: config.apiKeys, adminKeys: config.adminKeys });
  await app.register(docsPlugin);
  await app.register(async (api) => {
    // Strict JSON for the API routes. Encapsulated, so the webhook route below keeps its own
    // raw-bytes parser for signature checks.
    api.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, parseJsonBody(body as string));
      } catch (error) {
        done(error as Error, undefined);
      }
    });
    await api.register(healthRoutes);
    await api.register(paymentRoutes);
    await api.register(refundRoutes);
    await api.register(walletRoutes);
  });
  await app.register(webhookRoutes);
  return app;
}

interface FieldError {
  path: string;
  message: string;
}

const NUL_MESSAGE = 'must not contain the NUL character (U+0000)';

function invalidCharacters(errors: FieldError[]): ProblemError {
  return new ProblemError(400, 'validation_error', 'the request does not match the schema', { errors });
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

/** One string token of JSON text, starting at `lastIndex`; the text has already been parsed. */
const STRING_TOKEN = /"[^"\\]*(?:\\.[^"\\]*)*"/y;
const FORBIDDEN_KEY_DETAIL =
  'is not allowed in a JSON body: it could change object prototypes (prototype pollution)';

interface Frame {
  /** Keys seen so far; null for an array. */
  keys: Set<string> | null;
  /** The key of the member being read (objects) or the element index (arrays). */
  key: string;
  index: number;
  path: string;
  /** The key this object is the value of, for `constructor.prototype`. */
  parentKey: string | undefined;
}

const isJsonSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function invalidJson(detail: string, path: string, message: string): ProblemError {
  return new ProblemError(400, 'invalid_json', detail, { errors: [{ path, message }] });
}

/**
 * The API's JSON body parser: JSON.parse once, then one linear pass over the text that refuses
 * what JSON.parse lets through silently: a key given twice (JSON.parse keeps the last one, so
 * two readers of one body could see two different requests), `__proto__` and
 * `constructor.prototype` keys, and NUL characters in strings (PostgreSQL cannot store them).
 */
export function parseJsonBody(raw: string): unknown {
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  if (text.trim() === '')
    throw new ProblemError(400, 'invalid_json', "the body is empty but content-type is 'application/json'");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ProblemError(400, 'invalid_json', `the body is not valid JSON: ${(error as Error).message}`);
  }
  // Without a string, there is no key and no text to check.
  if (!text.includes('"')) return value;

  const stack: Frame[] = [];
  const memberPath = (frame: Frame | undefined) =>
    !frame ? 'body' : frame.keys ? `${frame.path}.${frame.key}` : `${frame.path}[${frame.index}]`;
  for (let i = 0; i < text.length;) {
    const c = text.charCodeAt(i);
    const top = stack.at(-1);
    if (c === 0x22 /* " */) {
      STRING_TOKEN.lastIndex = i;
      const token = STRING_TOKEN.exec(text)![0];
      i += token.length;
      const content = token.includes('\\') ? (JSON.parse(token) as string) : token.slice(1, -1);
      let j = i;
      while (isJsonSpace(text.charCodeAt(j))) j++;
      if (top?.keys && text.charCodeAt(j) === 0x3a /* : */) {
        const shown = JSON.stringify(content);
        if (content === '__proto__')
          throw invalidJson(
            `the key "__proto__" ${FORBIDDEN_KEY_DETAIL}`,
            top.path,
            'forbidden key __proto__',
          );
        if (content === 'prototype' && top.parentKey === 'constructor')
          throw invalidJson(
            `the key "constructor.prototype" ${FORBIDDEN_KEY_DETAIL}`,
            top.path,
            'forbidden key constructor.prototype',
          );
        if (top.keys.has(content))
          throw invalidJson(
            `the key ${shown} appears more than once in ${top.path}; JSON keys must be unique`,
            `${top.path}.${content}`,
            'duplicate key',
          );
        if (content.includes('\0'))
          throw invalidCharacters([
            { path: `${top.path}.${content.replaceAll('\0', '\\u0000')}`, message: NUL_MESSAGE },
          ]);
        top.keys.add(content);
        top.key = content;
      } else if (content.includes('\0')) {
        throw invalidCharacters([{ path: memberPath(top), message: NUL_MESSAGE }]);
      }
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push({
        keys: c === 0x7b ? new Set() : null,
        key: '',
        index: 0,
        path: memberPath(top),
        parentKey: top?.keys ? top.key : undefined,
      });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
    } else if (c === 0x2c /* , */ && top && !top.keys) {
      top.index++;
    }
    i++;
  }
  return value;
}
