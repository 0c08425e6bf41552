/**
 * Settings for the Temporal dev server that `npm run dev`, the tests, the bench and the chaos
 * runner start (docs/production.md says which matter on a real cluster). Chosen by measurement
 * with `npm run bench` (bench/README.md); `TEMPORAL_DEV_TUNING=off` starts the server with the
 * CLI's defaults, to compare.
 *
 * What they cost: `journal_mode=WAL` makes a write one append instead of a rollback journal plus
 * the page; `synchronous=OFF` hands each commit to the operating system without waiting for the
 * disk. A crash of the Temporal process (or a kill -9, as the chaos run does) loses nothing, as
 * the OS still writes what it was given; an OS crash or power loss can lose the last commits and
 * may corrupt the file, which for a development database means deleting `.data/`. The
 * dynamic-config values lift the per-shard I/O and the task processors' polling rate limits,
 * which on a one-shard dev server throttle starting and completing workflows long before the CPU
 * is busy. `GOGC=400` lets the Go heap grow to five times the live data before collecting (the
 * default is twice): fewer collections for more memory, bounded by `GOMEMLIMIT`.
 */
export const SQLITE_PRAGMAS = ['journal_mode=WAL', 'synchronous=OFF'];

/** The Go runtime's garbage collector: a caller's own GOGC / GOMEMLIMIT win. */
export const GO_RUNTIME_ENV: Record<string, string> = { GOGC: '400', GOMEMLIMIT: '1536MiB' };

export const DYNAMIC_CONFIG: Record<string, number> = {
  'history.shardIOConcurrency': 16,
  'history.transferProcessorMaxPollRPS': 1000,
  'history.timerProcessorMaxPollRPS': 1000,
  'frontend.rps': 10_000,
  'frontend.namespaceRPS': 10_000,
};

export function engineArgs(options: { fileDatabase: boolean; env?: NodeJS.ProcessEnv }): string[] {
  if ((options.env ?? process.env).TEMPORAL_DEV_TUNING === 'off') return [];
  return [
    // Pragmas apply to a file database; the in-memory one (tests) has no journal to tune.
    ...(options.fileDatabase ? SQLITE_PRAGMAS.flatMap((p) => ['--sqlite-pragma', p]) : []),
    ...Object.entries(DYNAMIC_CONFIG).flatMap(([key, value]) => [
      '--dynamic-config-value',
      `${key}=${value}`,
    ]),
  ];
}

/** The environment of the dev server process: the Go runtime settings unless tuning is off. */
export function engineEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  if (env.TEMPORAL_DEV_TUNING === 'off') return env;
  return { ...GO_RUNTIME_ENV, ...env };
}
