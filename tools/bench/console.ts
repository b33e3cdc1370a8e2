import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { chromium, type Page } from 'playwright-core';
import { createGateway } from '../../src/gateway/app.js';
import { TEMPORAL_CHANNEL_ARGS } from '../../src/gateway/temporal.js';
import { newCommand, numberIn, runMain, sandboxEntryPoint } from '../../src/platform/command.js';
import { loadConfig, sandboxToken } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { openStore, type Store } from '../../src/storage/store.js';
import { percentile } from '../../src/domain/kpis.js';
import { SeededRandom } from '../../sandbox/common/rng.js';

/**
 * `npm run bench:console -- [--shipments N] [--runs R] [--json]`
 * Fills a fresh ODS with a day of N synthetic shipments (stops, cases, timelines), serves the ops console from
 * an in-process gateway and loads each view R times in headless Chromium: first contentful paint of the
 * page and the time until each view shows its data. No Temporal is needed: the console reads only the ODS.
 */

interface Options {
  shipments: number;
  runs: number;
  json: boolean;
}

const DAY = '2026-12-01';
const REGIONS = ['CHI', 'NYC', 'DAL', 'ATL', 'LAX'];
const PHASES = [
  ['closed', 0.55],
  ['in_transit', 0.12],
  ['planned', 0.1],
  ['published', 0.06],
  ['awaiting_approval', 0.04],
  ['billing', 0.03],
  ['failed_attempt', 0.03],
  ['on_hold', 0.02],
  ['returning', 0.02],
  ['delivered', 0.03],
] as const;
const KINDS = ['failed_attempt', 'delay', 'damage', 'address_mismatch', 'missing_pod', 'no_assignment'];

const iso = (ms: number) => new Date(ms).toISOString();

/** Writes N synthetic shipments of one day into the store's ODS tables, in batches. */
async function fill(store: Store, n: number): Promise<{ cases: number; events: number }> {
  // Seeded, so every run fills the same day.
  const seeded = new SeededRandom(42);
  const r = () => seeded.next();
  const db = store.db.kysely;
  const dayStart = Date.parse(`${DAY}T00:00:00Z`);
  let cases = 0;
  let events = 0;
  const batch = 200;
  for (let i = 0; i < n; i += batch) {
    const shipments = [];
    const stops = [];
    const caseRows = [];
    const eventRows = [];
    for (let j = i; j < Math.min(n, i + batch); j++) {
      const id = `shipment-B${String(j).padStart(9, '0')}`;
      let x = r();
      const phase = PHASES.find(([, share]) => (x -= share) < 0)?.[0] ?? 'closed';
      const ws = dayStart + (8 + Math.floor(r() * 9)) * 3600_000;
      const we = ws + 2 * 3600_000;
      const arrived = ['closed', 'delivered', 'billing', 'awaiting_approval'].includes(phase);
      const arrival = ws + (r() * 2.6 - 0.3) * 3600_000;
      const eta = arrival + (r() - 0.5) * 40 * 60_000;
      const attempts = phase === 'failed_attempt' || r() < 0.06 ? 2 : 1;
      const delivered = arrived ? iso(arrival + 10 * 60_000) : null;
      const billed = phase === 'closed' ? iso(arrival + (20 + r() * 120) * 60_000) : null;
      const charges = [
        { code: 'BASE', description: '', quantity: 1, unitPrice: 80, amount: 80, currency: 'USD' },
      ];
      if (phase === 'awaiting_approval')
        charges.push({
          code: 'LIFTGATE',
          description: '',
          quantity: 1,
          unitPrice: 75,
          amount: 75,
          currency: 'USD',
        });
      const region = REGIONS[j % REGIONS.length]!;
      shipments.push({
        shipment_id: id,
        delivery_id: id.slice(9),
        customer_id: `C${1000 + (j % 300)}`,
        region,
        day: DAY,
        phase,
        window_start: iso(ws),
        window_end: iso(we),
        eta: iso(eta),
        task_id: `tsk${j}`,
        driver_id: `drv-${j % 400}`,
        route_id: `route-${j % 400}`,
        attempts,
        charges: JSON.stringify(charges),
        charges_total: charges.reduce((a, c) => a + c.amount, 0),
        awaiting_approval: phase === 'awaiting_approval' ? 1 : 0,
        approvals: '[]',
        approvals_required: phase === 'awaiting_approval' ? 1 : null,
        billing_document_id: billed ? `9${String(j).padStart(9, '0')}` : null,
        outcome: arrived ? 'delivered' : null,
        workflow_status: phase === 'closed' ? 'COMPLETED' : 'RUNNING',
        published_at: iso(dayStart + 5 * 3600_000),
        assigned_at: iso(dayStart + 6 * 3600_000 + r() * 30 * 60_000),
        delivered_at: delivered,
        billed_at: billed,
        closed_at: billed,
        updated_at: new Date().toISOString(),
      });
      stops.push({
        shipment_id: id,
        attempt: 1,
        task_id: `tsk${j}`,
        window_start: iso(ws),
        window_end: iso(we),
        planned_eta: iso(eta),
        first_eta: iso(eta),
        arrived_at: arrived ? iso(arrival) : null,
        completed_at: delivered,
        failed_at: null,
        failure_reason: null,
      });
      if (r() < 0.1) {
        const open = r() < 0.5;
        const opened = ws + r() * 3 * 3600_000;
        caseRows.push({
          case_key: `${id}:${1000 + j}`,
          shipment_id: id,
          case_id: String(1000 + j),
          kind: KINDS[Math.floor(r() * KINDS.length)]!,
          region,
          opened_at: iso(opened),
          resolved_at: open ? null : iso(opened + r() * 4 * 3600_000),
        });
      }
      for (const [k, type] of [
        'route.assigned.v1',
        'stop.started.v1',
        'stop.arrived.v1',
        'milestone.planned',
      ].entries())
        eventRows.push({
          event_id: `${id}:e${k}`,
          shipment_id: id,
          type,
          at: iso(ws - (3 - k) * 1800_000),
          detail: JSON.stringify({ attempt: 1, taskId: `tsk${j}` }),
        });
    }
    await db.insertInto('ods_shipments').values(shipments).execute();
    await db.insertInto('ods_stops').values(stops).execute();
    if (caseRows.length) await db.insertInto('ods_cases').values(caseRows).execute();
    await db.insertInto('ods_events').values(eventRows).execute();
    cases += caseRows.length;
    events += eventRows.length;
  }
  // The rows were written directly: their derived KPI columns are computed once, as the ODS's writes do.
  await store.ods.refreshKpiColumns();
  return { cases, events };
}

