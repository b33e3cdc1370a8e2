import { CommanderError, InvalidArgumentError, Option } from 'commander';
import { newCommand, numberIn, UsageError } from '../../src/platform/command.js';

/** History shards of the bench's PostgreSQL Temporal server unless `--history-shards` says otherwise. */
export const DEFAULT_BENCH_SHARDS = 4;

/** What `npm run bench` was asked to do. */
export interface BenchOptions {
  shipments: number;
  rate: number;
  backend: 'devserver' | 'postgres';
  scale: number;
  seed: number;
  json: boolean;
  curve?: number[];
  /** Curve only: how many of the runs in flight are released and drained (the rest stay parked). */
  drainSample?: number;
  rescheduleShare: number;
  timeoutSeconds: number;
  /** PostgreSQL backend: history shards of the bench's Temporal databases. */
  historyShards: number;
  /** Full stack only: where the worker and gateway processes write their CPU profiles. */
  cpuProfileDir?: string;
}

/** Parses a comma-separated list of positive integers such as `1000,5000`. */
export function parseCounts(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 100_000)) {
    throw new InvalidArgumentError(
      'expected a comma-separated list of integers from 1 to 100000, e.g. 1000,5000',
    );
  }
  return parts.map(Number);
}

/** The bench's command line; `run` gets the parsed options and returns the exit code. */
export function benchCommand(run: (opts: BenchOptions) => Promise<number> | number) {
  return newCommand('bench')
    .description('End-to-end benchmark of shipsync against a bare-Temporal baseline of the same shape.')
    .option('--shipments <n>', 'deliveries to release', numberIn('--shipments', 1, 20_000, true), 200)
    .option('--rate <r>', 'shipment starts per second', numberIn('--rate', 0.1, 1000), 12)
    .addOption(
      new Option('--backend <kind>', 'Temporal server')
        .choices(['devserver', 'postgres'])
        .default('devserver'),
    )
    .option('--scale <s>', 'simulated seconds per real second', numberIn('--scale', 1, 20_000), 1440)
    .option('--seed <n>', 'seed of every random choice', numberIn('--seed', 0, 2 ** 31, true), 7)
    .option(
      '--reschedule-share <f>',
      'share of shipments the bench reschedules once planned',
      numberIn('--reschedule-share', 0, 1),
      0.1,
    )
    .option(
      '--timeout <seconds>',
      'give up waiting for shipments to close after this long',
      numberIn('--timeout', 10, 36_000),
      1800,
    )
    .option(
      '--history-shards <n>',
      `with --backend postgres: the Temporal server's history shards (default ${DEFAULT_BENCH_SHARDS}, as npm run temporal:postgres and the compose file)`,
      numberIn('--history-shards', 1, 64, true),
    )
    .option(
      '--curve <n1,n2,...>',
      'instead of the full stack: baseline-shaped runs parked in flight at these counts',
      parseCounts,
    )
    .option(
      '--drain-sample <n>',
      'with --curve: release and drain only this many of the runs in flight; the rest stay parked',
      numberIn('--drain-sample', 1, 100_000, true),
    )
    .option(
      '--cpu-prof <dir>',
      'full stack only: write a V8 CPU profile of each worker and gateway process to <dir>/<process>/',
    )
    .option('--json', 'print JSON instead of a table')
    .allowExcessArguments(false)
    .action(
      (o: {
        shipments: number;
        rate: number;
        backend: 'devserver' | 'postgres';
        scale: number;
        seed: number;
        rescheduleShare: number;
        timeout: number;
        curve?: number[];
        drainSample?: number;
        historyShards?: number;
        cpuProf?: string;
        json?: boolean;
      }) => {
        if (o.historyShards !== undefined && o.backend !== 'postgres')
          throw new UsageError('--history-shards needs --backend postgres');
        if (o.drainSample !== undefined && !o.curve) throw new UsageError('--drain-sample needs --curve');
        if (o.cpuProf !== undefined && o.curve)
          throw new UsageError('--cpu-prof profiles the full stack, not --curve');
        const code = run({
          shipments: o.shipments,
          rate: o.rate,
          backend: o.backend,
          scale: o.scale,
          seed: o.seed,
          json: o.json ?? false,
          curve: o.curve,
          drainSample: o.drainSample,
          rescheduleShare: o.rescheduleShare,
          timeoutSeconds: o.timeout,
          historyShards: o.historyShards ?? DEFAULT_BENCH_SHARDS,
          ...(o.cpuProf !== undefined ? { cpuProfileDir: o.cpuProf } : {}),
        });
        return Promise.resolve(code).then((c) => {
          process.exitCode = c;
        });
      },
    );
}

/** Parses the command line without running anything; throws UsageError on bad input. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  let parsed: BenchOptions | undefined;
  try {
    benchCommand((o) => {
      parsed = o;
      return Number(process.exitCode ?? 0);
    }).parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const text = err instanceof CommanderError ? err.message : String(err);
    throw new UsageError(text.replace(/^error: /, '').split('\n')[0]);
  }
  if (!parsed) throw new UsageError('nothing to run');
  return parsed;
}
