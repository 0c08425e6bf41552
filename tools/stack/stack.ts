/**
 * Brings up the whole Paysaga stack as separate processes: embedded PostgreSQL (unless a
 * database URL is given), the Temporal dev server (unless an address is given), the sandbox
 * gateway, the worker and the API. Used by `npm run dev`, the test suite, the benchmarks and the
 * chaos runner; with `supervise`, a component that crashes is started again on the same port and data.
 */
import { freePort } from '../../src/free-port.js';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { migrateDatabase } from '../../src/db/client.js';
import { brokerSinks, parseEventSinks } from '../../src/domain/sinks.js';
import { loadProfiles } from '../../src/profiles/registry.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { startKafka } from './kafka.js';
import { startRabbitMq, type RabbitMqControl } from './rabbitmq.js';
import { exitCode, Supervisor, type Backoff, type Running } from './supervisor.js';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { startTemporalServer } from './temporal-server.js';
import { startTemporalDevServer, stopChild } from './temporal-dev-server.js';

/**
 * The development command secret of tenant `default`: `npm run dev` and the tests sign broker
 * commands with it. Never a default of the consumer itself.
 */
export const DEV_COMMAND_SECRET = 'cmdsec_dev_paysaga';
/** The development queue / topic bound to tenant `default` (commands from systems that cannot sign). */
export const DEV_TENANT_COMMAND_SOURCE = 'paysaga.commands.default';
/** Loopback: the stacks started here (`npm run dev`, the chaos run, the benchmarks) send webhooks there. */
export const LOCAL_WEBHOOK_NETWORKS = '127.0.0.0/8,::1/128';

export interface StackOptions {
  /** Data directory for embedded PostgreSQL; also decides whether it persists. */
  postgresDir: string;
  persistentPostgres: boolean;
  postgresPort?: number;
  databaseUrl?: string | undefined;
  temporalAddress?: string | undefined;
  temporalPort?: number;
  /** Web UI port; headless when omitted. */
  temporalUiPort?: number | undefined;
  /** Temporal file database; in memory when omitted. */
  temporalDbFile?: string | undefined;
  /** Dynamic-config values for the dev server it starts (limits a test wants to reach). */
  temporalDynamicConfig?: Record<string, number> | undefined;
  /**
   * The Temporal it starts: the CLI dev server (`dev`, SQLite), or a real Temporal Server on this
   * stack's PostgreSQL (`server`, tools/stack/temporal-server.ts). Default: `PAYSAGA_ENGINE`, else `dev`.
   */
  engine?: TemporalEngine | undefined;
  /**
   * API and worker processes of each (`api-2`, `worker-2`, ... on ports of their own): two on the
   * real Temporal Server, as production runs them, one on the dev server.
   */
  replicas?: number | undefined;
  /**
   * The API and the worker in one process (`app`, `app-2`, ...: src/colocated/main.ts) instead of
   * one of each, so waiting payments start eagerly. Default: `PAYSAGA_COLOCATED=1`.
   */
  colocated?: boolean | undefined;
  /**
   * Where a Kafka or RabbitMQ started here keeps its data (`kafka/`, `rabbitmq/`). They are
   * started when `EVENT_SINKS` (in `env` or the environment) names them and no `KAFKA_BROKERS`
   * or `AMQP_URL` is given.
   */
  brokerDataDir?: string;
  kafkaPort?: number;
  amqpPort?: number;
  apiPort?: number;
  gatewayPort?: number;
  /** Extra environment for the gateway, worker and API processes. */
  env?: Record<string, string>;
  /**
   * A build folder (`npm run build`'s dist/): the gateway, worker, API and consumer run from its
   * JavaScript with plain node, as in the image, instead of from the sources through tsx.
   */
  build?: string;
  /** Extra Node flags per component (`worker` also covers `worker-2`, ...), after NODE_FLAGS. */
  nodeFlags?: Record<string, readonly string[]>;
  /** Receives every line the processes print, prefixed with the process name. */
  log: (line: string) => void;
  /** Called when a component (process, Temporal, PostgreSQL) exits while the stack is up. */
  onChildExit?: (name: string, code: number | null) => void;
  /**
   * Start a component that exits on its own again, with exponential backoff (`true`: 0.5 s doubling
   * to 10 s, reset after 30 s up). Off by default: then an exit is only reported.
   */
  supervise?: boolean | Partial<Backoff>;
  /** Receives the supervisor's lines (`worker exited with code 1; restarting in 0.5 s`). */
  onSupervisorLog?: (line: string) => void;
  /** Aborting it while the stack starts stops what already runs and rejects (Ctrl-C during start). */
  signal?: AbortSignal;
}

