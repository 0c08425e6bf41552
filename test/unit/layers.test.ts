import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cruise, type ICruiseResult, type IFlattenedRuleSet } from 'dependency-cruiser';

/** The project's layer rules (.dependency-cruiser.cjs), the same file `npm run lint` checks src/ with. */
const config = createRequire(import.meta.url)('../../.dependency-cruiser.cjs') as Required<
  Pick<IFlattenedRuleSet, 'forbidden'>
>;

const trees: string[] = [];
afterAll(() => trees.forEach((tree) => rmSync(tree, { recursive: true, force: true })));

/** The rules broken by a small tree of files (`path → source`), cruised as src/ is. */
async function violations(files: Record<string, string>): Promise<string[]> {
  const root = mkdtempSync(join(tmpdir(), 'paysaga-layers-'));
  trees.push(root);
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(join(root, dirname(path)), { recursive: true });
    writeFileSync(join(root, path), source);
  }
  const { output } = await cruise(['src'], {
    baseDir: root,
    ruleSet: { forbidden: config.forbidden },
    validate: true,
  });
  return (output as ICruiseResult).summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
}

describe('layer rules', () => {
  it('pass a tree whose arrows all point down', async () => {
    expect(
      await violations({
        'src/domain/money.ts': 'export const cents = 1;\n',
        'src/db/ledger.ts': "import { cents } from '../domain/money.js';\nexport const post = cents;\n",
        'src/app/payments.ts': "import { post } from '../db/ledger.js';\nexport const pay = post;\n",
        'src/api/routes.ts': "import { pay } from '../app/payments.js';\nexport const route = pay;\n",
        'src/workflows/payment.ts': "import { cents } from '../domain/money.js';\nexport const wf = cents;\n",
      }),
    ).toEqual([]);
  });

  it('fail a deliberate violation of each kind', async () => {
    const found = await violations({
      'src/domain/money.ts': "import { route } from '../api/routes.js';\nexport const cents = route;\n",
      'src/api/routes.ts': "import { post } from '../db/ledger.js';\nexport const route = post;\n",
      'src/db/ledger.ts': "import { pay } from '../app/payments.js';\nexport const post = pay;\n",
      'src/app/payments.ts': "import { handle } from '../commands/handler.js';\nexport const pay = handle;\n",
      'src/commands/handler.ts': "export const handle = 1;\nexport { route } from '../api/routes.js';\n",
      'src/workflows/payment.ts': "import { post } from '../db/ledger.js';\nexport const wf = post;\n",
      'src/worker/main.ts': "import { stack } from '../../tools/stack/stack.js';\nexport const w = stack;\n",
      'tools/stack/stack.ts': 'export const stack = 1;\n',
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'domain-is-pure: src/domain/money.ts → src/api/routes.ts',
        'api-through-app: src/api/routes.ts → src/db/ledger.ts',
        'infrastructure-stays-low: src/db/ledger.ts → src/app/payments.ts',
        'app-below-adapters: src/app/payments.ts → src/commands/handler.ts',
        'commands-apart: src/commands/handler.ts → src/api/routes.ts',
        'workflows-are-deterministic: src/workflows/payment.ts → src/db/ledger.ts',
        'src-not-harness: src/worker/main.ts → tools/stack/stack.ts',
      ]),
    );
    expect(found.some((v) => v.startsWith('no-circular:'))).toBe(true);
  });
});
