import { existsSync } from 'node:fs';

/** Where the browser tests look for Chromium after `CHROMIUM_PATH`: Debian's path, then others'. */
const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/**
 * The Chromium the browser tests drive (puppeteer-core downloads none). Without one the tests
 * skip with one line naming what they need, except in CI (`CI=true`), where a missing browser
 * fails the run: CI installs Debian's `chromium` (.ci/run).
 */
export function findChromium(what: string): string | undefined {
  const found = [process.env.CHROMIUM_PATH, ...CANDIDATES].find(
    (candidate): candidate is string => !!candidate && existsSync(candidate),
  );
  if (found) return found;
  const needs = 'Chromium (Debian package "chromium", or CHROMIUM_PATH)';
  if (process.env.CI === 'true') throw new Error(`${what} need ${needs}, and CI runs them`);
  console.log(`skipping: ${what} need ${needs}`);
  return undefined;
}
