import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Option } from 'commander';
import { newCommand, numberIn, runMain, UsageError } from '../../src/platform/command.js';
import { WORKFLOWS_PATH } from '../../src/workers/workers.js';
import { workflowProbe } from './workflow-probe.js';
import { generateOrders } from '../../sandbox/erp/seed.js';
import { ShipmentSettings, type ShipmentInput } from '../../src/workflows/shipment/contract.js';

/**
 * `npm run bench:workflow-memory -- [--workflows N] [--bundle shipments|baseline] [--started] [--json]`
 * What one cached workflow costs a worker: the workflows of a bundle are created N times in one reusable
 * V8 context, as a worker's workflow thread creates them when runs enter its cache, and the live heap after
 * a full collection is divided by N. Each creation evaluates the bundle's modules for that workflow (the
 * SDK keeps a module cache per workflow), so the figure is the floor of a cached run's memory before its
 * own state, and the creation time is what every run entering the cache, or replayed after an eviction,
 * pays first. `baseline` is the bench's bare-Temporal workflow, which imports only the SDK. With `--started`
 * each shipment run also runs its first workflow task on an order of the sandbox seed, until it waits for
 * its first activity, so the figure includes the state a run holds from its start.
 */

interface Options {
  workflows: number;
  started: boolean;
  bundle: 'shipments' | 'baseline';
  json: boolean;
}

const BUNDLES = {
  shipments: { path: WORKFLOWS_PATH, workflowType: 'ShipmentWorkflow' },
  baseline: {
    path: fileURLToPath(new URL('./workflows/workflow.ts', import.meta.url)),
    workflowType: 'BaselineWorkflow',
  },
} as const;

/** A full collection: `gc` made callable for this process only. */
function collector(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/**
 * Inputs of started shipment runs: the sandbox seed's orders for a weekday, the bench's compressed clock
 * anchored now, the default playbook settings.
 */
function startInputs(count: number): ShipmentInput[] {
  const date = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const orders = generateOrders(count, 80_000_000, { seed: 7, date });
  const clock = { scale: 1440, anchorRealMs: Date.now(), anchorSimMs: Date.parse(`${date}T04:00:00Z`) };
  const settings = ShipmentSettings.parse({});
  return orders.map((order) => ({ order, clock, settings, taskQueuePrefix: '' }));
}

const command = newCommand('bench:workflow-memory')
  .description('Heap and creation time of one cached workflow of a bundle, as a worker creates them.')
  .option('--workflows <n>', 'workflows to create', numberIn('--workflows', 10, 5_000, true), 200)
  .addOption(
    new Option('--bundle <name>', 'which workflows').choices(['shipments', 'baseline']).default('shipments'),
  )
  .option(
    '--started',
    'also start each shipment run with an order of the sandbox seed, so it holds its state (shipments only)',
    false,
  )
  .option('--json', 'print the result as JSON', false)
  .action(async (o: Options) => {
    if (o.started && o.bundle !== 'shipments')
      throw new UsageError('--started: only the shipments bundle starts runs');
    const gc = collector();
    const { path, workflowType } = BUNDLES[o.bundle];
    const probe = await workflowProbe(path, workflowType);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = process.hrtime.bigint();
    const inputs = o.started ? startInputs(o.workflows) : [];
    for (let i = 0; i < o.workflows; i++) {
      const workflow = await probe.create();
      if (o.started) await probe.start(workflow, [inputs[i]]);
      if (!o.json && (i + 1) % 100 === 0) process.stderr.write(`created ${i + 1}/${o.workflows}\n`);
    }
    const creationMs = Number(process.hrtime.bigint() - started) / 1e6;
    gc();
    const heapAfter = process.memoryUsage().heapUsed;
    const perWorkflowKiB = Math.round((heapAfter - heapBefore) / o.workflows / 1024);
    const result = {
      bundle: o.bundle,
      started: o.started,
      bundleKiB: probe.bundleKiB,
      workflows: o.workflows,
      heapPerWorkflowKiB: perWorkflowKiB,
      creationMsPerWorkflow: Math.round((creationMs / o.workflows) * 100) / 100,
      // Cached workflows that fit a GiB of workflow-thread heap on this floor alone.
      workflowsPerGiB: perWorkflowKiB > 0 ? Math.floor((1024 * 1024) / perWorkflowKiB) : null,
      node: process.version,
    };
    await probe.dispose();
    if (o.json) console.log(JSON.stringify(result, null, 2));
    else
      console.log(
        `${o.bundle} (${result.bundleKiB} KiB bundle): ${perWorkflowKiB} KiB of heap and ${result.creationMsPerWorkflow} ms to create${o.started ? ' and start' : ''} per cached workflow, over ${o.workflows}; at most ${result.workflowsPerGiB} per GiB of workflow heap`,
      );
  });

await runMain(command);
