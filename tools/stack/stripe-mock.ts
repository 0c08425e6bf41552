/**
 * stripe-mock, Stripe's own mock of its API driven by Stripe's OpenAPI spec: every request is
 * validated against the real API's shapes (unknown parameters, wrong types and missing fields are
 * refused as Stripe would), and answered with fixtures. It is stateless and never declines or
 * sends webhooks. Built once from the Go module proxy into the git-ignored `.tools/bin/`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../src/project-root.js';
import { startChildServer } from './child-server.js';
import type { Running } from './supervisor.js';

export const STRIPE_MOCK_VERSION = 'v0.203.0';
const TOOLS_BIN = path.join(PROJECT_ROOT, '.tools', 'bin');
export const STRIPE_MOCK_HOW_TO_GET = `Go (apt-get install golang), to build stripe-mock ${STRIPE_MOCK_VERSION} once; or STRIPE_MOCK_BIN`;

export interface StripeMock extends Running {
  /** `http://127.0.0.1:<port>`, what STRIPE_API_BASE takes. */
  url: string;
}

/** The stripe-mock binary: STRIPE_MOCK_BIN, the one built into `.tools/bin`, or one on the PATH. */
export function findStripeMock(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.STRIPE_MOCK_BIN) return env.STRIPE_MOCK_BIN;
  const built = path.join(TOOLS_BIN, 'stripe-mock');
  if (existsSync(built)) return built;
  return spawnSync('stripe-mock', ['-h'], { stdio: 'ignore' }).error ? undefined : 'stripe-mock';
}

/** What is missing to run stripe-mock here, or undefined. */
export function stripeMockMissing(): string | undefined {
  if (findStripeMock()) return undefined;
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0 ? undefined : STRIPE_MOCK_HOW_TO_GET;
}

/** The binary, built with `go install` the first time (a few seconds once the module is cached). */
export function ensureStripeMock(log: (line: string) => void = () => undefined): string {
  const found = findStripeMock();
  if (found) return found;
  const missing = stripeMockMissing();
  if (missing) throw new Error(`cannot run stripe-mock here: it needs ${missing}`);
  mkdirSync(TOOLS_BIN, { recursive: true });
  log(`building stripe-mock ${STRIPE_MOCK_VERSION} into ${TOOLS_BIN} (once)`);
  const go = spawnSync('go', ['install', `github.com/stripe/stripe-mock@${STRIPE_MOCK_VERSION}`], {
    env: { ...process.env, GOBIN: TOOLS_BIN },
    encoding: 'utf8',
  });
  if (go.status !== 0) throw new Error(`building stripe-mock failed:\n${go.stdout}${go.stderr}`);
  return path.join(TOOLS_BIN, 'stripe-mock');
}

export async function startStripeMock(options: {
  port: number;
  log?: (line: string) => void;
}): Promise<StripeMock> {
  const log = options.log ?? (() => undefined);
  const address = `127.0.0.1:${options.port}`;
  const running = await startChildServer({
    name: 'stripe-mock',
    command: ensureStripeMock(log),
    // Its HTTPS listener (unused) takes a free port: the default 12112 would clash with any other
    // stripe-mock on the machine, and stripe-mock exits when it cannot bind it.
    args: ['-http-addr', address, '-https-addr', '127.0.0.1:'],
    ready: /Listening for HTTP/,
    // Its request log echoes request bodies: only a crash is worth passing on.
    notable: /panic/i,
    log,
    timeoutMs: 30_000,
    stopGraceMs: 2_000,
  });
  return { ...running, url: `http://${address}` };
}
