/**
 * `npm run fuzz`: property-based fuzzing of the HTTP API with Schemathesis, runnable in CI.
 *
 * 1. Installs Schemathesis (pinned) from PyPI into the git-ignored virtualenv `.venv-fuzz/` on
 *    first use (python3 -m venv + pip).
 * 2. Starts the whole stack on free ports (embedded PostgreSQL in a 0755 folder under the system
 *    temp dir, Temporal dev server in memory, gateway, worker, API), as the test suite does.
 * 3. Runs `schemathesis run <api>/docs/json` with `Authorization: Bearer sk_test_paysaga`, every
 *    default check plus not_a_server_error, status_code_conformance, content_type_conformance and
 *    response_schema_conformance, `--max-examples` per operation and a hard process timeout.
 *    `/v1/ledger/verify` is fuzzed too, with the admin key (set per operation in
 *    scripts/fuzz/schemathesis.toml).
 * 4. Checks the ledger invariants after the run, stops the stack, prints the counts and exits
 *    non-zero on any failure, error or timeout.
 *
 * While it runs, a line a minute says how many requests the API has answered and how many of them
 * took over 5 s; when Schemathesis is stopped by the timeout, the database sessions still busy and
 * the stack log's last lines are printed, so a stall in CI says where it stood.
 *
 * Environment: FUZZ_MAX_EXAMPLES (default 150), FUZZ_TIMEOUT_SECONDS (hard limit on Schemathesis,
 * default 600; a run here takes about 200 s), FUZZ_SEED (reproduce a run), FUZZ_WORKERS (default 2), PYTHON (default python3).
 * Reports (JSON and HAR) land in .tmp/fuzz/; the stack's log in .tmp/fuzz-stack.log.
 */
import { spawn, spawnSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { DEV_ADMIN_KEY, DEV_API_KEY } from '../src/config.js';
import { projectPath, startStack, type Stack } from '../tools/stack/stack.js';

const SCHEMATHESIS_VERSION = '4.32.5';
const VENV = projectPath('.venv-fuzz');
const SCHEMATHESIS = path.join(VENV, 'bin', 'schemathesis');
const CONFIG = projectPath('scripts', 'fuzz', 'schemathesis.toml');
const REPORT_DIR = projectPath('.tmp', 'fuzz');
const STACK_LOG = projectPath('.tmp', 'fuzz-stack.log');
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_schema_conformance',
];

const startedAt = Date.now();
const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(1)}s`;
const say = (line: string) => console.log(`[fuzz +${elapsed()}] ${line}`);

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

function installedVersion(): string | undefined {
  if (!existsSync(SCHEMATHESIS)) return undefined;
  const result = spawnSync(SCHEMATHESIS, ['--version'], { encoding: 'utf8', timeout: 60_000 });
  return /version\s+(\S+)/.exec(result.stdout ?? '')?.[1];
}

function run(command: string, args: string[], timeoutMs: number): void {
  const result = spawnSync(command, args, { stdio: 'inherit', timeout: timeoutMs, killSignal: 'SIGKILL' });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}`);
}

/** The pinned Schemathesis in .venv-fuzz/, installed from PyPI on first use. */
function ensureSchemathesis(): void {
  if (installedVersion() === SCHEMATHESIS_VERSION) return;
  say(`installing schemathesis ${SCHEMATHESIS_VERSION} into ${path.relative(projectPath(), VENV)}/`);
  if (!existsSync(path.join(VENV, 'bin', 'python')))
    run(process.env.PYTHON ?? 'python3', ['-m', 'venv', VENV], 120_000);
  run(
    path.join(VENV, 'bin', 'python'),
    [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      `schemathesis==${SCHEMATHESIS_VERSION}`,
    ],
    600_000,
  );
  const version = installedVersion();
  if (version !== SCHEMATHESIS_VERSION) throw new Error(`schemathesis ${version ?? 'missing'} after install`);
}

/**
 * CPython 3.11 keeps the AST constructor's recursion depth in state that every thread shares, so
 * two threads parsing at once can fail with "SystemError: AST constructor recursion depth
 * mismatch" (python/cpython#106905). Hypothesis parses lambda sources to describe strategies, and
 * with `--workers 2` Schemathesis's two threads did so together: one CI run reported that crash as
 * a Runtime Error on an operation the API had answered correctly. A `.pth` file in the venv makes
 * `ast.parse` take a lock, so the fuzzer's own threads cannot race; the API is not involved.
 * Written on every run, not only at install: a venv installed before the hook existed gets it too.
 */
