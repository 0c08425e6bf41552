import { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createEventActivities } from '../activities/events.js';
import { createActivities } from '../activities/index.js';
import { createWebhookActivities } from '../webhooks/activities.js';
import type { Executor } from '../db/client.js';
import type { ConnectorRegistry } from '../gateway/registry.js';
import type { WorkerMetrics } from '../metrics.js';
import { activityInterceptors, workflowSinks, type Tracing } from '../tracing.js';
import type { EventHub } from '../events/hub.js';
import type { SettledPayments } from '../events/settled.js';
import type { EventSink } from '../events/sink.js';
import { WebhookSink } from '../webhooks/sink.js';
import type { WebhookEgress } from '../webhooks/egress.js';
import type { SecretBox } from '../webhooks/secrets.js';
import type { CircuitBreakerOptions } from '../gateway/circuit-breaker.js';
import { TASK_QUEUE } from '../workflows/contract.js';
import {
  EVENT_RELAY_WORKFLOW_ID,
  relaySinksChangedSignal,
  type eventRelay,
} from '../workflows/event-relay.js';
import { bundleWorkflowsInChild } from './bundle.js';

export interface PaysagaWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  db: Executor;
  connectors: ConnectorRegistry;
  /** The API's public base URL (PUBLIC_URL), which checkout session events name pages by. */
  publicUrl: string;
  box: SecretBox;
  /** The way out to merchants' webhook endpoints, held to the address policy. */
  egress: WebhookEgress;
  metrics?: WorkerMetrics | undefined;
  /** When a connector's circuit opens (defaults: src/gateway/circuit-breaker.ts). */
  circuit?: CircuitBreakerOptions | undefined;
  /** Requests of this process waiting for payments to settle (the co-located mode). */
  settled?: SettledPayments | undefined;
  /** Where workflow spans go (src/tracing.ts); without it they are dropped. */
  tracing?: Pick<Tracing, 'spanProcessor' | 'resource'> | undefined;
  /** Pre-built workflow bundle (tests bundle once per run); otherwise bundled at start, in a child process. */
  workflowBundle?: { code: string } | undefined;
  taskQueue?: string;
  tuning?: Partial<
    Pick<
      WorkerOptions,
      'maxConcurrentActivityTaskExecutions' | 'maxConcurrentWorkflowTaskExecutions' | 'maxCachedWorkflows'
    >
  >;
}

export async function createPaysagaWorker(options: PaysagaWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue ?? TASK_QUEUE,
    activities: {
      ...createActivities({
        db: options.db,
        connectors: options.connectors,
        metrics: options.metrics,
        publicUrl: options.publicUrl,
        circuit: options.circuit,
        settled: options.settled,
      }),
      ...createWebhookActivities({ db: options.db, box: options.box, egress: options.egress }),
    },
    workflowBundle: options.workflowBundle ?? (await bundleWorkflowsInChild()),
    interceptors: { activity: activityInterceptors },
    sinks: workflowSinks(options.tracing),
    ...options.tuning,
  });
}

/** The task queue of the relay's activity: polled only by workers that have broker sinks. */
export function eventsTaskQueue(taskQueue: string): string {
  return `${taskQueue}-events`;
}

/** One relay per task queue; the default queue's is plainly `paysaga-event-relay`. */
export function eventRelayWorkflowId(taskQueue: string): string {
  return taskQueue === TASK_QUEUE ? EVENT_RELAY_WORKFLOW_ID : `${EVENT_RELAY_WORKFLOW_ID}-${taskQueue}`;
}

/**
 * A second worker, on the events task queue, that runs the relay's activities over the merchants'
 * webhook endpoints and the given broker sinks (each on its own cursor), and the relay workflow itself, started unless it
 * already runs (every worker process does this at start; Temporal keeps one).
 */
export async function createEventRelayWorker(options: {
  connection: NativeConnection;
  namespace: string;
  taskQueue?: string;
  db: Executor;
  sinks: readonly EventSink[];
  /** Wakes the relay at each committed event (else it polls the outbox). */
  hub?: EventHub | undefined;
  /** The shortest time between two reads of the outbox (0: each committed event is read at once). */
  coalesceMs?: number | undefined;
}): Promise<Worker> {
  const taskQueue = options.taskQueue ?? TASK_QUEUE;
  const client = new Client({ connection: options.connection, namespace: options.namespace });
  const sinks = [new WebhookSink(options.db, client, taskQueue), ...options.sinks];
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: eventsTaskQueue(taskQueue),
    activities: createEventActivities({
      db: options.db,
      sinks,
      hub: options.hub,
      coalesceMs: options.coalesceMs,
    }),
    // One attempt per sink at a time; a second slot each lets a retry start while a stuck one ends.
    maxConcurrentActivityTaskExecutions: 2 * sinks.length,
  });
  // Started, or told that this worker's sinks may be new: a running relay hands over to a run
  // that asks for them (a sink added would otherwise wait for the run's natural end).
  await client.workflow.signalWithStart<typeof eventRelay, []>('eventRelay', {
    workflowId: eventRelayWorkflowId(taskQueue),
    taskQueue,
    args: [{ activityTaskQueue: eventsTaskQueue(taskQueue) }],
    signal: relaySinksChangedSignal,
    signalArgs: [],
  });
  return worker;
}
