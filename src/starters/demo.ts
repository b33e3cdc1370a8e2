import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import axios from 'axios';
import { type ClockSettings, simAt } from '../domain/clock.js';
import type { Order } from '../domain/model.js';
import { loadConfig } from '../platform/config.js';
import { shipmentWorkflowId, type ShipmentResult } from '../workflows/shipment/contract.js';
import { reconcile, type Reconciliation } from './reconcile.js';
import { startFullStack } from './stack.js';
import { releaseNow, upsertReleaseSchedule } from '../platform/release.js';

/** Options of `shipsync demo`. */
export interface DemoOptions {
  shipments: number;
  scale: number;
  seed: number;
  keepRunning: boolean;
  json: boolean;
  /** Kill the worker with SIGKILL this many seconds into the run, then start it again. */
  killWorkerAfterSeconds?: number;
  /** Give up waiting for shipments to close after this many real seconds. */
  timeoutSeconds?: number;
}

/** The demo's summary, printed as a table or as JSON. */
export interface DemoSummary {
  shipments: number;
  closed: number;
  outcomes: Record<string, number>;
  erp: { milestones: number; billingDocuments: number; duplicatePostings: number };
  crm: {
    casesOpened: number;
    casesClosed: number;
    notices: number;
    /** Reschedules simulated customers asked for through the gateway API, and how many it accepted. */
    customerReschedules: number;
    customerReschedulesAccepted: number;
  };
  dispatch: { tasks: number; webhooksSent: number };
  phases: Record<string, { medianMinutes: number; p95Minutes: number }>;
  realSeconds: number;
  simulated: { from: string; to: string; scale: number };
  workerRestarts: number;
  reconciliation: Reconciliation;
  webUi: string;
}

