/**
 * A real Temporal Server on PostgreSQL (the frontend, history, matching and worker services in one
 * process), the engine `PAYSAGA_ENGINE=server` runs instead of the CLI dev server: the same
 * persistence and visibility code paths as a production cluster, with history shards, membership
 * and SQL visibility. Built once from Temporal's Go module into the git-ignored `.tools/bin/`,
 * with Temporal's own schema tool to create and upgrade the tables, and Temporal's UI server for
 * the Web UI.
 *
 * What differs from the dev server: the `default` namespace and Paysaga's search attributes are
 * registered through the API after start (SQL visibility keeps custom search attributes per
 * namespace, as aliases of preallocated columns: 10 Keyword, 3 Int per namespace); both reach the
 * services' caches within the namespace registry's refresh (2 s). The number of history shards is
 * fixed by the first start on a database; later values are ignored by the server.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time.js';
import proto from '@temporalio/proto';
import pg from 'pg';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { SEARCH_ATTRIBUTE_FLAGS } from '../../src/workflows/contract.js';
import { exitCode } from './supervisor.js';
import { stopChild, waitUntilReachable, type DevServer } from './temporal-dev-server.js';
import { DYNAMIC_CONFIG, engineEnv } from './temporal-engine.js';

export const TEMPORAL_SERVER_VERSION = 'v1.32.1';
/**
 * The newest UI server whose go.mod accepts Go 1.26.8 (the machine's; later ones ask for 1.26.10,
 * which a local toolchain refuses), released a week before the server.
 */
export const TEMPORAL_UI_VERSION = 'v2.55.0';
const TOOLS_BIN = path.join(PROJECT_ROOT, '.tools', 'bin');
const SERVER_MODULE = 'go.temporal.io/server';
const UI_MODULE = 'github.com/temporalio/ui-server/v2';
/** A first build downloads ~150 modules and compiles for minutes on two cores. */
const BUILD_TIMEOUT_MS = 20 * 60_000;
const NAMESPACE = 'default';
const RETENTION = '1 day';
const GRPC_ALREADY_EXISTS = 6;

export interface TemporalServerBinaries {
  server: string;
  sqlTool: string;
  /** PostgreSQL schemas in the module cache (the SQL tool applies the copies it embeds: same files). */
  schemaDir: string | undefined;
}

export interface TemporalServerOptions {
  /** The frontend's gRPC port, what clients dial. */
  port: number;
  /** Omit for a headless server (tests). */
  uiPort?: number | undefined;
  postgres: { host: string; port: number; user: string; password: string };
  /** The persistence database; visibility goes to `<database>_visibility`. Default `temporal`. */
  database?: string | undefined;
  /** Config files and the services' internal ports live here. */
  dataDir: string;
  /** History shards, fixed by the first start on a database. Default 4. */
  shards?: number | undefined;
  /** Dynamic-config values on top of the engine's (temporal-engine.ts). */
  dynamicConfig?: Record<string, number> | undefined;
  log?: ((line: string) => void) | undefined;
}

let building: Promise<TemporalServerBinaries> | undefined;

/** The server and the schema tool, built with `go install` the first time (5 to 10 min on 2 cores, 270 MB). */
export function ensureTemporalServer(
  log: (line: string) => void = () => undefined,
): Promise<TemporalServerBinaries> {
  building ??= buildServer(log).finally(() => (building = undefined));
  return building;
}

