import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Adds fields to every later log line of this request, the "request completed" line included
 * (Fastify writes it with the reply's logger): tenant, payment id, workflow id, run id.
 */
export function bindLog(
  request: FastifyRequest,
  reply: FastifyReply | undefined,
  fields: Record<string, unknown>,
) {
  request.log = request.log.child(fields);
  if (reply) reply.log = request.log;
}
