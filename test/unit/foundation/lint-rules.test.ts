import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

// The project's own lint configuration; type-aware rules are off so an in-memory file can be linted.
const eslint = new ESLint({
  cwd: process.cwd(),
  overrideConfig: [{ files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked }],
});

/** Rules that fail for `source` as a workflow file (linted in memory, never written). */
async function lintWorkflowFile(source: string) {
  const [result] = await eslint.lintText(source, { filePath: 'src/workflows/lint-probe.ts' });
  return result?.messages.filter((m) => m.severity === 2).map((m) => m.ruleId) ?? [];
}

describe('workflow lint rules', () => {
  it.each([
    ["import { readFileSync } from 'node:fs';\nexport const x = readFileSync;\n", 'node:fs'],
    ["import { readFileSync } from 'fs';\nexport const x = readFileSync;\n", 'fs'],
    ["import axios from 'axios';\nexport const x = axios;\n", 'axios'],
    ["import { pino } from 'pino';\nexport const x = pino;\n", 'pino'],
    [
      "import { createErpActivities } from '../activities/index.js';\nexport const x = createErpActivities;\n",
      'activities (value)',
    ],
  ])('when a workflow file imports %#: %s then lint fails', async (source, _label) => {
    expect(await lintWorkflowFile(source)).toContain('no-restricted-imports');
  });

  it('when a workflow file imports activities as types only then lint passes that rule', async () => {
    const rules = await lintWorkflowFile(
      "import type * as activities from '../activities/index.js';\nexport type A = typeof activities;\n",
    );
    expect(rules).not.toContain('no-restricted-imports');
  });
});