async function buildServer(log: (line: string) => void): Promise<TemporalServerBinaries> {
  const server = path.join(TOOLS_BIN, 'temporal-server');
  const sqlTool = path.join(TOOLS_BIN, 'temporal-sql-tool');
  if (
    !(await isBuilt(server, TEMPORAL_SERVER_VERSION)) ||
    !(await isBuilt(sqlTool, TEMPORAL_SERVER_VERSION))
  ) {
    requireGo(`Temporal Server ${TEMPORAL_SERVER_VERSION}`);
    log(`building Temporal Server ${TEMPORAL_SERVER_VERSION} into ${TOOLS_BIN} (once, 5 to 10 min)`);
    // One `go install` for both: they share most packages, so the second costs seconds.
    await goInstall(
      [
        `${SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`,
        `${SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
      ],
      { server, sql: sqlTool },
      TEMPORAL_SERVER_VERSION,
    );
  }
  return {
    server,
    sqlTool,
    schemaDir: moduleCacheDir(SERVER_MODULE, TEMPORAL_SERVER_VERSION, 'schema/postgresql/v12'),
  };
}

let buildingUi: Promise<string> | undefined;

/** Temporal's Web UI server (its module embeds the built web app), built the first time (seconds to a minute). */
export function ensureTemporalUi(log: (line: string) => void = () => undefined): Promise<string> {
  buildingUi ??= (async () => {
    const ui = path.join(TOOLS_BIN, 'temporal-ui-server');
    if (await isBuilt(ui, TEMPORAL_UI_VERSION)) return ui;
    requireGo(`the Temporal UI server ${TEMPORAL_UI_VERSION}`);
    log(`building the Temporal UI server ${TEMPORAL_UI_VERSION} into ${TOOLS_BIN} (once)`);
    await goInstall([`${UI_MODULE}/cmd/server@${TEMPORAL_UI_VERSION}`], { server: ui }, TEMPORAL_UI_VERSION);
    return ui;
  })().finally(() => (buildingUi = undefined));
  return buildingUi;
}

function requireGo(what: string): void {
  if (spawnSync('go', ['version'], { stdio: 'ignore' }).status !== 0)
    throw new Error(`building ${what} needs Go (apt-get install golang, or https://go.dev/dl/) on the PATH`);
}

/** A version file next to each binary: a new pinned version rebuilds it. */
async function isBuilt(binary: string, version: string): Promise<boolean> {
  if (!existsSync(binary)) return false;
  const built = await readFile(`${binary}.version`, 'utf8').catch(() => '');
  return built.trim() === version;
}

/**
 * `go install` into a scratch GOBIN, then renamed into place: every command is named `server`
 * (or `sql`), and a build that fails or runs in parallel leaves no half-written binary behind.
 */
async function goInstall(
  packages: string[],
  targets: Record<string, string>,
  version: string,
): Promise<void> {
  await mkdir(TOOLS_BIN, { recursive: true });
  const gobin = await mkdtemp(path.join(TOOLS_BIN, '.build-'));
  try {
    await run('go', ['install', ...packages], {
      env: { ...process.env, GOBIN: gobin },
      timeoutMs: BUILD_TIMEOUT_MS,
    });
    for (const [built, target] of Object.entries(targets)) {
      await rename(path.join(gobin, built), target);
      await writeFile(`${target}.version`, `${version}\n`);
    }
  } finally {
    await rm(gobin, { recursive: true, force: true });
  }
}

function moduleCacheDir(module: string, version: string, sub: string): string | undefined {
  const cache = spawnSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8' }).stdout?.trim();
  const dir = cache ? path.join(cache, `${module}@${version}`, sub) : undefined;
  return dir && existsSync(dir) ? dir : undefined;
}

/** A command to its end; the error carries the tail of its output. */
function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8000));
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', killOnExit);
      if (code === 0) resolve(output);
      else
        reject(
          new Error(`${path.basename(command)} ${args.join(' ')} failed (${signal ?? code}):\n${output}`),
        );
    });
  });
}

/**
 * Starts the server on the given PostgreSQL: creates its two databases and applies Temporal's
 * schemas when needed (a no-op on the next start), writes its config into `dataDir`, and
 * resolves once the `default` namespace takes Paysaga's search attributes.
 */