export type TemporalEngine = 'dev' | 'server';

/** Whether a stack runs the API and worker in one process: the option, else `PAYSAGA_COLOCATED`. */
export function colocated(options: { colocated?: boolean | undefined }): boolean {
  if (options.colocated !== undefined) return options.colocated;
  const wanted = process.env.PAYSAGA_COLOCATED;
  if (wanted === undefined || wanted === '' || wanted === '0') return false;
  if (wanted === '1') return true;
  throw new Error(`PAYSAGA_COLOCATED must be "1" or "0", not "${wanted}"`);
}

/** The engine a stack starts: the option, else `PAYSAGA_ENGINE` (`server`), else the dev server. */
export function temporalEngine(options: { engine?: TemporalEngine | undefined }): TemporalEngine {
  if (options.engine) return options.engine;
  const wanted = process.env.PAYSAGA_ENGINE;
  if (wanted === undefined || wanted === '' || wanted === 'dev') return 'dev';
  if (wanted === 'server') return 'server';
  throw new Error(`PAYSAGA_ENGINE must be "dev" or "server", not "${wanted}"`);
}

/** What `kill` and `restart` accept: the started infrastructure and every spawned process. */
export type ComponentName = 'postgres' | 'temporal' | keyof typeof SCRIPTS | (string & {});