/** The views, each with the element that shows once its data is on the page. */
const VIEWS = [
  { view: 'today', hash: '#/today', ready: '[data-testid=phase-table] tbody tr' },
  { view: 'exceptions', hash: '#/exceptions', ready: '[data-testid=exceptions-table] tbody tr' },
  { view: 'shipment', hash: '#/shipment/shipment-B000000001', ready: '[data-testid=timeline] tr' },
  { view: 'invoice-ready', hash: '#/invoices', ready: '[data-testid=invoice-table] tbody tr' },
  { view: 'dead-letters', hash: '#/dead-letters', ready: '[data-testid=dead-letters]' },
  { view: 'health', hash: '#/health', ready: '[data-testid=vendors]' },
] as const;

/** Loads one view in a fresh document; returns first contentful paint and the time until its data shows. */
async function loadView(page: Page, url: string, hash: string, ready: string) {
  // Away first, so each load is a new document (a hash change alone would reuse the page).
  await page.goto('about:blank');
  const started = Date.now();
  await page.goto(`${url}/ops/${hash}`);
  await page.waitForSelector(ready, { timeout: 30_000 });
  const viewMs = Date.now() - started;
  const fcp = await page.evaluate(
    () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
  );
  return { viewMs, firstPaintMs: fcp === null ? null : Math.round(fcp) };
}

