import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Executor } from '../db/client.js';
import { claimIdempotencyKey, completeIdempotencyKey, releaseIdempotencyKey } from '../db/idempotency.js';
import { canonicalJson, sha256 } from './hash.js';
import { ProblemError } from './problem.js';

export interface HandlerResult {
  status: number;
  body: unknown;
}

const MAX_KEY_LENGTH = 255;

/**
 * Runs a POST handler under the `Idempotency-Key` header: same key and request → the stored
 * response again; same key, other request → 422; same key still running → 409 with Retry-After.
 * Only validated requests get here, so a malformed body never burns a key. Server errors release
 * the key; business answers (2xx and 4xx) are kept.
 */
export async function idempotent(
  db: Executor,
  { ttlHours, leaseSeconds }: { ttlHours: number; leaseSeconds: number },
  request: FastifyRequest,
  reply: FastifyReply,
  run: () => Promise<HandlerResult>,
): Promise<FastifyReply> {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return send(reply, await run());
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
  const claim = await claimIdempotencyKey(db, scope, hash, ttlHours, leaseSeconds);
  switch (claim.kind) {
    case 'mismatch':
      throw new ProblemError(
        422,
        'idempotency_key_reused',
        'this Idempotency-Key was used with a different request',
      );
    case 'in_flight':
      throw new ProblemError(
        409,
        'idempotency_key_in_flight',
        'a request with this Idempotency-Key is still running',
        {},
        {
          'Retry-After': String(claim.retryAfterSeconds),
        },
      );
    case 'replay':
      void reply.header('Idempotent-Replayed', 'true');
      return send(reply, { status: claim.status, body: claim.body });
    case 'claimed':
      break;
  }
  let result: HandlerResult;
  try {
    result = await run();
  } catch (error) {
    await settleKey(request, () =>
      error instanceof ProblemError && error.status < 500
        ? completeIdempotencyKey(db, scope, error.status, error.toProblem())
        : releaseIdempotencyKey(db, scope),
    );
    throw error;
  }
  await settleKey(request, () => completeIdempotencyKey(db, scope, result.status, result.body));
  return send(reply, result);
}

/**
 * The answer comes from the work, not from the bookkeeping after it: if the key cannot be
 * recorded (PostgreSQL went away meanwhile), the caller still gets the real outcome. The key's
 * lease then runs out and a retry with it re-asks the same workflow, which answers the same.
 */
async function settleKey(request: FastifyRequest, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    request.log.warn({ err: error }, 'could not record the Idempotency-Key outcome; its lease will expire');
  }
}

function send(reply: FastifyReply, result: HandlerResult): FastifyReply {
  void reply.status(result.status);
  if (isProblem(result.body)) void reply.type('application/problem+json; charset=utf-8');
  return reply.send(result.body);
}

function isProblem(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'code' in body && 'status' in body && 'type' in body;
}
