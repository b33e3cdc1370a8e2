import { Option } from 'commander';
import { newCommand, numberIn, runCommand } from '../../src/platform/command.js';

/** Where Temporal and the gateway inbox keep their state during a campaign. */
export type ChaosBackend = 'devserver' | 'postgres';

/** The most gateway or worker processes a campaign starts on one machine. */
export const MAX_PROCESSES = 8;

/** Options of one campaign. */
export interface ChaosOptions {
  shipments: number;
  seed: number;
  scale: number;
  json: boolean;
  /** Real seconds after simulated 04:00 to wait for every shipment to close. */
  timeoutSeconds: number;
  /** `devserver`: Temporal dev server on SQLite; `postgres`: Temporal server and the inbox on PostgreSQL. */
  backend: ChaosBackend;
  /** Gateway processes (more than one share a PostgreSQL inbox). */
  gateways: number;
  /** Worker processes. */
  workers: number;
}

/** Above this many shipments the campaign's day runs slower and is given longer. */
const LARGE_CAMPAIGN = 200;
const DEFAULT_SCALE = 720;
const LARGE_SCALE = 120;
/**
 * A failed first attempt comes back on the customer's next service day, up to a week later (a customer
 * served on Tuesdays only, a Friday start before a weekend): the campaign waits 8 simulated days at most.
 */
const WAIT_DAYS = 8;
/** The default wait at a scale: 8 simulated days in real seconds, and a minute more. */
const defaultTimeoutSeconds = (scale: number) => Math.ceil((WAIT_DAYS * 86_400) / scale) + 60;
const MAX_TIMEOUT = 14_400;

/** The command line of `npm run chaos`; `run` plays the campaign and returns the exit code. */
export function chaosCommand(run: (opts: ChaosOptions) => Promise<number>) {
  return newCommand('chaos')
    .description('play the demo under a fault campaign and check that nothing is lost or duplicated')
    .option('--shipments <n>', 'deliveries to seed', numberIn('--shipments', 1, 2000, true), 200)
    .option('--seed <n>', 'seed of every random choice', numberIn('--seed', 0, 2 ** 31 - 1, true), 7)
    .option(
      '--scale <x>',
      `simulated seconds per real second (default ${DEFAULT_SCALE}; ${LARGE_SCALE} above ${LARGE_CAMPAIGN} shipments, so two cores keep up with the day)`,
      numberIn('--scale', 60, 5000),
    )
    .option(
      '--timeout <seconds>',
      `give up waiting for shipments this long after simulated 04:00 (default ${WAIT_DAYS} simulated days: ${defaultTimeoutSeconds(DEFAULT_SCALE)} at ×${DEFAULT_SCALE}, ${defaultTimeoutSeconds(LARGE_SCALE)} at ×${LARGE_SCALE})`,
      numberIn('--timeout', 150, MAX_TIMEOUT, true),
    )
    .addOption(
      new Option(
        '--backend <kind>',
        'devserver: Temporal dev server on SQLite; postgres: Temporal server and the gateway inbox on PostgreSQL',
      )
        .choices(['devserver', 'postgres'])
        .default('devserver'),
    )
    .option(
      '--gateways <n>',
      'gateway processes; more than one share a PostgreSQL inbox',
      numberIn('--gateways', 1, MAX_PROCESSES, true),
      1,
    )
    .option('--workers <n>', 'worker processes', numberIn('--workers', 1, MAX_PROCESSES, true), 1)
    .option('--json', 'print the summary as JSON on stdout (progress stays on stderr)')
    .allowExcessArguments(false)
    .action(
      async (o: {
        shipments: number;
        seed: number;
        scale?: number;
        timeout?: number;
        json?: boolean;
        backend: ChaosBackend;
        gateways: number;
        workers: number;
      }) => {
        const scale = o.scale ?? (o.shipments > LARGE_CAMPAIGN ? LARGE_SCALE : DEFAULT_SCALE);
        process.exitCode = await run({
          shipments: o.shipments,
          seed: o.seed,
          scale,
          json: o.json === true,
          timeoutSeconds: o.timeout ?? Math.min(MAX_TIMEOUT, defaultTimeoutSeconds(scale)),
          backend: o.backend,
          gateways: o.gateways,
          workers: o.workers,
        });
      },
    );
}

/** Runs the command line with user arguments; returns the exit code (2 with one line on bad input). */
export function runChaosCli(argv: string[], run: (opts: ChaosOptions) => Promise<number>): Promise<number> {
  return runCommand(chaosCommand(run), argv);
}