const gazetteer = createRequire(import.meta.url)('zipcodes') as {
  lookupByName(city: string, state: string): { zip: string }[];
};

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/**
 * The main job: starts Temporal, the three sandboxes, the gateway and the worker; seeds the ERP; plays the
 * whole scenario on the compressed clock; reconciles the three systems and prints a summary. Returns the
 * exit code: 0 only when every shipment closed and reconciliation found no mismatch.
 */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const out = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
  const startedAt = Date.now();
  const stack = await startFullStack({
    dataDir: resolve(loadConfig().SHIPSYNC_DATA_DIR, 'demo'),
    scale: opts.scale,
    seed: opts.seed,
    say: out,
    simulator: { enabled: true, failureRate: 0.1, delayRate: 0.1, damageRate: 0.03 },
    rescheduleRate: 0.1,
    showChildOutput: !opts.json,
  });
  let workerRestarts = 0;
  try {
    const { client, clock, date, erp, dispatch, crm } = stack;
    await new Promise((r) => setTimeout(r, Math.max(0, clock.anchorRealMs - Date.now())));
    const orders = erp.seed(opts.shipments, { date, seed: opts.seed, mismatchRate: 0.05 });
    const config = loadConfig({ SHIPSYNC_TEMPORAL_ADDRESS: stack.temporalAddress });
    await upsertReleaseSchedule(client, config, config.SHIPSYNC_RELEASE_INTERVAL_MINUTES);
    const pass = await releaseNow(client, config);
    out(
      `ERP: ${orders.length} deliveries released for ${date}; release pass started ${pass.started}, ${pass.attached} already started by the push webhook`,
    );

    const ids = orders.map((o) => shipmentWorkflowId(o.deliveryId));
    const byWorkflowId = new Map(orders.map((o) => [shipmentWorkflowId(o.deliveryId), o]));
    const api = axios.create({ baseURL: stack.gatewayUrl, validateStatus: () => true, timeout: 10_000 });
    const handled = new Set<string>();
    const deadline = Date.now() + (opts.timeoutSeconds ?? 600) * 1000;
    const results = new Map<string, ShipmentResult>();
    for (const id of ids) {
      void client.workflow
        .getHandle(id)
        .result()
        .then((r: ShipmentResult) => results.set(id, r))
        .catch(() => undefined);
    }
    let lastLine = '';
    while (results.size < ids.length && Date.now() < deadline) {
      if (
        opts.killWorkerAfterSeconds !== undefined &&
        workerRestarts === 0 &&
        Date.now() - clock.anchorRealMs > opts.killWorkerAfterSeconds * 1000
      ) {
        out('killing the worker with SIGKILL, then starting a new one');
        await stack.restartWorker('SIGKILL');
        workerRestarts++;
      }
      const phases: Record<string, number> = {};
      for await (const wf of client.workflow.list({ query: `WorkflowType = 'ShipmentWorkflow'` })) {
        const phase =
          (wf.searchAttributes as Record<string, string[] | undefined>).ShipmentStatus?.[0] ?? 'released';
        phases[phase] = (phases[phase] ?? 0) + 1;
        if (handled.has(`${wf.workflowId}:${phase}`)) continue;
        if (phase === 'on_hold') {
          handled.add(`${wf.workflowId}:${phase}`);
          await correctAddress(api, byWorkflowId.get(wf.workflowId));
        } else if (phase === 'awaiting_approval') {
          handled.add(`${wf.workflowId}:${phase}`);
          await api.post(
            `/v1/shipments/${wf.workflowId}/charges/approval`,
            { approvedBy: 'finance-demo', approve: true },
            {
              headers: {
                authorization: 'Bearer dev-finance',
                'idempotency-key': `demo-approve-${wf.workflowId}`,
              },
            },
          );
        }
      }
      const sim = new Date(simAt(clock, Date.now())).toISOString().slice(0, 16).replace('T', ' ');
      const line = `sim ${sim}  closed ${results.size}/${ids.length}  ${Object.entries(phases)
        .map(([k, v]) => `${k} ${v}`)
        .join('  ')}`;
      if (line !== lastLine) out(line);
      lastLine = line;
      await new Promise((r) => setTimeout(r, 1000));
    }

    await crm.drain();
    const reconciliation = await reconcile({
      erpUrl: erp.url,
      dispatchUrl: dispatch.url,
      crmUrl: crm.url,
      orders,
      results,
    });
    const summary = summarise(opts, orders, results, reconciliation, {
      clock,
      startedAt,
      workerRestarts,
      webUi: stack.uiUrl ?? '',
    });
    summary.crm.customerReschedules = crm.reschedules.length;
    summary.crm.customerReschedulesAccepted = crm.reschedules.filter(
      (r) => r.response && r.response.status < 300,
    ).length;
    summary.dispatch.webhooksSent = dispatch.sender.log.length;
    if (opts.json) console.log(JSON.stringify(summary, null, 2));
    else printSummary(summary);
    const ok = summary.closed === summary.shipments && reconciliation.mismatches.length === 0;
    if (opts.keepRunning) {
      out(`stack left running; Web UI ${stack.uiUrl}; press Ctrl-C to stop`);
      await new Promise<void>((r) => process.once('SIGINT', () => r()));
    }
    return ok ? 0 : 1;
  } finally {
    await stack.stop();
  }
}

/** Plays the agent: every other held shipment gets its ZIP corrected from its city; the rest time out. */
async function correctAddress(api: ReturnType<typeof axios.create>, order: Order | undefined) {
  if (!order || Number(order.deliveryId.replace(/\D/g, '').slice(-1)) % 2 === 1) return;
  const zip = gazetteer.lookupByName(order.address.city, order.address.state)[0]?.zip;
  if (!zip) return;
  const workflowId = shipmentWorkflowId(order.deliveryId);
  await api.post(
    `/v1/shipments/${workflowId}/address`,
    { address: { ...order.address, postalCode: zip }, correctedBy: 'demo-agent' },
    { headers: { authorization: 'Bearer dev-agent', 'idempotency-key': `demo-address-${workflowId}` } },
  );
}