function ensureAstParseLock(): void {
  const python = path.join(VENV, 'bin', 'python');
  const result = spawnSync(python, ['-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const sitePackages = result.stdout?.trim();
  if (result.status !== 0 || !sitePackages)
    throw new Error(`cannot find the fuzz venv's site-packages: ${result.stderr}`);
  writeFileSync(path.join(sitePackages, 'paysaga_ast_lock.py'), AST_LOCK_MODULE);
  writeFileSync(path.join(sitePackages, 'paysaga_ast_lock.pth'), 'import paysaga_ast_lock\n');
}

const AST_LOCK_MODULE = [
  '"""Serializes ast.parse across threads (python/cpython#106905). Written by scripts/fuzz.ts."""',
  'import ast',
  'import threading',
  '',
  '_lock = threading.Lock()',
  '_parse = ast.parse',
  '',
  '',
  'def _locked_parse(*args, **kwargs):',
  '    with _lock:',
  '        return _parse(*args, **kwargs)',
  '',
  '',
  'ast.parse = _locked_parse',
  '',
].join('\n');

interface Outcome {
  exitCode: number | null;
  timedOut: boolean;
}

/**
 * Runs Schemathesis in its own process group so a timeout kills it and anything it started;
 * `beforeStop` looks at the stack first, while whatever stalled is still there.
 */
function runSchemathesis(
  args: string[],
  timeoutSeconds: number,
  beforeStop: () => Promise<void>,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    // Unbuffered: its phase lines reach a piped CI log as they happen, not at exit (a run killed
    // by the timeout would lose them).
    const child = spawn(SCHEMATHESIS, args, {
      stdio: 'inherit',
      detached: true,
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
    });
    activeChild = child.pid;
    let timedOut = false;
    const kill = (signal: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      say(`schemathesis still running after ${timeoutSeconds}s: stopping it`);
      void beforeStop().finally(() => {
        kill('SIGTERM');
        setTimeout(() => kill('SIGKILL'), 5_000).unref();
      });
    }, timeoutSeconds * 1000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      activeChild = undefined;
      resolve({ exitCode: code, timedOut });
    });
  });
}

interface Counts {
  requests: number | undefined;
  operations: number | undefined;
  testCases: number | undefined;
  failures: number | undefined;
  errors: number | undefined;
}

