import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { IdempotencyKeys, IdempotencyScope } from '../../app/idempotency.js';
import { isSealed, type SecretBox } from '../../webhooks/secrets.js';
import { canonicalJson, sha256 } from '../../hash.js';
import { PROBLEM_CONTENT_TYPE, ProblemError } from '../problem.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route honours `Idempotency-Key` (every POST that changes something). */
    idempotent?: boolean;
    /** Top-level fields of the answer that are secrets: its Idempotency-Key record keeps them sealed. */
    secretFields?: readonly string[];
    /**
     * A recorded `202` (accepted, still running) replayed later answers what the resource is
     * now, as this says (the status and body the route would answer for it), instead of a
     * stale `processing`.
     */
    replayAccepted?: (
      request: FastifyRequest,
      recorded: unknown,
    ) => Promise<{ status: number; body: unknown }>;
  }
  interface FastifyRequest {
    /** The key this request holds until its answer is recorded. */
    idempotencyScope?: IdempotencyScope | undefined;
  }
}

export interface IdempotencyOptions {
  keys: IdempotencyKeys;
  ttlHours: number;
  leaseSeconds: number;
  /** How often this process deletes expired keys (0: never). */
  sweepIntervalMs: number;
  /** Seals `secretFields` in the records. */
  box: SecretBox;
}

const MAX_KEY_LENGTH = 255;
/** Expired keys deleted per sweep: one short statement, however many expired meanwhile. */
const SWEEP_BATCH = 1000;

/**
 * `Idempotency-Key` for every route with `config: { idempotent: true }`: same key and request →
 * the stored response again (`Idempotent-Replayed: true`); same key, other request → 422; same
 * key still running → 409 with Retry-After. The key is claimed after validation (a malformed body
 * never burns it) and settled when the answer is sent: 2xx and 4xx are kept, 5xx release it.
 */
export const idempotencyPlugin = fp(
  async (app: FastifyInstance, options: IdempotencyOptions) => {
    app.decorateRequest('idempotencyScope', undefined);

    // Counted when the app has metrics (a test may register this plugin alone).
    const metrics = app.hasDecorator('metrics') ? app.metrics : undefined;
    app.addHook('preHandler', async (request, reply) => {
      if (!request.routeOptions.config.idempotent) return;
      const header = request.headers['idempotency-key'];
      if (header === undefined) return;
      if (typeof header !== 'string' || header.length === 0 || header.length > MAX_KEY_LENGTH) {
        throw new ProblemError(
          400,
          'invalid_idempotency_key',
          `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} characters`,
        );
      }
      const scope = {
        tenantId: request.tenantId,
        route: `${request.method} ${request.routeOptions.url}`,
        key: header,
      };
      const hash = sha256(canonicalJson({ params: request.params, body: request.body ?? null }));
      const claim = await options.keys.claim(scope, hash, options.ttlHours, options.leaseSeconds);
      const route = request.routeOptions.url ?? '';
      switch (claim.kind) {
        case 'mismatch':
          metrics?.idempotencyConflicts.inc({ route, reason: 'reused' });
          throw new ProblemError(
            422,
            'idempotency_key_reused',
            'this Idempotency-Key was used with a different request',
          );
        case 'in_flight':
          metrics?.idempotencyConflicts.inc({ route, reason: 'in_flight' });
          throw new ProblemError(
            409,
            'idempotency_key_in_flight',
            'a request with this Idempotency-Key is still running',
            {},
            { 'Retry-After': String(claim.retryAfterSeconds) },
          );
        case 'replay': {
          metrics?.idempotencyReplays.inc({ route });
          const { replayAccepted, secretFields = [] } = request.routeOptions.config;
          const recorded = openSecrets(claim.body, secretFields, options.box);
          if (claim.status === 202 && replayAccepted) {
            const now = await replayAccepted(request, recorded);
            return replay(reply, now.status, now.body);
          }
          return replay(reply, claim.status, recorded);
        }
        case 'claimed':
          request.idempotencyScope = scope;
      }
    });

    app.addHook('onSend', async (request, reply, payload) => {
      const scope = request.idempotencyScope;
      if (!scope) return payload;
      request.idempotencyScope = undefined;
      const secretFields = request.routeOptions.config.secretFields ?? [];
      await settle(request, () =>
        reply.statusCode < 500
          ? options.keys.complete(
              scope,
              reply.statusCode,
              sealSecrets(parse(payload), secretFields, options.box),
            )
          : options.keys.release(scope),
      );
      return payload;
    });

    // Keys are kept IDEMPOTENCY_TTL_HOURS (at least 24); after that a claim replaces an expired
    // one it meets, and this deletes the rest, a bounded batch at a time.
    let sweeper: NodeJS.Timeout | undefined;
    app.addHook('onReady', async () => {
      if (options.sweepIntervalMs <= 0) return;
      sweeper = setInterval(() => {
        options.keys.deleteExpired(SWEEP_BATCH).then(
          (deleted) => {
            if (deleted > 0) app.log.debug({ deleted }, 'expired Idempotency-Keys deleted');
          },
          (error: unknown) => app.log.warn({ err: error }, 'could not delete expired Idempotency-Keys'),
        );
      }, options.sweepIntervalMs).unref();
    });
    app.addHook('onClose', async () => clearInterval(sweeper));
  },
  { name: 'idempotency', dependencies: ['auth', 'errors'] },
);

function replay(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  void reply.header('Idempotent-Replayed', 'true').status(status);
  if (status >= 400) void reply.type(PROBLEM_CONTENT_TYPE);
  return reply.send(body);
}

function parse(payload: unknown): unknown {
  return typeof payload === 'string' ? JSON.parse(payload) : null;
}

/** The answer as recorded: each of `fields` that holds a string, sealed. */
function sealSecrets(body: unknown, fields: readonly string[], box: SecretBox): unknown {
  return mapFields(body, fields, (value) => box.seal(value));
}

/** The answer as first sent. A record written before secrets were sealed holds them as they were. */
function openSecrets(body: unknown, fields: readonly string[], box: SecretBox): unknown {
  return mapFields(body, fields, (value) => (isSealed(value) ? box.open(value) : value));
}

function mapFields(body: unknown, fields: readonly string[], map: (value: string) => string): unknown {
  if (fields.length === 0 || typeof body !== 'object' || body === null) return body;
  const copy: Record<string, unknown> = { ...body };
  for (const field of fields) {
    const value = copy[field];
    if (typeof value === 'string') copy[field] = map(value);
  }
  return copy;
}

/**
 * The answer comes from the work, not from the bookkeeping after it: if the key cannot be
 * recorded (PostgreSQL went away meanwhile), the caller still gets the real outcome. The key's
 * lease then runs out and a retry with it re-asks the same workflow, which answers the same.
 */
async function settle(request: FastifyRequest, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    request.log.warn({ err: error }, 'could not record the Idempotency-Key outcome; its lease will expire');
  }
}
