import { Option } from 'commander';
import { newCommand, numberIn } from '../../src/platform/command.js';

/** Options of `npm run demo`. */
export interface DemoOptions {
  shipments: number;
  scale: number;
  seed: number;
  keepRunning: boolean;
  json: boolean;
  /** Kill the worker with SIGKILL this many seconds into the run, then start it again. */
  killWorkerAfterSeconds?: number;
  /** Give up waiting for shipments to close after this many real seconds. */
  timeoutSeconds: number;
  /**
   * Make the ERP refuse this milestone code for good; once the day has played, the reconciliation job reports
   * the parked items and the operator lifts the rule and retries them.
   */
  rejectMilestone?: string;
}

/** The demo's command line; `run` gets the parsed options and returns the exit code. */
export function demoCommand(run: (opts: DemoOptions) => Promise<number>) {
  return newCommand('demo')
    .description('run the whole stack and play the scenario on the compressed clock, then reconcile')
    .option('--shipments <n>', 'deliveries to seed', numberIn('--shipments', 1, 5000, true), 50)
    .option('--scale <n>', 'simulated seconds per real second', numberIn('--scale', 1, 20_000), 1440)
    .option('--seed <n>', 'seed of every random choice', numberIn('--seed', 0, 2 ** 31, true), 7)
    .option('--keep-running', 'leave the stack up for the Web UI')
    .addOption(
      new Option(
        '--kill-worker-after <seconds>',
        'kill the worker with SIGKILL after this many seconds, then restart it',
      ).argParser(numberIn('--kill-worker-after', 0, 86_400)),
    )
    .option(
      '--timeout <seconds>',
      'give up waiting for shipments to close after this long',
      numberIn('--timeout', 1, 86_400),
      600,
    )
    .addOption(
      new Option(
        '--reject-milestone <code>',
        'make the ERP refuse this milestone for good (e.g. DISPATCHED); the operator clears it after the day',
      ).choices(['PLANNED', 'DISPATCHED', 'DELAYED', 'FAILED_ATTEMPT', 'DELIVERED', 'RETURNED']),
    )
    .option('--json', 'print the summary as JSON on standard output (progress goes to standard error)')
    .allowExcessArguments(false)
    .action(
      async (o: {
        shipments: number;
        scale: number;
        seed: number;
        keepRunning?: boolean;
        killWorkerAfter?: number;
        timeout: number;
        json?: boolean;
        rejectMilestone?: string;
      }) => {
        process.exitCode = await run({
          shipments: o.shipments,
          scale: o.scale,
          seed: o.seed,
          keepRunning: o.keepRunning === true,
          json: o.json === true,
          killWorkerAfterSeconds: o.killWorkerAfter,
          timeoutSeconds: o.timeout,
          ...(o.rejectMilestone ? { rejectMilestone: o.rejectMilestone } : {}),
        });
      },
    );
}
