import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sqlState } from '../../db/errors.js';
import { paymentsSummary } from '../../db/reports.js';
import { ProblemError } from '../problem.js';
import { currency, errorResponses } from '../schemas.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** PostgreSQL's query_canceled: here, the report's statement_timeout ran out. */
const QUERY_CANCELED = '57014';
/** Longer ranges belong to an export, not a request that holds an API process. */
const MAX_RANGE_DAYS = 366;

const summaryQuery = z.strictObject({
  from: z.iso
    .datetime({ offset: true })
    .optional()
    .describe('Start of the range (inclusive, on payments.createdAt); default: 24 hours before `to`'),
  to: z.iso.datetime({ offset: true }).optional().describe('End of the range (exclusive); default: now'),
  currency: currency.optional().describe('Only this currency'),
});

const counts = z.record(z.string(), z.int());
const summary = z
  .object({
    from: z.string(),
    to: z.string(),
    currency: z.string().nullable(),
    payments: z.object({
      count: z.int(),
      byStatus: counts,
      byMethod: counts,
      byCurrency: z.array(
        z.object({
          currency: z.string(),
          count: z.int(),
          amount: z.int().describe('Requested, minor units'),
          captured: z.int(),
          refunded: z.int(),
        }),
      ),
    }),
    refunds: z.object({
      count: z.int(),
      byStatus: counts,
      byCurrency: z.array(z.object({ currency: z.string(), count: z.int(), amount: z.int() })),
    }),
    successRate: z
      .number()
      .nullable()
      .describe('Captured (succeeded, partially or fully refunded) / (captured + failed), 4 decimals'),
    timeToSettledMs: z.object({ p50: z.int().nullable(), p95: z.int().nullable() }),
  })
  .meta({ id: 'PaymentsSummary' });

export const reportRoutes: FastifyPluginAsyncZod = async (app) => {
  const { db, config } = app.services;

  app.get(
    '/v1/reports/summary',
    {
      schema: {
        summary: 'Counts and volumes of payments and refunds over a date range',
        description: `Payments created in [from, to): counts by status, method and currency, volumes per currency (requested, captured, refunded), the success rate, and p50/p95 time from creation to the first settled status; refunds created in the range by status and currency. At most ${MAX_RANGE_DAYS} days. A report that runs longer than the API allows (\`REPORT_STATEMENT_TIMEOUT_MS\`) is a 503 \`report_timeout\`.`,
        tags: ['reports'],
        querystring: summaryQuery,
        response: { 200: summary, ...errorResponses },
      },
    },
    async (request) => {
      const to = request.query.to ? new Date(request.query.to) : new Date();
      const from = request.query.from ? new Date(request.query.from) : new Date(to.getTime() - DAY_MS);
      if (from >= to) throw new ProblemError(400, 'invalid_range', '`from` must be before `to`');
      if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY_MS)
        throw new ProblemError(400, 'range_too_long', `a report covers at most ${MAX_RANGE_DAYS} days`);
      const result = await paymentsSummary(
        db,
        { tenantId: request.tenantId, from, to, currency: request.query.currency },
        config.reportStatementTimeoutMs,
      ).catch((error: unknown) => {
        if (sqlState(error) !== QUERY_CANCELED) throw error;
        throw new ProblemError(
          503,
          'report_timeout',
          `the report took longer than ${config.reportStatementTimeoutMs} ms; ask for a shorter range or one currency`,
          {},
          { 'Retry-After': '30' },
        );
      });
      return {
        from: from.toISOString(),
        to: to.toISOString(),
        currency: request.query.currency ?? null,
        ...result,
      };
    },
  );
};
