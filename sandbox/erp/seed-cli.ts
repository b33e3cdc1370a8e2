import axios from 'axios';
import { Command, InvalidArgumentError } from 'commander';

/**
 * Seeds a running ERP sandbox with released deliveries:
 * `tsx src/sandbox/erp/seed-cli.ts --count 200 --url http://127.0.0.1:4001 [--date 2026-12-01]
 * [--regions CHI,DAL] [--seed 42] [--mismatch-rate 0.05]`. Prints the created delivery numbers.
 */
function int(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a non-negative integer');
  return Number(value);
}

function rate(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a number from 0 to 1');
  return n;
}

const program = new Command()
  .name('erp-seed')
  .description('create released outbound deliveries in the ERP sandbox')
  .requiredOption('--count <n>', 'deliveries to create', int)
  .option('--url <url>', 'sandbox base URL', 'http://127.0.0.1:4001')
  .option('--date <yyyy-mm-dd>', 'planned delivery date (default: next weekday)')
  .option('--regions <list>', 'comma-separated regions (CHI,DAL,ATL,PHX,NYC)')
  .option('--seed <n>', 'seed of this batch', int)
  .option('--mismatch-rate <share>', 'share of deliveries with a ZIP that does not match city/state', rate)
  .option('--json', 'print the created orders as JSON');

async function main() {
  program.parse();
  const o = program.opts<{
    count: number;
    url: string;
    date?: string;
    regions?: string;
    seed?: number;
    mismatchRate?: number;
    json?: boolean;
  }>();
  const res = await axios.post(
    `${o.url.replace(/\/+$/, '')}/__sandbox/seed`,
    {
      count: o.count,
      ...(o.date ? { date: o.date } : {}),
      ...(o.regions ? { regions: o.regions.split(',').map((r) => r.trim().toUpperCase()) } : {}),
      ...(o.seed !== undefined ? { seed: o.seed } : {}),
      ...(o.mismatchRate !== undefined ? { mismatchRate: o.mismatchRate } : {}),
    },
    { validateStatus: () => true, timeout: 60_000 },
  );
  if (res.status !== 201) {
    const msg =
      (res.data as { error?: { message?: { value?: string } } })?.error?.message?.value ??
      `HTTP ${res.status}`;
    throw new Error(msg);
  }
  const data = res.data as { created: number; deliveries: string[]; orders: unknown[] };
  if (o.json) console.log(JSON.stringify(data.orders, null, 2));
  else {
    const ids = data.deliveries;
    console.log(
      `created ${data.created} released deliveries${ids.length ? `: ${ids[0]} .. ${ids[ids.length - 1]}` : ''}`,
    );
  }
}

main().catch((err: unknown) => {
  console.error(`erp-seed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