export async function startTemporalServer(options: TemporalServerOptions): Promise<DevServer> {
  const log = options.log ?? (() => undefined);
  const startedAt = performance.now();
  const binaries = await ensureTemporalServer(log);
  // Built (once) while the server starts; without it the server runs headless.
  const uiBinary = options.uiPort
    ? ensureTemporalUi(log).catch((error: unknown) => {
        log(`Temporal Web UI unavailable, running headless: ${String(error)}`);
        return undefined;
      })
    : undefined;
  const dataDir = path.resolve(options.dataDir);
  await mkdir(dataDir, { recursive: true });
  const database = options.database ?? 'temporal';
  const databases = { persistence: database, visibility: `${database}_visibility` };
  await createDatabases(options.postgres, Object.values(databases));
  await applySchema(binaries.sqlTool, options.postgres, databases.persistence, 'postgresql/v12/temporal');
  await applySchema(binaries.sqlTool, options.postgres, databases.visibility, 'postgresql/v12/visibility');
  const schemaMs = performance.now() - startedAt;

  const configFile = path.join(dataDir, 'temporal.yaml');
  const dynamicConfigFile = path.join(dataDir, 'dynamicconfig.yaml');
  const ports = await internalPorts(dataDir);
  await writeYaml(configFile, serverConfig({ ...options, databases, ports, dynamicConfigFile }));
  await writeYaml(dynamicConfigFile, dynamicConfig(options.dynamicConfig));

  const child = spawn(binaries.server, ['--config-file', configFile, '--allow-no-auth', 'start'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: engineEnv(),
  });
  const address = `127.0.0.1:${options.port}`;
  // While it stops, its services report each other gone: expected, and not worth showing.
  let stopping = false;
  const exited = superviseChild(child, (line) => {
    if (!stopping) log(line);
  });
  const failed = exited.then((code) => {
    throw new Error(`temporal-server exited with code ${code}`);
  });
  failed.catch(() => undefined);
  let ui: ChildProcess | undefined;
  try {
    await Promise.race([prepareNamespace(address), failed]);
    log(
      `Temporal server ${TEMPORAL_SERVER_VERSION} ready in ${seconds(performance.now() - startedAt)} ` +
        `(databases and schemas ${seconds(schemaMs)})`,
    );
    const binary = await uiBinary;
    if (options.uiPort && binary) ui = await startUi(binary, options.uiPort, address, dataDir, log);
  } catch (error) {
    await stopChild(child, 15_000);
    throw error;
  }
  return {
    address,
    uiUrl: ui ? `http://127.0.0.1:${options.uiPort}` : undefined,
    pid: child.pid,
    exited,
    stop: async () => {
      stopping = true;
      if (ui) await stopChild(ui, 2_000);
      // It hands its shards back and drains its pollers: about a second, where the dev server is instant.
      await stopChild(child, 15_000);
    },
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Its output goes to `log`; it does not outlive this process. Resolves with its exit code. */
function superviseChild(child: ChildProcess, log: (line: string) => void): Promise<number> {
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  child.stdout?.on('data', (chunk: Buffer) => log(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => log(chunk.toString()));
  return new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => resolve(exitCode(code, signal))),
  );
}

type Postgres = TemporalServerOptions['postgres'];

async function createDatabases(postgres: Postgres, names: string[]): Promise<void> {
  const client = new pg.Client({ ...postgres, database: 'postgres' });
  await client.connect();
  try {
    for (const name of names) {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (found.rowCount === 0) await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
    }
  } finally {
    await client.end();
  }
}

/**
 * Temporal's schema tool: `setup-schema -v 0.0` creates its version tables (and leaves a newer
 * version alone), `update-schema` applies the versioned steps not applied yet. `--schema-name`
 * takes the schema files the tool embeds, so they always match the server built with it.
 */
async function applySchema(
  sqlTool: string,
  postgres: Postgres,
  database: string,
  schemaName: string,
): Promise<void> {
  const common = ['--plugin', 'postgres12', '--ep', postgres.host, '-p', String(postgres.port)];
  common.push('-u', postgres.user, '--db', database);
  // The password through the environment, not the command line other users can read.
  const env = { ...process.env, SQL_PASSWORD: postgres.password };
  await run(sqlTool, [...common, 'setup-schema', '-v', '0.0'], { env, timeoutMs: 60_000 });
  await run(sqlTool, [...common, 'update-schema', '--schema-name', schemaName], { env, timeoutMs: 120_000 });
}

const SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
const PORT_NAMES = [
  ...SERVICES.map((service) => `${service}Membership` as const),
  'history',
  'matching',
  'worker',
  // Temporal's HTTP API (and Nexus): without it the frontend warns at every start.
  'frontendHttp',
] as const;
type InternalPorts = Record<(typeof PORT_NAMES)[number], number>;

/**
 * The services' own gRPC and membership ports, kept in `dataDir` and reused while free: a server
 * restarted after a crash finds its previous self in the membership table under the same
 * addresses instead of waiting on members that no longer exist.
 */
async function internalPorts(dataDir: string): Promise<InternalPorts> {
  const file = path.join(dataDir, 'ports.json');
  const previous = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as Partial<InternalPorts>;
  const ports = {} as InternalPorts;
  const taken = new Set<number>();
  for (const name of PORT_NAMES) {
    const port = previous[name];
    ports[name] = port && port <= LOW_PORTS.max && (await isFree(port)) ? port : await lowPort(taken);
    taken.add(ports[name]);
  }
  await writeFile(file, `${JSON.stringify(ports, null, 2)}\n`);
  return ports;
}

/**
 * Below the kernel's ephemeral range (32768 and up): the membership table keeps ports in a
 * SMALLINT, so a port of 32768 or more stops the server at start; and no outgoing connection
 * takes one of these as its source port between the choice and the bind.
 */
const LOW_PORTS = { min: 20_000, max: 32_767 };

async function lowPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = LOW_PORTS.min + Math.floor(Math.random() * (LOW_PORTS.max - LOW_PORTS.min + 1));
    if (!taken.has(port) && (await isFree(port))) return port;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

function serverConfig(
  options: TemporalServerOptions & {
    databases: { persistence: string; visibility: string };
    ports: InternalPorts;
    dynamicConfigFile: string;
  },
): unknown {
  const { postgres, ports } = options;
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${postgres.host}:${postgres.port}`,
      connectProtocol: 'tcp',
      user: postgres.user,
      password: postgres.password,
      // Per service, and the four services each open their own pools: 4 × (10 + 5) connections
      // of the embedded database's 200, beside Paysaga's own.
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number) => ({
    rpc: { grpcPort, membershipPort, bindOnLocalHost: true },
  });
  return {
    log: { stdout: true, level: 'warn', format: 'json' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: options.shards ?? 4,
      datastores: {
        default: store(options.databases.persistence, 10),
        visibility: store(options.databases.visibility, 5),
      },
    },
    // No pprof and no metrics endpoint: one port each that could clash, for nobody to read.
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' }, pprof: { port: 0 } },
    services: {
      frontend: { rpc: { ...rpc(options.port, ports.frontendMembership).rpc, httpPort: ports.frontendHttp } },
      history: rpc(ports.history, ports.historyMembership),
      matching: rpc(ports.matching, ports.matchingMembership),
      worker: rpc(ports.worker, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${options.port}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: options.dynamicConfigFile, pollInterval: '10s' },
  };
}

function dynamicConfig(extra: Record<string, number> | undefined): unknown {
  const values: Record<string, number | boolean> = {
    ...(process.env.TEMPORAL_DEV_TUNING === 'off' ? {} : DYNAMIC_CONFIG),
    ...extra,
  };
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [key, [{ value, constraints: {} }]]),
  );
}

/** JSON is YAML: no YAML library needed, and no quoting to get wrong. */
async function writeYaml(file: string, value: unknown): Promise<void> {
  await writeFile(
    file,
    `# Written by tools/stack/temporal-server.ts on every start.\n${JSON.stringify(value, null, 2)}\n`,
  );
}

