import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { moduleFile, packageRoot } from '../../src/project-root.js';

describe('finding the project from source and from the build', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'paysaga-root-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('takes the nearest folder with a package.json, however deep the build put the code', () => {
    writeFileSync(path.join(root, 'package.json'), '{}');
    const built = path.join(root, 'dist', 'src');
    mkdirSync(built, { recursive: true });
    expect(packageRoot(path.join(root, 'src'))).toBe(root);
    expect(packageRoot(built)).toBe(root);
  });

  it('names the .ts source from a .ts caller and the emitted .js from a .js caller', () => {
    const from = (file: string) => pathToFileURL(path.join(root, file)).href;
    expect(moduleFile(from('src/worker/bundle.ts'), '../workflows/index.js')).toBe(
      path.join(root, 'src/workflows/index.ts'),
    );
    expect(moduleFile(from('dist/src/worker/bundle.js'), '../workflows/index.js')).toBe(
      path.join(root, 'dist/src/workflows/index.js'),
    );
  });
});
