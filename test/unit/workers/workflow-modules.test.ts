import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowProbe, type WorkflowProbe } from '../../../tools/bench/workflow-probe.js';
import { WORKFLOWS_PATH } from '../../../src/workers/workers.js';

/*
 * A worker keeps up to its cache size of shipment runs, and each run evaluates, for itself, every module it
 * imports. zod and the contracts' schemas cost about 1.3 MiB a run and luxon about 95 KiB, so the workflows
 * import only the halves without them and load the rest when they need it (`src/workflows/lazy.ts`). These
 * tests hold that line: an import that brings them back into every run fails here, naming the module.
 */

let probe: WorkflowProbe;

beforeAll(async () => {
  probe = await workflowProbe(WORKFLOWS_PATH, 'ShipmentWorkflow');
}, 120_000);

afterAll(async () => {
  await probe?.dispose();
});

describe('the modules a cached shipment run evaluates', () => {
  it('when a shipment run is created then it evaluates its own workflow modules but no zod, no luxon and no contract schemas', async () => {
    const modules = probe.modulesOf(await probe.create());
    // The run did evaluate the workflow's modules, so an empty or unread cache cannot pass.
    expect(modules).toContain('./src/workflows/shipment/workflow.ts');
    expect(modules).toContain('./src/workflows/shipment/messages.ts');
    expect(modules.filter((m) => /node_modules\/(zod|luxon)\//.test(m))).toEqual([]);
    expect(
      modules.filter((m) =>
        /\/contract\.ts$|\/domain\/(model|clock|events|local-time|service-days)\.ts$/.test(m),
      ),
    ).toEqual([]);
  });
});

describe('a bundle of compiled workflows', () => {
  it('when compiled ES modules load the contract on first use then the bundle resolves it and the run evaluates it', async () => {
    const path = fileURLToPath(new URL('./fixtures/workflows/index.js', import.meta.url));
    const compiled = await workflowProbe(path, 'CompiledWorkflow');
    try {
      const modules = compiled.modulesOf(await compiled.create());
      expect(modules.find((m) => m.endsWith('/fixtures/workflows/contract.js'))).toBeDefined();
    } finally {
      await compiled.dispose();
    }
  });
});
