import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The nearest folder above `start` holding a package.json. The code runs from src/ (tsx) and from
 * the build, dist/src/ (or a test's own out dir), so the root is found rather than counted.
 */
export function packageRoot(start: string): string {
  const parent = path.dirname(start);
  if (existsSync(path.join(start, 'package.json')) || parent === start) return start;
  return packageRoot(parent);
}

/** The repository's root folder (the image's /app): migrations, `.temporal/`, `.data/` and the scripts live under it. */
export const PROJECT_ROOT = packageRoot(path.dirname(fileURLToPath(import.meta.url)));

/**
 * The file of a module of this project given by its `.js` specifier relative to `callerUrl` (an
 * `import.meta.url`): the `.ts` source when the caller runs from source, the emitted `.js` when it
 * runs from the build. For paths handed to the workflow bundler, which takes files, not specifiers.
 */
export function moduleFile(callerUrl: string, specifier: string): string {
  const caller = fileURLToPath(callerUrl);
  const file = path.resolve(path.dirname(caller), specifier);
  return path.extname(caller) === '.ts' ? file.replace(/\.js$/, '.ts') : file;
}
