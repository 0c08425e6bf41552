import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RESTART_EXIT_CODE } from '../../src/process-policy.js';
import { MINIMUM_NODE_MAJOR, nodeVersionProblem } from '../../src/require-node.mjs';

const child = (failure: 'rejection' | 'exception') =>
  spawnSync(process.execPath, ['--import', 'tsx', 'test/support/process-policy-child.ts', failure], {
    encoding: 'utf8',
    timeout: 30_000,
  });

describe('the process policy', () => {
  it('logs an unhandled rejection and keeps serving', () => {
    const result = child('rejection');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('unhandled promise rejection');
    expect(result.stdout).toContain('a query failed');
    expect(result.stdout).toContain('still serving');
  });

  it('logs an uncaught exception as fatal and exits to be restarted', () => {
    const result = child('exception');
    expect(result.status).toBe(RESTART_EXIT_CODE);
    const fatal = JSON.parse(result.stdout.split('\n').find((line) => line.includes('uncaught exception'))!);
    expect(fatal).toMatchObject({ level: 60, err: { message: 'a callback broke' } });
    expect(result.stdout).not.toContain('still serving');
  });
});

describe('the Node.js version check', () => {
  it('refuses Node 20 in one line that says what is needed and how to get it', () => {
    const problem = nodeVersionProblem('v20.20.2');
    expect(problem).toMatch(/needs Node\.js 22 or newer.*v20\.20\.2.*nvm install/);
    expect(problem).not.toContain('\n');
    expect(nodeVersionProblem('v22.22.0')).toBeUndefined();
    expect(nodeVersionProblem(process.version)).toBeUndefined();
  });

  it('agrees with package.json engines (which engine-strict enforces on install) and .nvmrc', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(pkg.engines.node).toBe(`>=${MINIMUM_NODE_MAJOR}`);
    expect(Number(readFileSync('.nvmrc', 'utf8').trim())).toBeGreaterThanOrEqual(MINIMUM_NODE_MAJOR);
    expect(readFileSync('.npmrc', 'utf8')).toMatch(/^engine-strict=true$/m);
    // npm run dev checks before tsx loads anything.
    expect(pkg.scripts.dev).toMatch(/^node src\/require-node\.mjs && /);
  });

  it("types the code against the oldest Node it runs on: @types/node's major is the engines' minimum", () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(pkg.devDependencies['@types/node']).toMatch(new RegExp(`^\\^${MINIMUM_NODE_MAJOR}\\.`));
  });
});
