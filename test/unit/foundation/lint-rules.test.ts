import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { afterEach, describe, expect, it } from 'vitest';

const written: string[] = [];
afterEach(() => {
  for (const f of written.splice(0)) rmSync(f, { force: true });
});

async function lintWorkflowFile(source: string) {
  const file = join(process.cwd(), 'src', 'workflows', `lint-probe-${randomUUID().slice(0, 8)}.ts`);
  writeFileSync(file, source);
  written.push(file);
  const [result] = await new ESLint({ cwd: process.cwd() }).lintFiles([file]);
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