// A CommonJS module: Node's ESM loader sees only its default export.
const { IndexedValueType } = proto.temporal.api.enums.v1;

const INDEXED_VALUE_TYPES: Record<string, proto.temporal.api.enums.v1.IndexedValueType> = {
  Text: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Int: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  Double: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
  Bool: IndexedValueType.INDEXED_VALUE_TYPE_BOOL,
  Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
  KeywordList: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
};

/** Paysaga's search attributes, from the dev server's `Name=Type` flags. */
export function searchAttributeTypes(): Record<string, proto.temporal.api.enums.v1.IndexedValueType> {
  return Object.fromEntries(
    SEARCH_ATTRIBUTE_FLAGS.map((flag) => {
      const [name = '', type = ''] = flag.split('=');
      const indexed = INDEXED_VALUE_TYPES[type];
      if (indexed === undefined) throw new Error(`unknown search attribute type in ${flag}`);
      return [name, indexed];
    }),
  );
}

/**
 * Waits for the frontend, registers the `default` namespace (the dev server creates it itself)
 * and adds the search attributes to it, then waits until a visibility query naming all of them
 * is accepted: from then on workflows can be started with them.
 */
async function prepareNamespace(address: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  await waitUntilReachable(address, timeoutMs);
  const connection = await Connection.connect({ address });
  try {
    const types = searchAttributeTypes();
    await retryUntil(deadline, 'registering the namespace', async () => {
      try {
        await connection.workflowService.registerNamespace({
          namespace: NAMESPACE,
          workflowExecutionRetentionPeriod: msToTs(RETENTION),
        });
      } catch (error) {
        if (!(isGrpcServiceError(error) && Number(error.code) === GRPC_ALREADY_EXISTS)) throw error;
      }
    });
    // Only the missing ones: the server would skip the others too, with a warning each.
    await retryUntil(deadline, 'adding the search attributes', async () => {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: NAMESPACE,
      });
      const missing = Object.entries(types).filter(([name]) => !customAttributes?.[name]);
      if (missing.length > 0)
        await connection.operatorService.addSearchAttributes({
          namespace: NAMESPACE,
          searchAttributes: Object.fromEntries(missing),
        });
    });
    const query = Object.entries(types)
      .map(([name, type]) => `${name} = ${type === IndexedValueType.INDEXED_VALUE_TYPE_INT ? 0 : "''"}`)
      .join(' AND ');
    await retryUntil(deadline, 'waiting for the search attributes', () =>
      connection.workflowService.countWorkflowExecutions({ namespace: NAMESPACE, query }),
    );
  } finally {
    await connection.close();
  }
}

