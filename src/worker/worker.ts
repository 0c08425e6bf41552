import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities/index.js';
import type { Executor } from '../db/client.js';
import type { ConnectorRegistry } from '../gateway/registry.js';
import { TASK_QUEUE } from '../workflows/contract.js';
import { bundleWorkflowsInChild } from './bundle.js';

export interface PaysagaWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  db: Executor;
  connectors: ConnectorRegistry;
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
    activities: createActivities({ db: options.db, connectors: options.connectors }),
    workflowBundle: options.workflowBundle ?? (await bundleWorkflowsInChild()),
    ...options.tuning,
  });
}
