import os from 'node:os';
import { newCommand, numberIn, runMain } from '../../src/platform/command.js';
import { optimizeWithStats } from '../../sandbox/dispatch/optimizer/optimize.js';
import { validateResult } from '../../sandbox/dispatch/optimizer/validate.js';
import {
  GEHRING_HOMBERGER_INSTANCES,
  loadVrplib,
  solutionDistance,
  toOptimizeInput,
  vrptwDataDir,
} from '../../sandbox/dispatch/optimizer/vrplib.js';

/**
 * Runs the route optimiser on the full Gehring & Homberger 1,000-customer VRPTW instances, certifies each
 * result with the validator and reports the distance gap to the best-known solution.
 *
 * npm run bench:optimizer -- [--instances C1_10_1,R1_10_1] [--time-limit-ms 50000] [--seed 1] [--json]
 */

/** Default per-instance time limit: leaves headroom under the 60 s target on a busy 2-core machine. */
const DEFAULT_TIME_LIMIT_MS = 50_000;

/** One instance's measured figures. */
interface InstanceRow {
  instance: string;
  customers: number;
  served: number;
  vehicles: number;
  bksVehicles: number | null;
  distance: number;
  bks: number | null;
  gapPercent: number | null;
  runTimeMs: number;
  feasible: boolean;
  violations: string[];
  iterations: number;
}

/** What one run of the optimiser bench was asked for. */
interface OptimizerBenchOptions {
  instances: string[];
  timeLimitMs: number;
  seed: number;
  json: boolean;
}

/** The command line of `npm run bench:optimizer`. */
function command() {
  return newCommand('bench-optimizer')
    .description('the route optimiser on the Gehring & Homberger 1,000-customer VRPTW instances')
    .option(
      '--instances <list>',
      'comma-separated instance names',
      (v: string) =>
        v
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      [...GEHRING_HOMBERGER_INSTANCES],
    )
    .option(
      '--time-limit-ms <ms>',
      'time limit per instance',
      numberIn('--time-limit-ms', 1, 3_600_000),
      DEFAULT_TIME_LIMIT_MS,
    )
    .option('--seed <n>', 'seed of the search', numberIn('--seed', 0, 2 ** 31, true), 1)
    .option('--json', 'print JSON instead of a table')
    .allowExcessArguments(false)
    .action((o: { instances: string[]; timeLimitMs: number; seed: number; json?: boolean }) =>
      main({ ...o, json: o.json === true }),
    );
}

/** Runs and certifies one instance. */
function runInstance(name: string, dir: string, timeLimitMs: number, seed: number): InstanceRow {
  // The clock includes reading the files and building the matrix, so the time is what a caller waits.
  const started = performance.now();
  const { instance, bks } = loadVrplib(name, dir);
  const input = toOptimizeInput(instance, { timeLimitMs, seed });
  const { result, stats } = optimizeWithStats(input);
  const runTimeMs = performance.now() - started;
  const report = validateResult(input, result);
  const bksDistance = bks ? solutionDistance(instance, bks) : null;
  return {
    instance: name,
    customers: input.jobs.length,
    served: report.served,
    vehicles: report.vehicles,
    bksVehicles: bks ? bks.routes.length : null,
    distance: round1(report.distance),
    bks: bks ? bks.cost : null,
    gapPercent: bksDistance ? round2(((report.distance - bksDistance) / bksDistance) * 100) : null,
    runTimeMs: Math.round(runTimeMs),
    feasible: report.feasible,
    violations: report.violations.slice(0, 10),
    iterations: stats.ruinRecreate.iterations,
  };
}

/** Rounds to one decimal, the DIMACS precision. */
function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

/** Rounds to two decimals. */
function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** Renders the rows as a Markdown table. */
function table(rows: InstanceRow[]): string {
  const lines = [
    '| Instance | Served | Vehicles (BKS) | Distance | BKS | Gap % | Time s | Feasible |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.instance} | ${r.served}/${r.customers} | ${r.vehicles} (${r.bksVehicles ?? '-'}) | ${r.distance.toFixed(1)} | ${
        r.bks?.toFixed(1) ?? '-'
      } | ${r.gapPercent?.toFixed(2) ?? '-'} | ${(r.runTimeMs / 1000).toFixed(1)} | ${r.feasible ? 'yes' : 'NO'} |`,
    );
  }
  return lines.join('\n');
}

/** Entry point. */
function main(args: OptimizerBenchOptions): void {
  const dir = vrptwDataDir();
  const rows: InstanceRow[] = [];
  for (const name of args.instances) {
    process.stderr.write(`[bench] ${name}: solving for up to ${args.timeLimitMs} ms...\n`);
    const row = runInstance(name, dir, args.timeLimitMs, args.seed);
    process.stderr.write(
      `[bench] ${name}: ${row.distance} (gap ${row.gapPercent ?? '-'}%), ${row.vehicles} vehicles, ` +
        `${row.served}/${row.customers} served, ${row.feasible ? 'feasible' : 'INFEASIBLE'}, ${row.runTimeMs} ms\n`,
    );
    rows.push(row);
  }
  const gaps = rows.map((r) => r.gapPercent).filter((g): g is number => g !== null);
  const averageGapPercent = gaps.length > 0 ? round2(gaps.reduce((a, b) => a + b, 0) / gaps.length) : null;
  const allServed = rows.every((r) => r.served === r.customers);
  const allFeasible = rows.every((r) => r.feasible);
  if (args.json) {
    const document = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? 'unknown', node: process.version },
      timeLimitMs: args.timeLimitMs,
      seed: args.seed,
      dataDir: dir,
      instances: rows,
      averageGapPercent,
      allServed,
      allFeasible,
    };
    process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
  } else {
    process.stdout.write(`${table(rows)}\n\n`);
    process.stdout.write(
      `Average gap: ${averageGapPercent ?? '-'}%  all served: ${allServed}  all feasible: ${allFeasible}\n`,
    );
  }
  if (!allFeasible) process.exitCode = 1;
}

await runMain(command);
