import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

// The project's own lint configuration; type-aware rules are off so in-memory files can be linted.
const eslint = new ESLint({
  cwd: process.cwd(),
  overrideConfig: [{ files: ['**/*.ts'], ...tseslint.configs.disableTypeChecked }],
});

/** The layer-rule messages lint gives for `source` placed at `filePath` (the file need not exist). */
async function layerErrors(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'import-x/no-restricted-paths' || m.ruleId === null)
    .map((m) => m.message);
}

describe('layer rules', () => {
  it.each([
    ['domain imports platform', 'src/domain/probe.ts', "import { loadConfig } from '../platform/config.js';"],
    [
      'a workflow imports platform',
      'src/workflows/probe.ts',
      "import type { Config } from '../platform/config.js';",
    ],
    [
      'a workflow imports storage',
      'src/workflows/probe.ts',
      "import { openStore } from '../storage/store.js';",
    ],
    [
      'activities import the gateway',
      'src/activities/probe.ts',
      "import { createGateway } from '../gateway/app.js';",
    ],
    ['the gateway imports the CLI', 'src/gateway/probe.ts', "import { buildCli } from '../starters/cli.js';"],
    ['a dev tool imports the CLI', 'tools/probe.ts', "import { buildCli } from '../src/starters/cli.js';"],
    [
      'the worker imports a sandbox',
      'src/workers/probe.ts',
      "import { startErpSandbox } from '../../sandbox/index.js';",
    ],
    [
      'product code imports a dev tool',
      'src/platform/probe.ts',
      "import { startFullStack } from '../../tools/stack.js';",
    ],
    [
      'a sandbox imports integrations',
      'sandbox/erp/probe.ts',
      "import { createErpAdapter } from '../../src/integrations/erp/adapter.js';",
    ],
    [
      'a sandbox imports a dev tool',
      'sandbox/probe.ts',
      "import { reconcile } from '../tools/reconcile.js';",
    ],
  ])('when %s then lint fails', async (_label, file, source) => {
    const errors = await layerErrors(file, `${source}\nexport const probe = 1;\n`);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(/restricted zone/);
  });

  it.each([
    ['a workflow imports domain', 'src/workflows/probe.ts', "import { simAt } from '../domain/clock.js';"],
    [
      'a workflow imports activity types',
      'src/workflows/probe.ts',
      "import type { ErpActivities } from '../activities/erp.js';",
    ],
    [
      'the gateway imports platform',
      'src/gateway/probe.ts',
      "import { startShipment } from '../platform/shipments.js';",
    ],
    [
      'a sandbox imports domain',
      'sandbox/erp/probe.ts',
      "import { simAt } from '../../src/domain/clock.js';",
    ],
    [
      'a sandbox imports platform',
      'sandbox/probe.ts',
      "import { loadConfig } from '../src/platform/config.js';",
    ],
    [
      'a dev tool imports a sandbox',
      'tools/probe.ts',
      "import { startErpSandbox } from '../sandbox/index.js';",
    ],
    ['the CLI imports its own module', 'src/starters/probe.ts', "import { buildCli } from './cli.js';"],
  ])('when %s then lint passes', async (_label, file, source) => {
    expect(await layerErrors(file, `${source}\nexport const probe = 1;\n`)).toEqual([]);
  });
});
