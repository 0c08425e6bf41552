/**
 * Plain JavaScript, so that any Node.js can run it: the first thing `npm run dev` and every
 * process's main do. On an older Node the stack would otherwise start and die later with a
 * stack trace that does not name the cause (on Node 20 the worker's workflow threads fail to
 * load TypeScript with ERR_UNKNOWN_FILE_EXTENSION); this says in one line what is needed.
 */
import process from 'node:process';

/** The oldest major the project runs on; package.json's `engines` and .nvmrc agree (test/unit/process-policy.test.ts). */
export const MINIMUM_NODE_MAJOR = 22;

/**
 * Why this Node cannot run Paysaga, or undefined when it can.
 * @param {string} version as `process.version` gives it (`v20.20.2`)
 * @returns {string | undefined}
 */
export function nodeVersionProblem(version) {
  const major = Number(/^v?(\d+)\./.exec(version)?.[1]);
  if (major >= MINIMUM_NODE_MAJOR) return undefined;
  return (
    `Paysaga needs Node.js ${MINIMUM_NODE_MAJOR} or newer (24 recommended); this is Node.js ${version}. ` +
    'Get it with `nvm install` (reads .nvmrc) or from https://nodejs.org/en/download'
  );
}

const problem = nodeVersionProblem(process.version);
if (problem) {
  console.error(problem);
  process.exit(1);
}
