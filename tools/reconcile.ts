import type { Client } from '@temporalio/client';
import axios from 'axios';
import type { Order } from '../src/domain/model.js';
import type { Config } from '../src/platform/config.js';
import { awaitReconciliation, startReconciliation } from '../src/platform/reconciliation.js';
import type { ReconciliationResult } from '../src/workflows/reconciliation/contract.js';
import { shipmentWorkflowId, type ShipmentResult } from '../src/workflows/shipment/contract.js';

/** What reconciliation across ERP, dispatch and CRM found. */
export interface Reconciliation {
  checked: number;
  mismatches: string[];
  billingDocuments: number;
  duplicateErpEffects: number;
  duplicateCrmEffects: number;
  duplicateDispatchEffects: number;
  casesSolved: number;
  /** CRM cases per kind (no_assignment, failed_attempt, missing_pod, ...), open or solved. */
  casesByKind: Record<string, number>;
  notices: number;
  dispatchTasks: number;
  /** The ReconciliationWorkflow reports that made the comparison (in the gateway's store). */
  reports: string[];
}

interface Effect {
  kind: string;
  key: string;
  count: number;
  detail?: Record<string, unknown>;
}

const get = async <T>(url: string) => (await axios.get<T>(url, { timeout: 30_000 })).data;

/** Milestone codes in a valid order: business milestones end with billed, after a delivery or a return. */
export function milestoneSequenceProblem(codes: string[]): string | undefined {
  if (codes.at(-1)?.startsWith('BILLED') !== true) return 'does not end with BILLED';
  const terminal = codes.filter((c) => c.startsWith('DELIVERED') || c.startsWith('RETURNED'));
  if (terminal.length !== 1) return `has ${terminal.length} DELIVERED/RETURNED milestones`;
  const seen = new Set<string>();
  for (const c of codes) {
    // A reschedule re-announces the plan, so PLANNED may repeat; everything else happens once per attempt.
    if (!c.startsWith('PLANNED') && seen.has(c)) return `repeats ${c}`;
    seen.add(c);
  }
  return undefined;
}

/** Days after a planned date on which a shipment's delivery date may land (reattempts skip weekends). */
const REATTEMPT_DAYS = 4;

/**
 * The delivery dates a set of orders can end on: each planned date and the days a reattempt may move it to,
 * and the days the closed shipments' milestones fell on (a reschedule and a reattempt can go further).
 */
export function reconciliationDates(
  orders: Order[],
  results: Iterable<Pick<ShipmentResult, 'milestones'>> = [],
): string[] {
  const dates = new Set<string>();
  for (const o of orders) {
    const start = Date.parse(`${o.plannedDate}T00:00:00Z`);
    for (let d = 0; d <= REATTEMPT_DAYS; d++)
      dates.add(new Date(start + d * 86_400_000).toISOString().slice(0, 10));
  }
  for (const r of results) for (const m of r.milestones) dates.add(m.at.slice(0, 10));
  return [...dates].sort();
}

/** Runs the product's ReconciliationWorkflow for each day, one after the other, and returns the reports. */
export async function reconcileDays(
  client: Client,
  dates: string[],
  opts: { taskQueuePrefix?: string; repair?: boolean } = {},
): Promise<ReconciliationResult[]> {
  const config = { SHIPSYNC_TASK_QUEUE_PREFIX: opts.taskQueuePrefix ?? '' } as Config;
  const reports: ReconciliationResult[] = [];
  for (const date of dates) {
    const handle = await startReconciliation(client, config, { date, repair: opts.repair === true });
    reports.push(await awaitReconciliation(handle, () => undefined));
  }
  return reports;
}

/**
 * The final check of the demo, the bench, chaos and the stack: the product's ReconciliationWorkflow compares
 * every day the shipments ran on (ERP milestones and billing through OData, dispatch tasks, CRM cases, all
 * through the vendors' public APIs) and keeps its reports in the gateway's store. The sandboxes' inspection
 * endpoints are read for what only they can tell: how many times each effect happened (exactly once).
 */
