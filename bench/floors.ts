/**
 * The engine floors, each stepped at its own rates until it breaks (same rule as the scenarios):
 * - engine-floor: a no-op workflow started and awaited through a Temporal client on the same
 *   server: one start, one workflow task, the result. What Temporal alone costs.
 * - activity-floor: a workflow that runs one no-op activity: two workflow tasks and an activity
 *   task more. What one step of a real workflow adds.
 * Each has its own task queue and a worker hosted in this process, bundled from bench/ (src/ is
 * not touched). After the knee, one more step runs at half the knee rate when the ladder had none,
 * so Paysaga can be compared with the floor where the floor is comfortable.
 */
import { fileURLToPath } from 'node:url';
import { Client } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  makeTelemetryFilterString,
  NativeConnection,
  Runtime,
  Worker,
} from '@temporalio/worker';
import { bundlerOptions } from '../src/worker/bundle.js';
import { kneeOf, runOpenLoop, stepUntilKnee, type StepPlan, type StepResult } from './load.js';
import type { Meter } from './resources.js';

export interface FloorOptions {
  runId: string;
  rates: number[];
  plan: Omit<StepPlan, 'rate'>;
  log: (line: string) => void;
  meter?: Meter | undefined;
}

export interface FloorRun {
  /** The ladder, up to and including the step that broke. */
  steps: StepResult[];
  /** Off the ladder: the step at half the knee rate, when the ladder had none. */
  extraSteps: StepResult[];
}

export const ENGINE_FLOORS = {
  'engine-floor': { file: './noop-workflow.ts', workflowType: 'noopWorkflow' },
  'activity-floor': { file: './activity-workflow.ts', workflowType: 'oneActivityWorkflow' },
} as const;
export type EngineFloorName = keyof typeof ENGINE_FLOORS;

const activities = { noopActivity: async () => 'ok' };
const quiet = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };
function noop() {
  return undefined;
}

let runtimeInstalled = false;
/** Runtime.install may run once per process, before any NativeConnection exists. */
export function installRuntimeOnce(): void {
  if (runtimeInstalled) return;
  Runtime.install({
    logger: new DefaultLogger('ERROR'),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} } },
  });
  runtimeInstalled = true;
}

/** Half the knee rate, when the floor has a knee and no step there yet. */
export function halfKneeRate(steps: StepResult[]): number | undefined {
  const knee = kneeOf(steps);
  if (!knee) return undefined;
  const half = knee.offeredRate / 2;
  return steps.some((s) => s.offeredRate === half) ? undefined : half;
}

export async function engineFloor(
  name: EngineFloorName,
  options: FloorOptions & { temporalAddress: string; namespace: string },
): Promise<FloorRun> {
  const spec = ENGINE_FLOORS[name];
  installRuntimeOnce();
  const connection = await NativeConnection.connect({ address: options.temporalAddress });
  try {
    const client = new Client({ connection, namespace: options.namespace });
    const taskQueue = `paysaga-bench-${name}-${options.runId}`;
    const workflowBundle = await bundleWorkflowCode({
      workflowsPath: fileURLToPath(new URL(spec.file, import.meta.url)),
      ...bundlerOptions,
      logger: quiet,
    });
    const worker = await Worker.create({
      connection,
      namespace: options.namespace,
      taskQueue,
      workflowBundle,
      activities,
    });
    const execute = (workflowId: string, signal?: AbortSignal) => {
      const run = () => client.workflow.execute(spec.workflowType, { taskQueue, workflowId, args: [] });
      return signal ? client.withAbortSignal(signal, run) : run();
    };
    const step = async (rate: number) => {
      const { result } = await runOpenLoop(
        { ...options.plan, rate },
        async (i, signal) => {
          await execute(`bench-${name}-${options.runId}-${rate}-${i}`, signal);
          return { kind: 'ok' };
        },
        options.meter,
      );
      return result;
    };
    return await worker.runUntil(async () => {
      for (let i = 0; i < 5; i++) await execute(`bench-${name}-${options.runId}-warmup-${i}`);
      const steps = await stepUntilKnee(options.rates, step, options.log);
      const half = halfKneeRate(steps);
      const extraSteps: StepResult[] = [];
      if (half !== undefined) {
        const extra = await step(half);
        options.log(`(half the knee) ${describeShort(extra)}`);
        extraSteps.push(extra);
      }
      return { steps, extraSteps };
    });
  } finally {
    await connection.close();
  }
}

function describeShort(s: StepResult): string {
  return `${s.offeredRate}/s: ${s.throughput}/s, p99 ${s.latencyMs ? Math.round(s.latencyMs.p99) : '-'} ms, ${s.verdict}`;
}