async function run(o: Options): Promise<number> {
  const chromiumPath = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(
    (p): p is string => !!p && existsSync(p),
  );
  if (!chromiumPath) {
    console.error('bench:console needs Chromium (Debian chromium, or CHROMIUM_PATH)');
    return 2;
  }
  const dir = mkdtempSync(join(tmpdir(), 'shipsync-bench-console-'));
  const config = loadConfig({
    ...process.env,
    SHIPSYNC_LOG_LEVEL: 'silent',
    SHIPSYNC_ODS_SWEEP_SECONDS: '0',
    // Simulated now is the afternoon of the synthetic day, so the today view shows it.
    SHIPSYNC_TIME_SCALE: '1',
    SHIPSYNC_CLOCK_ANCHOR_REAL_MS: String(Date.now()),
    SHIPSYNC_CLOCK_ANCHOR_SIM: `${DAY}T15:00:00Z`,
  });
  const store = await openStore({ backend: 'sqlite', file: join(dir, 'gateway.sqlite') });
  const filledAt = Date.now();
  const filled = await fill(store, o.shipments);
  const fillMs = Date.now() - filledAt;
  const connection = Connection.lazy({ address: '127.0.0.1:1', channelArgs: TEMPORAL_CHANNEL_ARGS });
  const client = new Client({ connection, namespace: config.SHIPSYNC_TEMPORAL_NAMESPACE });
  const gateway = await createGateway({
    config,
    client,
    store,
    logger: createLogger({ level: 'silent' }),
    defaultMetrics: false,
  });
  await gateway.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(gateway.server.address() as AddressInfo).port}`;

  // The JSON behind each view, timed on its own (median of the runs), to tell server time from browser time.
  const api: Record<string, number> = {};
  const auth = { authorization: `Bearer ${sandboxToken('admin')}` };
  for (const path of [
    '/v1/ops/today',
    '/v1/ops/exceptions',
    '/v1/ops/shipments/shipment-B000000001',
    '/v1/ops/invoice-ready',
    '/v1/dead-letters?status=open&limit=200',
    '/v1/ops/health',
  ]) {
    const times: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      const t0 = performance.now();
      const res = await fetch(`${url}${path}`, { headers: auth });
      await res.arrayBuffer();
      times.push(Math.round(performance.now() - t0));
    }
    api[path] = percentile(times, 50) ?? 0;
  }

  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // Signs in once: the token stays in this tab's sessionStorage for every later load.
  await page.goto(`${url}/ops/#token=${sandboxToken('admin')}`);
  await page.waitForSelector('[data-testid=principal]');
  const views: {
    view: string;
    viewMs: { p50: number; max: number };
    firstPaintMs: { p50: number | null; max: number | null };
  }[] = [];
  for (const v of VIEWS) {
    const samples = [];
    for (let i = 0; i < o.runs; i++) samples.push(await loadView(page, url, v.hash, v.ready));
    const viewMs = samples.map((s) => s.viewMs);
    const fcp = samples.map((s) => s.firstPaintMs).filter((x): x is number => x !== null);
    views.push({
      view: v.view,
      viewMs: { p50: percentile(viewMs, 50) ?? 0, max: Math.max(...viewMs) },
      firstPaintMs: { p50: percentile(fcp, 50), max: fcp.length ? Math.max(...fcp) : null },
    });
  }
  await browser.close();
  await gateway.close();
  await store.close();
  await connection.close();
  rmSync(dir, { recursive: true, force: true });

  const slowest = Math.max(...views.map((v) => v.viewMs.max), ...views.map((v) => v.firstPaintMs.max ?? 0));
  const result = {
    shipments: o.shipments,
    cases: filled.cases,
    events: filled.events,
    runsPerView: o.runs,
    fillMs,
    apiMs: api,
    views,
    underOneSecond: slowest < 1000,
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model ?? 'unknown',
      node: process.version,
      loadAverage1m: Math.round(loadavg()[0]! * 100) / 100,
    },
  };
  if (o.json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(
      `${o.shipments} shipments, ${filled.cases} cases, ${filled.events} timeline rows (filled in ${fillMs} ms)`,
    );
    for (const v of views)
      console.log(
        `${v.view.padEnd(14)} first paint p50 ${v.firstPaintMs.p50 ?? '-'} ms (max ${v.firstPaintMs.max ?? '-'}), view ready p50 ${v.viewMs.p50} ms (max ${v.viewMs.max})`,
      );
  }
  return result.underOneSecond ? 0 : 1;
}

function command() {
  return newCommand('bench-console')
    .description('the ops console over a day of N synthetic shipments: first paint and per-view load times')
    .option('--shipments <n>', 'shipments in the ODS', numberIn('--shipments', 1, 1_000_000, true), 10_000)
    .option('--runs <r>', 'loads per view', numberIn('--runs', 1, 100, true), 5)
    .option('--json', 'print JSON')
    .allowExcessArguments(false)
    .action(async (v: { shipments: number; runs: number; json?: boolean }) => {
      process.exitCode = await run({ shipments: v.shipments, runs: v.runs, json: v.json === true });
    });
}

sandboxEntryPoint('bench:console');
await runMain(command);
