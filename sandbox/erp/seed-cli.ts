import axios from 'axios';
import { newCommand, numberIn, runMain, UsageError } from '../../src/platform/command.js';
import { loadConfig, useSandboxProfile } from '../../src/platform/config.js';

/**
 * `npm run seed:erp -- --count 200 [--url URL] [--date 2026-12-01] [--regions CHI,DAL] [--seed 42]
 * [--mismatch-rate 0.05] [--json]`: creates released deliveries in a running ERP sandbox (by default the one
 * SHIPSYNC_ERP_URL points at) and prints their numbers.
 */
function command() {
  useSandboxProfile('seed-erp');
  const config = loadConfig();
  return newCommand('seed-erp')
    .description('create released outbound deliveries in the ERP sandbox')
    .requiredOption('--count <n>', 'deliveries to create', numberIn('--count', 0, 20_000, true))
    .option('--url <url>', 'sandbox base URL (default: SHIPSYNC_ERP_URL)', config.SHIPSYNC_ERP_URL)
    .option('--date <yyyy-mm-dd>', 'planned delivery date (default: next weekday)')
    .option('--regions <list>', 'comma-separated regions (CHI,DAL,ATL,PHX,NYC)')
    .option('--seed <n>', 'seed of this batch', numberIn('--seed', 0, 2 ** 31, true))
    .option(
      '--mismatch-rate <share>',
      'share of deliveries with a ZIP that does not match city/state',
      numberIn('--mismatch-rate', 0, 1),
    )
    .option('--json', 'print the created orders as JSON')
    .allowExcessArguments(false)
    .action(seed);
}

async function seed(o: {
  count: number;
  url: string;
  date?: string;
  regions?: string;
  seed?: number;
  mismatchRate?: number;
  json?: boolean;
}) {
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
    throw res.status < 500 ? new UsageError(msg) : new Error(msg);
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

await runMain(command);
