/**
 * CI's closing line: the totals of the vitest JSON reports named on the command line, printed
 * as `tests: N passed, N failed, N skipped` so that a reader of the run's last lines sees what
 * ran (the fuzzer's and chaos run's own summaries come earlier). Exits 1 when a report is
 * missing, counts no test, or counts a failure.
 */
import { readFileSync } from 'node:fs';

interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numTotalTests: number;
}

const totals = { passed: 0, failed: 0, skipped: 0, total: 0 };
const reports = process.argv.slice(2);
for (const file of reports) {
  const report = JSON.parse(readFileSync(file, 'utf8')) as VitestReport;
  totals.passed += report.numPassedTests;
  totals.failed += report.numFailedTests;
  totals.skipped += report.numPendingTests + report.numTodoTests;
  totals.total += report.numTotalTests;
}
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
if (reports.length === 0 || totals.total === 0 || totals.failed > 0) process.exitCode = 1;
