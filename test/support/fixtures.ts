import { writeFileSync } from 'node:fs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';

export const FIXTURES_DIR = 'test/fixtures';

/**
 * With RECORD_HISTORY=1, writes the run's history to `test/fixtures/<name>-history.json`, which
 * test/workflows/replay.test.ts replays against the current workflow code on every run.
 */
export async function recordHistory(
  handle: { fetchHistory(): Promise<Parameters<typeof historyToJSON>[0]> },
  name: string,
): Promise<void> {
  if (!process.env.RECORD_HISTORY) return;
  writeFileSync(`${FIXTURES_DIR}/${name}-history.json`, historyToJSON(await handle.fetchHistory()));
}
