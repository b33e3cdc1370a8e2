import { resolve } from 'node:path';
import { Option } from 'commander';
import { newCommand, numberIn, runMain } from '../src/platform/command.js';
import { loadConfig } from '../src/platform/config.js';
import { startFullStack, type StackBackend } from './stack.js';

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
    'compressed clock: simulated seconds per real second',
    numberIn('--scale', 1, 100_000),
    1,
  )
  .option('--seed <n>', 'seed of the sandboxes', numberIn('--seed', 0, 2 ** 31, true), 1)
  .option(
    '--deliveries <n>',
    'released ERP deliveries to create once everything runs (pushed to the gateway)',
    numberIn('--deliveries', 0, 20_000, true),
    0,
  )
  .option('--simulator', 'play planned routes with the driver simulator')
  .allowExcessArguments(false)
  .action(
    async (o: {
      gateways: number;
      workers: number;
      backend: StackBackend;
      scale: number;
      seed: number;
      deliveries: number;
      simulator?: boolean;
    }) => {
      const say = (line: string) => process.stdout.write(`${line}\n`);
      const stack = await startFullStack({
        dataDir: resolve(loadConfig().SHIPSYNC_DATA_DIR, 'stack'),
        backend: o.backend,
        gateways: o.gateways,
        workers: o.workers,
        scale: o.scale,
        seed: o.seed,
        say,
        simulator: { enabled: o.simulator === true },
        rescheduleRate: 0,
        startDelayMs: 0,
        showChildOutput: true,
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
      say('press Ctrl-C to stop everything');
      // startFullStack stops every process, server and throwaway database on SIGINT/SIGTERM, then exits.
      await new Promise(() => {});
    },
  );

await runMain(program);
