import { simAt, type ClockSettings } from '../../src/domain/clock.js';
import type { Order } from '../../src/domain/model.js';
import { shipmentWorkflowId, type ShipmentResult } from '../../src/workflows/shipment/contract.js';
import type { Reconciliation } from '../reconcile.js';
import type { DemoOptions } from './args.js';

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

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** The demo's figures from the shipments' results and the reconciliation. */
export function summarise(
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

/** Prints the summary as a table. */
export function printSummary(s: DemoSummary) {
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