async function retryUntil(deadline: number, what: string, attempt: () => Promise<unknown>): Promise<void> {
  for (;;) {
    try {
      await attempt();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`Temporal server: ${what} failed: ${String(error)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** The Web UI, pointed at the frontend; undefined (and a logged reason) when it does not start. */
async function startUi(
  binary: string,
  uiPort: number,
  address: string,
  dataDir: string,
  log: (line: string) => void,
): Promise<ChildProcess | undefined> {
  const configDir = path.join(dataDir, 'ui');
  await mkdir(configDir, { recursive: true });
  await writeYaml(path.join(configDir, 'base.yaml'), {
    temporalGrpcAddress: address,
    host: '127.0.0.1',
    port: uiPort,
    enableUi: true,
    // Its per-request access log would drown the stack's output.
    hideLogs: true,
    defaultNamespace: NAMESPACE,
    notifyOnNewVersion: false,
    cors: { cookieInsecure: true },
  });
  // `--config` is joined onto `--root`, so an absolute path would not survive.
  const child = spawn(binary, ['--root', dataDir, '--config', 'ui', '--env', 'paysaga', 'start'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // It prints which config files it loaded; only its failures are news.
  const exited = superviseChild(child, (chunk) => {
    if (/error|panic|fatal/i.test(chunk)) log(chunk);
  });
  const url = `http://127.0.0.1:${uiPort}/`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return child;
    const ended = await Promise.race([
      exited,
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 250)),
    ]);
    if (ended !== undefined || Date.now() > deadline) {
      await stopChild(child, 2_000);
      log(
        `Temporal Web UI did not start${ended !== undefined ? ` (exit code ${ended})` : ''}; running headless`,
      );
      return undefined;
    }
  }
}