/** The API's answers so far, from its Prometheus histogram: all of them, and those over 5 s. */
async function answered(apiUrl: string): Promise<string> {
  const text = await (await fetch(`${apiUrl}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  let all = 0;
  let within5s = 0;
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('paysaga_http_request_duration_seconds_count{')) all += value;
    else if (line.startsWith('paysaga_http_request_duration_seconds_bucket{') && line.includes('le="5"'))
      within5s += value;
  }
  return `${all} requests answered, ${all - within5s} of them in over 5 s`;
}

/** Sessions busy for over 5 s (a lock wait or a stuck transaction would show here). */
async function busySessions(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ line: string }>(
      `SELECT format('%s s %s %s/%s: %s', round(extract(epoch FROM now() - coalesce(xact_start, query_start))),
                     state, coalesce(wait_event_type, '-'), coalesce(wait_event, '-'), left(query, 160)) AS line
         FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND state <> 'idle' AND backend_type = 'client backend'
          AND coalesce(xact_start, query_start) < now() - interval '5 seconds'
        ORDER BY coalesce(xact_start, query_start)`,
    );
    return rows.map((row) => row.line);
  } finally {
    await client.end();
  }
}

async function diagnose(current: Stack): Promise<void> {
  say(
    `at the stop: ${await answered(current.apiUrl).catch((error: Error) => `metrics unread: ${error.message}`)}`,
  );
  const sessions = await busySessions(current.databaseUrl).catch((error: Error) => [
    `sessions unread: ${error.message}`,
  ]);
  say(`database sessions busy for over 5 s: ${sessions.length === 0 ? 'none' : ''}`);
  for (const line of sessions) console.log(`  ${line}`);
  const log = readFileSync(STACK_LOG, 'utf8').trimEnd().split('\n').slice(-40);
  say(`the stack log's last ${log.length} lines (${path.relative(projectPath(), STACK_LOG)}):`);
  for (const line of log) console.log(`  ${line}`);
}

/** Counts from Schemathesis's JSON report (operations, test cases, failures) and HAR (requests). */
function readCounts(): Counts {
  const counts: Counts = {
    requests: undefined,
    operations: undefined,
    testCases: undefined,
    failures: undefined,
    errors: undefined,
  };
  const files = existsSync(REPORT_DIR) ? readdirSync(REPORT_DIR) : [];
  // A run stopped by the timeout leaves empty or partial reports: counts stay unknown then.
  const read = <T>(prefix: string): T | undefined => {
    const file = files.find((f) => f.startsWith(prefix));
    if (!file) return undefined;
    try {
      return JSON.parse(readFileSync(path.join(REPORT_DIR, file), 'utf8')) as T;
    } catch {
      return undefined;
    }
  };
  const report = read<{
    operations?: { tested?: number };
    test_cases?: { generated?: number; unique_failures?: number };
    errors?: unknown[];
  }>('json-');
  counts.operations = report?.operations?.tested;
  counts.testCases = report?.test_cases?.generated;
  counts.failures = report?.test_cases?.unique_failures;
  counts.errors = report?.errors?.length;
  counts.requests = read<{ log?: { entries?: unknown[] } }>('har-')?.log?.entries?.length;
  return counts;
}

async function ledgerViolations(apiUrl: string): Promise<string | undefined> {
  const response = await fetch(`${apiUrl}/v1/ledger/verify`, {
    headers: { authorization: `Bearer ${DEV_ADMIN_KEY}` },
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await response.json()) as { ok?: boolean };
  return response.status === 200 && body.ok === true
    ? undefined
    : `${response.status} ${JSON.stringify(body)}`;
}

let stack: Stack | undefined;
let tempDir: string | undefined;
let activeChild: number | undefined;

async function cleanUp(): Promise<void> {
  if (activeChild) {
    try {
      process.kill(-activeChild, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await stack?.stop().catch(() => undefined);
  stack = undefined;
  if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  tempDir = undefined;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping`);
    void cleanUp().then(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  const maxExamples = positiveInt('FUZZ_MAX_EXAMPLES', 150);
  const timeoutSeconds = positiveInt('FUZZ_TIMEOUT_SECONDS', 600);
  const workers = positiveInt('FUZZ_WORKERS', 2);
  const seed = process.env.FUZZ_SEED;

  ensureSchemathesis();
  ensureAstParseLock();

  mkdirSync(path.dirname(STACK_LOG), { recursive: true });
  writeFileSync(STACK_LOG, '');
  tempDir = mkdtempSync(path.join(tmpdir(), 'paysaga-fuzz-'));
  chmodSync(tempDir, 0o755); // PostgreSQL runs as the postgres user when we are root
  say('starting the stack');
  stack = await startStack({
    postgresDir: path.join(tempDir, 'postgres'),
    persistentPostgres: false,
    // One key sends all of the load: the rate limiter is not what this measures.
    env: { RATE_LIMIT_MAX: '1000000000', RATE_LIMIT_ANONYMOUS_MAX: '1000000000', LOG_LEVEL: 'warn' },
    log: (line) => appendFileSync(STACK_LOG, `${line}\n`),
    onChildExit: (name, code) => {
      appendFileSync(STACK_LOG, `!! ${name} exited with code ${code}\n`);
      say(`!! ${name} exited with code ${code} (see ${path.relative(projectPath(), STACK_LOG)})`);
    },
  });
  say(`stack up: API ${stack.apiUrl}`);

  rmSync(REPORT_DIR, { recursive: true, force: true });
  mkdirSync(REPORT_DIR, { recursive: true });
  const args = [
    '--config-file',
    CONFIG,
    'run',
    `${stack.apiUrl}/docs/json`,
    '--header',
    `Authorization: Bearer ${DEV_API_KEY}`,
    // Schemathesis's defaults are every check; these four are named so the run insists on them.
    '--checks',
    ['all', ...CHECKS].join(','),
    '--max-examples',
    String(maxExamples),
    '--workers',
    String(workers),
    '--request-timeout',
    '30',
    '--report',
    'json,har',
    '--report-dir',
    REPORT_DIR,
    ...(seed ? ['--seed', seed] : []),
  ];
  say(`schemathesis ${args.join(' ').replace(DEV_API_KEY, '<sk_test key>')}`);
  const current = stack;
  const progress = setInterval(() => {
    answered(current.apiUrl).then(say, (error: Error) => say(`metrics unread: ${error.message}`));
  }, 60_000);
  const outcome = await runSchemathesis(args, timeoutSeconds, () =>
    diagnose(current).catch((error: Error) => say(`diagnosis failed: ${error.message}`)),
  ).finally(() => clearInterval(progress));

  const violations = await ledgerViolations(stack.apiUrl).catch((error: Error) => error.message);
  await cleanUp();

  const counts = readCounts();
  const show = (n: number | undefined) => (n === undefined ? '?' : String(n));
  say(
    `result: ${show(counts.requests)} requests, ${show(counts.operations)} operations, ` +
      `${show(counts.testCases)} test cases, ${show(counts.failures)} failures, ${show(counts.errors)} errors; ` +
      `schemathesis exit ${outcome.exitCode}${outcome.timedOut ? ' (timed out)' : ''}; ` +
      `ledger ${violations ? `VIOLATED: ${violations}` : 'clean'}; total ${elapsed()}`,
  );
  const failed =
    outcome.timedOut ||
    outcome.exitCode !== 0 ||
    counts.failures === undefined ||
    counts.failures > 0 ||
    (counts.errors ?? 0) > 0 ||
    violations !== undefined;
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(error);
    await cleanUp();
    process.exit(1);
  },
);
