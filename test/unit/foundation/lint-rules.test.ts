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

/** The rule that keeps workflow imports deterministic and free of zod (eslint.config.js, `workflowImports`). */
const RULE = '@typescript-eslint/no-restricted-imports';

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
    ["import { z } from 'zod';\nexport const x = z;\n", 'zod'],
    [
      "import { ShipmentSettings } from './shipment/contract.js';\nexport const x = ShipmentSettings;\n",
      'a contract (value)',
    ],
    ["import { Order } from '../domain/model.js';\nexport const x = Order;\n", 'domain schemas (value)'],
  ])('when a workflow file imports %#: %s then lint fails', async (source, _label) => {
    expect(await lintWorkflowFile(source)).toContain(RULE);
  });

  it.each([
    ["import type * as activities from '../activities/index.js';\nexport type A = typeof activities;\n"],
    ["import type { ShipmentSettings } from './shipment/contract.js';\nexport type S = ShipmentSettings;\n"],
    ["import { shipmentSchemas } from './lazy.js';\nexport const s = () => shipmentSchemas().ManualPod;\n"],
  ])(
    'when a workflow file imports activities or schemas as types, or schemas through lazy.ts, then lint passes that rule: %s',
    async (source) => {
      expect(await lintWorkflowFile(source)).not.toContain(RULE);
    },
  );
});