function summarise(
  opts: DemoOptions,
  orders: Order[],
  results: Map<string, ShipmentResult>,
  reconciliation: Reconciliation,
  ctx: { clock: ClockSettings; startedAt: number; workerRestarts: number; webUi: string },
): DemoSummary {
  const outcomes: Record<string, number> = {};
  const durations: Record<string, number[]> = { plan: [], deliver: [], bill: [] };
  let milestones = 0;
  let casesOpened = 0;
  for (const r of results.values()) {
    outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    milestones += r.milestones.length;
    casesOpened += r.casesOpened;
    const at = (m: string) => r.milestones.find((x) => x.milestone === m)?.at;
    const t0 =
      Date.parse(
        orders.find((o) => shipmentWorkflowId(o.deliveryId) === r.shipmentId)?.requestedWindow.start ?? '',
      ) - 86_400_000;
    const planned = at('planned');
    const done = at('delivered') ?? at('returned');
    const billed = at('billed');
    if (planned && done) durations.deliver!.push((Date.parse(done) - Date.parse(planned)) / 60_000);
    if (done && billed) durations.bill!.push((Date.parse(billed) - Date.parse(done)) / 60_000);
    if (planned && Number.isFinite(t0))
      durations.plan!.push(Math.max(0, (Date.parse(planned) - ctx.clock.anchorSimMs) / 60_000));
  }
  const phases: DemoSummary['phases'] = {};
  for (const [k, v] of Object.entries(durations)) {
    const sorted = [...v].sort((a, b) => a - b);
    phases[k] = {
      medianMinutes: Math.round(quantile(sorted, 0.5)),
      p95Minutes: Math.round(quantile(sorted, 0.95)),
    };
  }
  return {
    shipments: orders.length,
    closed: results.size,
    outcomes,
    erp: {
      milestones,
      billingDocuments: reconciliation.billingDocuments,
      duplicatePostings: reconciliation.duplicateErpEffects,
    },
    crm: {
      casesOpened,
      casesClosed: reconciliation.casesSolved,
      notices: reconciliation.notices,
      customerReschedules: 0,
      customerReschedulesAccepted: 0,
    },
    dispatch: { tasks: reconciliation.dispatchTasks, webhooksSent: 0 },
    phases,
    realSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
    simulated: {
      from: new Date(ctx.clock.anchorSimMs).toISOString(),
      to: new Date(simAt(ctx.clock, Date.now())).toISOString(),
      scale: opts.scale,
    },
    workerRestarts: ctx.workerRestarts,
    reconciliation,
    webUi: ctx.webUi,
  };
}

function printSummary(s: DemoSummary) {
  const rows: [string, string][] = [
    ['shipments closed', `${s.closed} / ${s.shipments}`],
    [
      'outcomes',
      Object.entries(s.outcomes)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ],
    ['ERP milestones posted', String(s.erp.milestones)],
    ['ERP billing documents', String(s.erp.billingDocuments)],
    ['ERP duplicate postings', String(s.erp.duplicatePostings)],
    ['CRM cases opened / solved', `${s.crm.casesOpened} / ${s.crm.casesClosed}`],
    ['CRM customer notices', String(s.crm.notices)],
    [
      'customer reschedules (accepted)',
      `${s.crm.customerReschedules} (${s.crm.customerReschedulesAccepted})`,
    ],
    ['dispatch tasks', String(s.dispatch.tasks)],
    ...Object.entries(s.phases).map(([k, v]): [string, string] => [
      `${k} (sim minutes)`,
      `median ${v.medianMinutes}, p95 ${v.p95Minutes}`,
    ]),
    ['simulated', `${s.simulated.from} → ${s.simulated.to} (×${s.simulated.scale})`],
    ['real time', `${s.realSeconds} s`],
    ['worker restarts', String(s.workerRestarts)],
    [
      'reconciliation',
      s.reconciliation.mismatches.length === 0
        ? 'clean'
        : `${s.reconciliation.mismatches.length} mismatch(es)`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log('');
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  for (const m of s.reconciliation.mismatches.slice(0, 20)) console.log(`  mismatch: ${m}`);
  console.log(`\nTemporal Web UI: ${s.webUi}/namespaces/default/workflows`);
}
