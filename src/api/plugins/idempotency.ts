import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { IdempotencyKeys, IdempotencyScope } from '../../app/idempotency.js';
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
  /** How often this process deletes expired keys (0: never). */
  sweepIntervalMs: number;
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
        // A publishable key is every page visitor's: its keys are a namespace of their own, so it
        // can neither spend the server's keys nor replay what a secret key made.
        route: `${request.method} ${request.routeOptions.url}${request.scope === 'publishable' ? ' publishable' : ''}`,
        key: header,
      };
      const { replayAccepted, secretFields = [] } = request.routeOptions.config;
      const claim = await options.keys.claim(
        scope,
        { params: request.params, body: request.body ?? null },
        secretFields,
      );
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
          if (claim.status === 202 && replayAccepted) {
            const now = await replayAccepted(request, claim.body);
            return replay(reply, now.status, now.body);
          }
          return replay(reply, claim.status, claim.body);
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
          ? options.keys.complete(scope, reply.statusCode, parse(payload), secretFields)
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