export interface Stack {
  apiUrl: string;
  gatewayUrl: string;
  databaseUrl: string;
  temporalAddress: string;
  temporalUiUrl: string | undefined;
  /** Set when the stack started a Kafka (`host:port`) or a RabbitMQ (`amqp://...`) itself. */
  kafkaBrokers: string | undefined;
  amqpUrl: string | undefined;
  /** For a RabbitMQ started here: how `rabbitmqctl` reaches it. */
  rabbitmqControl: RabbitMqControl | undefined;
  env: Record<string, string>;
  /** The current process of each spawned component (replaced when it is restarted). */
  processes: Map<string, ChildProcess>;
  /** Every API process's URL, `apiUrl` first (see `replicas`). */
  apiUrls: string[];
  /** Starts one more process of the stack (e.g. a second worker) with the stack's environment. */
  spawnProcess(name: string, script: string, env?: Record<string, string>): Promise<ChildProcess>;
  /** The OS process id of a component as it runs now. */
  pid(name: ComponentName): number | undefined;
  /** Components that `kill` and `restart` know: postgres and temporal when started here, and processes. */
  components(): string[];
  /** Signals a component's process as it runs now; with supervision on, it comes back by itself. */
  kill(name: ComponentName, signal?: NodeJS.Signals): void;
  /** Crashes a component (SIGKILL by default) and resolves once a new instance serves, on the same port and data. */
  restart(name: ComponentName, signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export const SCRIPTS = {
  gateway: 'sandbox/main.ts',
  worker: 'src/worker/main.ts',
  api: 'src/api/main.ts',
  /** The API and the worker in one process (`colocated`): instead of both. */
  app: 'src/colocated/main.ts',
  /** Started only when EVENT_SINKS names a broker: it reads `paysaga.commands` from each. */
  consumer: 'src/commands/main.ts',
} as const;

/**
 * Node flags per component. The worker's V8 young generation is capped at 4 MB semi-spaces (the
 * default is 16): under load the default's pages stay resident. Measured at the wallet's knee
 * (30/s): worker RSS 339-367 MB without, 279-349 MB with, CPU per payment within the noise.
 *
 * `--heap-growing-percent=35`: after a full collection V8 lets the old generation grow to
 * 1.35 x what survived before the next one, instead of a factor of up to 4 it picks from the
 * collector's speed. A payment's garbage is short-lived, so the worker's workflow thread went from
 * ~37 MB live to a 124 MB heap between collections, and the process stayed there. Back to back at
 * 30-40 wallet payments/s (bench/README.md#memory): worker RSS 283-296 MB with 35-50 against
 * 317-516 MB without, the API 289-298 against 314-341 MB, CPU per payment within the noise (20
 * cost the worker ~1.5 ms of CPU per payment more for 260 MB).
 */
export const NODE_FLAGS: Record<string, readonly string[]> = {
  worker: ['--max-semi-space-size=4', '--heap-growing-percent=35'],
  api: ['--heap-growing-percent=35'],
  app: ['--max-semi-space-size=4', '--heap-growing-percent=35'],
};

/**
 * Modules each component preloads (after tsx, from source). The worker's runs in every workflow thread too: it
 * turns the SDK's workflow stack traces off unless WORKFLOW_STACK_TRACES=on (src/worker/workflow-threads.ts).
 */
export const PRELOADS: Record<string, readonly string[]> = {
  worker: ['./src/worker/workflow-threads.ts'],
  app: ['./src/worker/workflow-threads.ts'],
};

/**
 * Environment each component starts with, unless the caller's environment sets the same
 * variable. The worker's threads (the SDK's Rust core, the workflow thread, libuv's pool) each
 * get a glibc malloc arena of their own by default, which keeps what it freed: with two arenas
 * the worker's RSS at 40 wallet payments/s was 288-338 MB instead of 424-464 MB, at the same CPU.
 * The consumer gets the documented development command trust of tenant `default` (docs/events.md):
 * its secret, and a queue / topic bound to it for publishers that cannot sign.
 */
export const PROCESS_ENV: Record<string, Readonly<Record<string, string>>> = {
  worker: { MALLOC_ARENA_MAX: '2' },
  app: { MALLOC_ARENA_MAX: '2' },
  consumer: {
    COMMAND_SECRETS: `default:${DEV_COMMAND_SECRET}`,
    TENANT_COMMAND_SOURCES: `${DEV_TENANT_COMMAND_SOURCE}:default`,
  },
};

const READY_LINES: Record<string, RegExp> = {
  gateway: /listening/i,
  worker: /worker polling/i,
  api: /api listening/i,
  app: /api listening/i,
  consumer: /consumer listening/i,
};

export { freePort };

export async function startStack(options: StackOptions): Promise<Stack> {
  const processes = new Map<string, ChildProcess>();
  const supervisor = new Supervisor({
    autoRestart: Boolean(options.supervise),
    backoff: typeof options.supervise === 'object' ? options.supervise : undefined,
    log: options.onSupervisorLog ?? ((line) => options.log(`[supervisor] ${line}`)),
    onExit: (name, code) => options.onChildExit?.(name, code),
  });
  const stop = () =>
    supervisor.stop([[...processes.keys()], ['temporal', 'kafka', 'rabbitmq'], ['postgres']]);
  const checkpoint = () => options.signal?.throwIfAborted();

  try {
    let databaseUrl = options.databaseUrl;
    if (!databaseUrl) {
      const port = options.postgresPort ?? (await freePort());
      const started = await supervisor.add({
        name: 'postgres',
        start: () =>
          startEmbeddedPostgres({
            dataDir: options.postgresDir,
            port,
            persistent: options.persistentPostgres,
          }),
      });
      databaseUrl = started.url;
    }
    checkpoint();
    await migrateDatabase(databaseUrl);
    checkpoint();

    let temporalAddress = options.temporalAddress;
    let temporalUiUrl: string | undefined;
    if (!temporalAddress) {
      const port = options.temporalPort ?? (await freePort());
      const log = (line: string) => options.log(`[temporal] ${line.trimEnd()}`);
      const url = new URL(databaseUrl);
      const started = await supervisor.add({
        name: 'temporal',
        start: () =>
          temporalEngine(options) === 'server'
            ? startTemporalServer({
                port,
                uiPort: options.temporalUiPort,
                postgres: {
                  host: url.hostname,
                  port: Number(url.port || 5432),
                  user: decodeURIComponent(url.username),
                  password: decodeURIComponent(url.password),
                },
                // Beside the stack's PostgreSQL data: its config and the internal ports it keeps.
                dataDir: `${options.postgresDir.replace(/\/+$/, '')}-temporal`,
                dynamicConfig: options.temporalDynamicConfig,
                log,
              })
            : startTemporalDevServer({
                port,
                uiPort: options.temporalUiPort,
                dbFile: options.temporalDbFile,
                dynamicConfig: options.temporalDynamicConfig,
                log,
              }),
      });
      temporalAddress = started.address;
      temporalUiUrl = started.uiUrl;
      checkpoint();
    }

    const brokers = await startBrokers(supervisor, options);
    checkpoint();

    const apiPort = options.apiPort ?? (await freePort());
    const gatewayPort = options.gatewayPort ?? (await freePort());
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const env: Record<string, string> = {
      // Everything a local stack runs listens on loopback, merchants' test receivers included.
      WEBHOOK_ALLOWED_NETWORKS: process.env.WEBHOOK_ALLOWED_NETWORKS ?? LOCAL_WEBHOOK_NETWORKS,
      DATABASE_URL: databaseUrl,
      TEMPORAL_ADDRESS: temporalAddress,
      PORT: String(apiPort),
      GATEWAY_URL: gatewayUrl,
      SANDBOX_PORT: String(gatewayPort),
      SANDBOX_WEBHOOK_URL: `${apiUrl}/v1/webhooks/sandbox`,
      PUBLIC_URL: apiUrl,
      ...(brokers.wanted.length > 0 ? { EVENT_SINKS: ['outbox', ...brokers.wanted].join(',') } : {}),
      ...(brokers.kafkaBrokers ? { KAFKA_BROKERS: brokers.kafkaBrokers } : {}),
      ...(brokers.amqpUrl ? { AMQP_URL: brokers.amqpUrl } : {}),
      ...options.env,
    };

    const runnable = (file: string) =>
      options.build ? path.resolve(PROJECT_ROOT, options.build, file.replace(/\.ts$/, '.js')) : file;
    const launch = (name: string, script: string, extra: Record<string, string>) => async () => {
      const component = name.replace(/-.*$/, '');
      const flags = [
        ...(NODE_FLAGS[component] ?? []),
        ...(options.nodeFlags?.[component] ?? []),
        ...(options.build ? [] : ['--import', 'tsx']),
        ...(PRELOADS[component] ?? []).flatMap((preload) => ['--import', runnable(preload)]),
      ];
      const child = await spawnReady(
        name,
        runnable(script),
        flags,
        { ...PROCESS_ENV[component], ...process.env, ...env, ...extra },
        options.log,
      );
      processes.set(name, child);
      return childRunning(child);
    };
    const spawnProcess = async (name: string, script: string, extra: Record<string, string> = {}) => {
      await supervisor.add({ name, start: launch(name, script, extra) });
      return processes.get(name)!;
    };

    const abort = new Promise<never>((_, reject) => {
      options.signal?.addEventListener('abort', () => reject(options.signal?.reason as Error), {
        once: true,
      });
    });
    abort.catch(() => undefined);
    checkpoint();
    const together = colocated(options);
    await Promise.race([
      abort,
      Promise.all([
        spawnProcess('gateway', SCRIPTS.gateway),
        ...(together
          ? [spawnProcess('app', SCRIPTS.app)]
          : [spawnProcess('worker', SCRIPTS.worker), spawnProcess('api', SCRIPTS.api)]),
        ...(brokers.wanted.length > 0 ? [spawnProcess('consumer', SCRIPTS.consumer)] : []),
      ]),
    ]);
    const apiUrls = [apiUrl];
    const replicas = options.replicas ?? (temporalEngine(options) === 'server' ? 2 : 1);
    for (let i = 2; i <= replicas; i++) {
      const [port, metricsPort] = [await freePort(), await freePort()];
      await Promise.race([
        abort,
        Promise.all(
          together
            ? [
                spawnProcess(`app-${i}`, SCRIPTS.app, {
                  PORT: String(port),
                  METRICS_PORT: String(metricsPort),
                }),
              ]
            : [
                spawnProcess(`worker-${i}`, SCRIPTS.worker, { METRICS_PORT: String(metricsPort) }),
                spawnProcess(`api-${i}`, SCRIPTS.api, { PORT: String(port) }),
              ],
        ),
      ]);
      apiUrls.push(`http://127.0.0.1:${port}`);
    }
    return {
      apiUrl,
      apiUrls,
      gatewayUrl,
      databaseUrl,
      temporalAddress,
      temporalUiUrl,
      kafkaBrokers: brokers.kafkaBrokers,
      amqpUrl: brokers.amqpUrl,
      rabbitmqControl: brokers.rabbitmqControl,
      env,
      processes,
      spawnProcess,
      components: () => supervisor.names(),
      pid: (name) => (supervisor.names().includes(name) ? supervisor.current(name)?.pid : undefined),
      kill: (name, signal) => supervisor.kill(name, signal),
      restart: (name, signal) => supervisor.restart(name, signal),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Starts the brokers `EVENT_SINKS` names that no URL in the environment points at. */
async function startBrokers(
  supervisor: Supervisor,
  options: StackOptions,
): Promise<{
  wanted: string[];
  kafkaBrokers: string | undefined;
  amqpUrl: string | undefined;
  rabbitmqControl: RabbitMqControl | undefined;
}> {
  const env = { ...process.env, ...options.env };
  // The brokers EVENT_SINKS names, and those the integration profiles in PROFILES use.
  const profiles = loadProfiles(
    (env.PROFILES ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean)
      .map((entry) => ({ ref: entry.replace(/:[^:]*$/, ''), tenantId: 'any' })),
  );
  const wanted = [
    ...new Set([...brokerSinks(parseEventSinks(env.EVENT_SINKS ?? 'outbox')), ...profiles.brokers()]),
  ];
  const dataDir = options.brokerDataDir ?? path.join(options.postgresDir, '..', 'brokers');
  const log = (name: string) => (line: string) => options.log(`[${name}] ${line}`);
  const started = {
    kafkaBrokers: undefined as string | undefined,
    amqpUrl: undefined as string | undefined,
    rabbitmqControl: undefined as RabbitMqControl | undefined,
  };
  const launches: Promise<unknown>[] = [];
  if (wanted.includes('kafka') && !env.KAFKA_BROKERS) {
    const port = options.kafkaPort ?? (await freePort());
    const controllerPort = await freePort();
    launches.push(
      supervisor
        .add({
          name: 'kafka',
          start: () =>
            startKafka({ port, controllerPort, dataDir: path.join(dataDir, 'kafka'), log: log('kafka') }),
        })
        .then((kafka) => (started.kafkaBrokers = kafka.brokers)),
    );
  }
  if (wanted.includes('amqp') && !env.AMQP_URL) {
    const port = options.amqpPort ?? (await freePort());
    const distPort = await freePort();
    const epmdPort = await freePort();
    launches.push(
      supervisor
        .add({
          name: 'rabbitmq',
          start: () =>
            startRabbitMq({
              port,
              distPort,
              epmdPort,
              dataDir: path.join(dataDir, 'rabbitmq'),
              log: log('rabbitmq'),
            }),
        })
        .then((rabbit) => {
          started.amqpUrl = rabbit.url;
          started.rabbitmqControl = rabbit.control;
        }),
    );
  }
  await Promise.all(launches);
  return { wanted, ...started };
}

/** Spawns `script` with `flags` (tsx among them, from source) and resolves once it prints its ready line; rejects if it exits first. */
async function spawnReady(
  name: string,
  script: string,
  flags: readonly string[],
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...flags, script], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = READY_LINES[name.replace(/-.*$/, '')] ?? /./;
  const onLine = (chunk: Buffer) =>
    chunk
      .toString()
      .split('\n')
      .filter(Boolean)
      .forEach((line) => log(`[${name}] ${line}`));
  child.stdout?.on('data', onLine);
  child.stderr?.on('data', onLine);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not become ready`)), 120_000);
      const check = (chunk: Buffer) => {
        if (ready.test(chunk.toString())) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', check);
      child.stderr?.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with code ${code} before it was ready`));
      });
    });
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  return child;
}

function childRunning(child: ChildProcess): Running {
  const exited = new Promise<number>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      return resolve(exitCode(child.exitCode, child.signalCode));
    child.once('exit', (code, signal) => resolve(exitCode(code, signal)));
  });
  return { pid: child.pid, exited, stop: () => stopChild(child) };
}

export function projectPath(...parts: string[]): string {
  return path.join(PROJECT_ROOT, ...parts);
}
