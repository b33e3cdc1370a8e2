import { resolve } from 'node:path';
import { Option } from 'commander';
import { newCommand, numberIn, runMain, sandboxEntryPoint } from '../src/platform/command.js';
import { loadConfig } from '../src/platform/config.js';
import { operatorFor, playDay, progressLine, releaseDay } from './day/play.js';
import { reconcile } from './reconcile.js';
import { startFullStack, type FullStack, type StackBackend } from './stack.js';

/**
 * Plays a day of `shipments` on the running stack as the demo does (releases, operator passes, reconciliation
 * across ERP, dispatch and CRM); true when every shipment closed and nothing mismatched.
 */
async function playOn(
  stack: FullStack,
  o: { shipments: number; seed: number; timeoutSeconds: number },
  say: (line: string) => void,
): Promise<boolean> {
  const orders = await releaseDay(stack, { shipments: o.shipments, seed: o.seed, mismatchRate: 0.05 }, say);
  const operator = operatorFor(stack, orders, 'stack');
  let lastLine = '';
  await playDay(operator, {
    deadlineMs: Date.now() + o.timeoutSeconds * 1000,
    everyMs: 1000,
    afterPass: (phases) => {
      const line = progressLine(stack.clock, operator, phases);
      if (line !== lastLine) say(line);
      lastLine = line;
    },
  });
  await stack.crm.drain();
  const found = await reconcile({
    client: stack.client,
    say: say,
    erpUrl: stack.erp.url,
    dispatchUrl: stack.dispatch.url,
    crmUrl: stack.crm.url,
    orders,
    results: operator.results,
  });
  const closed = operator.results.size + operator.closedWithoutResult.size;
  say(
    `played ${orders.length} shipments: ${closed} closed; reconciliation checked ${found.checked}, ${found.mismatches.length} mismatches, ${found.billingDocuments} billing documents, duplicate effects ERP ${found.duplicateErpEffects} / dispatch ${found.duplicateDispatchEffects} / CRM ${found.duplicateCrmEffects}`,
  );
  for (const m of found.mismatches.slice(0, 20)) say(`  mismatch: ${m}`);
  return closed === orders.length && found.mismatches.length === 0;
}

/**
 * `npm run stack -- [--gateways N] [--workers N] [--backend devserver|postgres]`: the production topology
 * without containers: Temporal (the dev server, or Temporal server on PostgreSQL), the three sandboxes, N
 * gateways on their own ports sharing one PostgreSQL inbox and N workers; prints every URL and stops
 * everything on Ctrl-C.
 */
const program = newCommand('stack')
  .description('Temporal, the sandboxes, N gateways and N workers on this machine, until Ctrl-C')
  .option(
    '--gateways <n>',
    'gateway processes (more than one share a PostgreSQL inbox)',
    numberIn('--gateways', 1, 16, true),
    1,
  )
  .option('--workers <n>', 'worker processes', numberIn('--workers', 1, 16, true), 1)
  .addOption(
    new Option(
      '--backend <kind>',
      'devserver: Temporal dev server and SQLite; postgres: Temporal server and inbox on PostgreSQL',
    )
      .choices(['devserver', 'postgres'])
      .default('devserver'),
  )
  .option(
    '--scale <x>',
    'compressed clock: simulated seconds per real second (default 1, or 1440 with --play)',
    numberIn('--scale', 1, 100_000),
  )
  .option('--seed <n>', 'seed of the sandboxes', numberIn('--seed', 0, 2 ** 31, true), 1)
  .option(
    '--deliveries <n>',
    'released ERP deliveries to create once everything runs (pushed to the gateway)',
    numberIn('--deliveries', 0, 20_000, true),
    0,
  )
  .option('--simulator', 'play planned routes with the driver simulator')
  .option(
    '--play <shipments>',
    'play a day of this many shipments as the demo does (driver simulator on, default --scale 1440), reconcile, stop; exit 0 only when it reconciles clean',
    numberIn('--play', 1, 20_000, true),
  )
  .option(
    '--timeout <seconds>',
    'give the played day up after this long',
    numberIn('--timeout', 1, 86_400),
    600,
  )
  .allowExcessArguments(false)
  .action(
    async (o: {
      gateways: number;
      workers: number;
      backend: StackBackend;
      scale?: number;
      seed: number;
      deliveries: number;
      simulator?: boolean;
      play?: number;
      timeout: number;
    }) => {
      const playing = o.play !== undefined;
      const say = (line: string) => process.stdout.write(`${line}\n`);
      const stack = await startFullStack({
        dataDir: resolve(loadConfig().SHIPSYNC_DATA_DIR, 'stack'),
        backend: o.backend,
        gateways: o.gateways,
        workers: o.workers,
        scale: o.scale ?? (playing ? 1440 : 1),
        seed: o.seed,
        say,
        simulator: playing
          ? { enabled: true, failureRate: 0.1, delayRate: 0.1, damageRate: 0.03 }
          : { enabled: o.simulator === true },
        rescheduleRate: playing ? 0.1 : 0,
        // A played day starts 25 s after boot, so every process is up at simulated 04:00.
        startDelayMs: playing ? undefined : 0,
        showChildOutput: !playing,
      });
      if (o.deliveries > 0) stack.erp.seed(o.deliveries);
      say('');
      say(
        `Temporal          ${stack.temporalAddress}${stack.uiUrl ? `  Web UI ${stack.uiUrl}` : ''} (${o.backend})`,
      );
      stack.gatewayUrls.forEach((url, i) => {
        say(
          `gateway-${i + 1}         ${url}  (API docs ${url}/docs, ops ${url}/ops, pid ${stack.gateways()[i]?.pid ?? '?'})`,
        );
      });
      say(`gateway inbox     ${stack.databaseUrl ?? 'SQLite in the data directory'}`);
      stack.workers().forEach((w, i) => say(`worker-${i + 1}          pid ${w.pid ?? '?'}`));
      say(`ERP sandbox       ${stack.erp.url}  (releases pushed to ${stack.gatewayUrl})`);
      say(
        `dispatch sandbox  ${stack.dispatch.url}  (webhook triggers spread over ${stack.gatewayUrls.length} gateway(s))`,
      );
      say(`CRM sandbox       ${stack.crm.url}`);
      if (o.deliveries > 0) say(`released ${o.deliveries} ERP deliveries`);
      say(`CLI               SHIPSYNC_TEMPORAL_ADDRESS=${stack.temporalAddress} npx shipsync list`);
      if (o.play !== undefined) {
        let clean = false;
        try {
          clean = await playOn(stack, { shipments: o.play, seed: o.seed, timeoutSeconds: o.timeout }, say);
        } finally {
          await stack.stop();
        }
        process.exit(clean ? 0 : 1);
      }
      say('press Ctrl-C to stop everything');
      // startFullStack stops every process, server and throwaway database on SIGINT/SIGTERM, then exits.
      await new Promise(() => {});
    },
  );

sandboxEntryPoint('stack');
await runMain(program);
