import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_RANGE_DAYS } from '../../app/reports.js';
import { currency, errorResponses } from '../schemas.js';

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
  const { reports } = app.services;

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
    async (request) => reports.summary(request.tenantId, request.query),
  );
};
