import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { sql } from 'drizzle-orm';
import { withTimeout } from '../with-timeout.js';
import { PROBLEM_CONTENT_TYPE, problemBody } from '../problem.js';

const PROBE_TIMEOUT_MS = 1_000;

/** One dependency check: ok and its latency, or the reason it failed, within a second. */
async function probe(
  check: () => Promise<unknown>,
): Promise<{ ok: boolean; latencyMs: number; error?: string }> {
  const started = performance.now();
  const latencyMs = () => Math.round(performance.now() - started);
  try {
    const answered = await withTimeout(
      check().then(() => true),
      PROBE_TIMEOUT_MS,
    );
    return answered
      ? { ok: true, latencyMs: latencyMs() }
      : { ok: false, latencyMs: latencyMs(), error: 'timeout' };
  } catch (error) {
    return { ok: false, latencyMs: latencyMs(), error: error instanceof Error ? error.name : 'error' };
  }
}

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, temporal, temporalCircuit } = app.services;

  app.get('/healthz', { config: { public: true }, schema: { hide: true } }, async () => ({ status: 'ok' }));

  /**
   * Ready when PostgreSQL and Temporal both answer within a second. Each dependency is reported
   * with its latency (and Temporal with the API's circuit state), so an operator sees which
   * one is down without waiting on it.
   */
  app.get('/readyz', { config: { public: true }, schema: { hide: true } }, async (_request, reply) => {
    const [postgres, temporalCheck] = await Promise.all([
      probe(() => db.execute(sql`SELECT 1`)),
      probe(() =>
        temporal.withDeadline(Date.now() + PROBE_TIMEOUT_MS, () =>
          temporal.workflowService.getSystemInfo({}),
        ),
      ),
    ]);
    // A successful probe closes an open circuit at once instead of waiting for the next request.
    if (temporalCheck.ok) temporalCircuit.succeeded();
    const dependencies = { postgres, temporal: { ...temporalCheck, circuit: temporalCircuit.state.state } };
    if (postgres.ok && temporalCheck.ok) return { status: 'ready', dependencies };
    return reply
      .status(503)
      .header('Retry-After', '2')
      .type(PROBLEM_CONTENT_TYPE)
      .send({ ...problemBody(503, 'not_ready', 'a dependency is not reachable'), dependencies });
  });
};
