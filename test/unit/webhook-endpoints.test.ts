/**
 * The webhook endpoints' use cases as the application layer sees them: refusals are AppError
 * kinds (which the HTTP door answers with the statuses the API has always given), and a manual
 * retry reaches Temporal only through the process's gateway, with a deadline.
 */
import type { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { problemFromAppError } from '../../src/api/problem.js';
import { AppError } from '../../src/app/errors.js';
import { TemporalGateway } from '../../src/app/temporal.js';
import type { Executor } from '../../src/db/client.js';
import { TASK_QUEUE } from '../../src/workflows/contract.js';
import { WebhookEndpointService } from '../../src/webhooks/endpoints.js';
import type { WebhookEgress } from '../../src/webhooks/egress.js';
import { SecretBox } from '../../src/webhooks/secrets.js';
import type { EndpointRow } from '../../src/webhooks/store.js';

const TENANT = 'default';
const box = new SecretBox(Buffer.alloc(32, 7).toString('base64'));

/** A database whose reads answer `results` in turn (one row list per query); writes are refused. */
function readOnlyDb(...results: unknown[][]): Executor {
  const query = {
    from: () => query,
    innerJoin: () => query,
    where: () => query,
    orderBy: () => query,
    then: (resolve: (rows: unknown[]) => unknown) => resolve(results.shift() ?? []),
  };
  const refuse = () => {
    throw new Error('nothing may be written');
  };
  return { select: () => query, insert: refuse, update: refuse, transaction: refuse } as unknown as Executor;
}

const egress = (reaches: boolean) => ({ reaches: async () => reaches }) as unknown as WebhookEgress;

/** A Temporal client that records the workflows executed and the deadline each ran under. */
function recordingClient() {
  const executed: { workflow: string; options: Record<string, unknown>; deadline: number }[] = [];
  let deadline = 0;
  const client = {
    withDeadline: async <T>(at: number, fn: () => Promise<T>) => {
      deadline = at;
      return fn();
    },
    workflow: {
      execute: async (workflow: { name: string }, options: Record<string, unknown>) => {
        executed.push({ workflow: workflow.name, options, deadline });
      },
    },
  };
  return { client: client as unknown as Client, executed };
}

const endpointRow = {
  id: 'we_1',
  tenantId: TENANT,
  url: 'https://example.com/hooks',
  status: 'enabled',
} as EndpointRow;

const delivery = {
  id: 'wd_1',
  endpointId: 'we_1',
  eventId: 'evt_1',
  eventType: 'payment.succeeded',
  status: 'failed',
  attempts: 1,
  nextAttemptAt: null,
  deliveredAt: null,
  createdAt: new Date(),
};

/** The row `deliveryContext` reads: the delivery with its endpoint and its event. */
const contextRow = {
  delivery,
  endpoint: endpointRow,
  event: {
    id: 'evt_1',
    type: 'payment.succeeded',
    subject: 'payments/pay_1',
    time: new Date(),
    tenantId: TENANT,
  },
};

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AppError);
  return error as AppError;
}

describe('webhook endpoints (application layer)', () => {
  const { client } = recordingClient();
  const temporal = new TemporalGateway(client);

  it('a URL that does not reach the public internet is invalid (422 url_not_allowed), and nothing is stored', async () => {
    const endpoints = new WebhookEndpointService({ db: readOnlyDb(), box, egress: egress(false), temporal });
    const error = await refusal(endpoints.create(TENANT, { url: 'http://10.0.0.1/hooks' }));
    expect([error.kind, error.code]).toEqual(['invalid', 'url_not_allowed']);
    expect(problemFromAppError(error).status).toBe(422);
  });

  it("another tenant's or an unknown endpoint is not found (404 webhook_endpoint_not_found)", async () => {
    const endpoints = new WebhookEndpointService({ db: readOnlyDb([]), box, egress: egress(true), temporal });
    const error = await refusal(endpoints.get(TENANT, 'we_missing'));
    expect([error.kind, error.code]).toEqual(['not_found', 'webhook_endpoint_not_found']);
    expect(problemFromAppError(error).status).toBe(404);
  });

  it("a retry of a delivery that is not the endpoint's is not found (404 delivery_not_found), and starts nothing", async () => {
    const recording = recordingClient();
    const endpoints = new WebhookEndpointService({
      db: readOnlyDb([endpointRow], []),
      box,
      egress: egress(true),
      temporal: new TemporalGateway(recording.client),
    });
    const error = await refusal(endpoints.retry(TENANT, 'we_1', 'wd_other'));
    expect([error.kind, error.code]).toEqual(['not_found', 'delivery_not_found']);
    expect(problemFromAppError(error).status).toBe(404);
    expect(recording.executed).toEqual([]);
  });

  it('a manual retry runs its workflow through the gateway, with a deadline', async () => {
    const recording = recordingClient();
    const endpoints = new WebhookEndpointService({
      db: readOnlyDb([endpointRow], [contextRow], [delivery], []),
      box,
      egress: egress(true),
      temporal: new TemporalGateway(recording.client),
    });
    const before = Date.now();
    const answer = await endpoints.retry(TENANT, 'we_1', 'wd_1');
    expect(answer).toMatchObject({ id: 'wd_1', status: 'failed', attempts: [] });
    expect(recording.executed).toHaveLength(1);
    const [run] = recording.executed;
    expect(run!.workflow).toBe('webhookManualRetry');
    expect(run!.options).toMatchObject({
      workflowId: 'webhook-retry:wd_1',
      taskQueue: TASK_QUEUE,
      args: [{ deliveryId: 'wd_1' }],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    expect(run!.deadline).toBeGreaterThanOrEqual(before + 30_000);
    expect(run!.deadline).toBeLessThanOrEqual(Date.now() + 30_000);
  });

  it('a manual retry while Temporal is down is refused at once by the open circuit', async () => {
    const recording = recordingClient();
    const gateway = new TemporalGateway(recording.client);
    gateway.circuit.failed();
    gateway.circuit.failed();
    const endpoints = new WebhookEndpointService({
      db: readOnlyDb([endpointRow], [contextRow]),
      box,
      egress: egress(true),
      temporal: gateway,
    });
    await expect(endpoints.retry(TENANT, 'we_1', 'wd_1')).rejects.toMatchObject({ dependency: 'temporal' });
    expect(recording.executed).toEqual([]);
  });
});
