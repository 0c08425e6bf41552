/**
 * Settings for the Temporal dev server that `npm run dev`, the tests, the bench and the chaos
 * runner start (docs/production.md says which matter on a real cluster). Chosen by measurement
 * with `npm run bench` (bench/README.md); `TEMPORAL_DEV_TUNING=off` starts the server with the
 * CLI's defaults, to compare.
 *
 * What they cost: `journal_mode=WAL` makes a write one append instead of a rollback journal plus
 * the page; `synchronous=NORMAL` in WAL mode syncs at checkpoints, not on every commit, so a
 * crash of the Temporal process (or a kill -9) loses nothing, and only an OS crash or power loss
 * can lose the last commits (never corrupt the file). The dynamic-config values lift the
 * per-shard I/O and the task processors' polling rate limits, which on a one-shard dev server
 * throttle starting and completing workflows long before the CPU is busy.
 */
export const SQLITE_PRAGMAS = ['journal_mode=WAL', 'synchronous=NORMAL'];

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
