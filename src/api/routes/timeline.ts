import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { errorResponses, paymentIdParams } from '../schemas.js';

const step = z.object({
  kind: z.enum(['workflow', 'activity', 'timer', 'update', 'signal']),
  step: z.string(),
  name: z.string(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  durationMs: z.int().optional(),
  attempts: z.int().optional(),
  outcome: z.string(),
  failure: z
    .string()
    .optional()
    .describe('The kind of failure in generic words (failed, timed out...); its details are in the Web UI'),
  failureType: z
    .string()
    .optional()
    .describe("The failure's type (GatewayRequestError, InsufficientFunds...)"),
  compensation: z.boolean().optional(),
  timeoutMs: z.int().optional(),
});

const timeline = z
  .object({
    paymentId: z.string(),
    workflowId: z.string(),
    runId: z.string(),
    workflowStatus: z.string(),
    webUiUrl: z.string().describe("The run's history in the Temporal Web UI"),
    route: z
      .array(
        z.object({
          attempt: z.int(),
          connector: z.string(),
          status: z.string(),
          failureCode: z.string().optional(),
        }),
      )
      .describe(
        'The connectors the payment went to, attempt by attempt: a move to a fallback connector is an attempt of its own',
      ),
    steps: z.array(step),
  })
  .meta({ id: 'PaymentTimeline' });

export const timelineRoutes: FastifyPluginAsyncZod = async (app) => {
  const { timeline: timelines } = app.services;

  app.get(
    '/v1/payments/:id/timeline',
    {
      schema: {
        summary: "A payment's steps, read from its workflow's history",
        description:
          "Built from the Temporal history of the payment's workflow (not from Paysaga's tables): each activity (hold, authorize, 3-D Secure re-read, capture, compensations, record) with its attempts, duration and failure; each wait and how it ended; each update and signal and when; and a link to the run in the Web UI, where an operator also sees who sent each and the failures' own messages.",
        tags: ['payments'],
        params: paymentIdParams,
        response: { 200: timeline, ...errorResponses },
      },
    },
    async (request) => timelines.get(request.tenantId, request.params.id),
  );
};