export async function reconcile(input: {
  client: Client;
  taskQueuePrefix?: string;
  erpUrl: string;
  dispatchUrl: string;
  crmUrl: string;
  orders: Order[];
  results: Map<string, ShipmentResult>;
  /** Progress lines (one per reconciled day). */
  say?: (line: string) => void;
}): Promise<Reconciliation> {
  const mismatches: string[] = [];
  const [erpEffects, crmEffects, dispatchEffects] = await Promise.all([
    get<{ effects: Effect[] }>(`${input.erpUrl}/__sandbox/effects`),
    get<{ effects: Effect[] }>(`${input.crmUrl}/__sandbox/effects`),
    get<{ effects: Effect[] }>(`${input.dispatchUrl}/__sandbox/effects`),
  ]);
  const duplicates = (effects: Effect[], system: string) => {
    const dup = effects.filter((e) => e.count > 1);
    for (const e of dup) mismatches.push(`${system}: effect ${e.kind} ${e.key} happened ${e.count} times`);
    return dup.length;
  };
  const r: Reconciliation = {
    checked: 0,
    mismatches,
    billingDocuments: erpEffects.effects.filter((e) => e.kind === 'billing_request').length,
    duplicateErpEffects: duplicates(erpEffects.effects, 'ERP'),
    duplicateCrmEffects: duplicates(crmEffects.effects, 'CRM'),
    duplicateDispatchEffects: duplicates(dispatchEffects.effects, 'dispatch'),
    casesSolved: 0,
    casesByKind: {},
    notices: crmEffects.effects.filter((e) => e.kind === 'notification').length,
    dispatchTasks: 0,
    reports: [],
  };
  for (const order of input.orders) {
    const id = shipmentWorkflowId(order.deliveryId);
    const result = input.results.get(id);
    if (!result) {
      mismatches.push(`${id}: not closed`);
      continue;
    }
    // One task per attempt: counted from creations, since tasks cancelled after a missed window are deleted.
    const created = dispatchEffects.effects.filter(
      (e) => e.kind === 'task.created' && e.key.startsWith(`${id}:task:`),
    ).length;
    r.dispatchTasks += created;
    if (created !== result.attempts)
      mismatches.push(`${id}: ${created} dispatch tasks created for ${result.attempts} attempts`);
  }
  // Case figures for the summary from the CRM's ticket effects (a case is a ticket tagged as one).
  for (const e of crmEffects.effects) {
    if (e.detail?.case !== true) continue;
    if (e.kind === 'ticket_solved') r.casesSolved++;
    if (e.kind === 'ticket_created') {
      const kind = typeof e.detail.kind === 'string' ? e.detail.kind : 'none';
      r.casesByKind[kind] = (r.casesByKind[kind] ?? 0) + 1;
    }
  }

  // The cross-system comparison is the product's own job, one run per day the shipments may have ended on.
  for (const report of await reconcileDays(
    input.client,
    reconciliationDates(input.orders, input.results.values()),
    {
      taskQueuePrefix: input.taskQueuePrefix,
    },
  )) {
    r.reports.push(report.reportId);
    r.checked += report.checked;
    if (report.checked > 0)
      input.say?.(
        `reconciliation ${report.reportId}: ${report.checked} shipments, ${report.counts.total} mismatches`,
      );
    if (report.inFlight > 0) mismatches.push(`${report.date}: ${report.inFlight} shipment(s) still running`);
    for (const m of report.mismatches) mismatches.push(`${m.shipmentId}: ${m.kind}: ${m.detail}`);
    const hidden = report.counts.total - report.mismatches.length;
    if (hidden > 0) mismatches.push(`${report.date}: ${hidden} more mismatches in report ${report.reportId}`);
  }
  if (r.checked !== input.orders.length)
    mismatches.push(`reconciliation checked ${r.checked} shipments of ${input.orders.length}`);
  return r;
}
