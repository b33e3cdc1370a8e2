import axios from 'axios';
import type { Order } from '../src/domain/model.js';
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
}

interface Effect {
  kind: string;
  key: string;
  count: number;
}

const get = async <T>(url: string, params?: Record<string, string>) =>
  (await axios.get<T>(url, { params, timeout: 30_000 })).data;

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

/**
 * Compares each shipment's outcome in Temporal with what the ERP, dispatch and the CRM recorded: ERP
 * milestones and one billing document per shipment with the same total, dispatch tasks per attempt and
 * their final state, a CRM case for every failed attempt and no case left open; no duplicate effect
 * anywhere.
 */
export async function reconcile(input: {
  erpUrl: string;
  dispatchUrl: string;
  crmUrl: string;
  orders: Order[];
  results: Map<string, ShipmentResult>;
}): Promise<Reconciliation> {
  const mismatches: string[] = [];
  const [erpEffects, crmEffects, dispatchEffects, billing] = await Promise.all([
    get<{ effects: Effect[] }>(`${input.erpUrl}/__sandbox/effects`),
    get<{ effects: Effect[] }>(`${input.crmUrl}/__sandbox/effects`),
    get<{ effects: Effect[] }>(`${input.dispatchUrl}/__sandbox/effects`),
    get<{ billingRequests: { deliveryId: string; total: string | number }[] }>(
      `${input.erpUrl}/__sandbox/billing`,
    ),
  ]);
  const duplicates = (effects: Effect[], system: string) => {
    const dup = effects.filter((e) => e.count > 1);
    for (const e of dup) mismatches.push(`${system}: effect ${e.kind} ${e.key} happened ${e.count} times`);
    return dup.length;
  };
  const r: Reconciliation = {
    checked: input.orders.length,
    mismatches,
    billingDocuments: billing.billingRequests.length,
    duplicateErpEffects: duplicates(erpEffects.effects, 'ERP'),
    duplicateCrmEffects: duplicates(crmEffects.effects, 'CRM'),
    duplicateDispatchEffects: duplicates(dispatchEffects.effects, 'dispatch'),
    casesSolved: 0,
    casesByKind: {},
    notices: crmEffects.effects.filter((e) => e.kind === 'notification').length,
    dispatchTasks: 0,
  };
  for (const order of input.orders) {
    const id = shipmentWorkflowId(order.deliveryId);
    const result = input.results.get(id);
    if (!result) {
      mismatches.push(`${id}: not closed`);
      continue;
    }
    const erp = await get<{ milestones: { milestone: string; attempt: number }[] }>(
      `${input.erpUrl}/__sandbox/deliveries/${order.deliveryId}/milestones`,
    );
    const erpCodes = erp.milestones.map((m) => `${m.milestone}#${Number(m.attempt)}`);
    const ours = result.milestones.map((m) => `${m.milestone.toUpperCase()}#${m.attempt}`);
    if (erpCodes.join() !== ours.join())
      mismatches.push(`${id}: ERP milestones ${erpCodes.join(' ')} but workflow reported ${ours.join(' ')}`);
    const problem = milestoneSequenceProblem(erpCodes);
    if (problem) mismatches.push(`${id}: ERP milestone sequence ${problem}`);
    const docs = billing.billingRequests.filter((b) => b.deliveryId === order.deliveryId);
    if (docs.length !== 1) mismatches.push(`${id}: ${docs.length} ERP billing documents`);
    else if (Math.round(Number(docs[0]?.total) * 100) !== Math.round(result.total * 100)) {
      mismatches.push(`${id}: ERP billed ${String(docs[0]?.total)} but workflow computed ${result.total}`);
    }

    const { tasks } = await get<{
      tasks: { state: number; completionDetails?: { success?: boolean } | null }[];
    }>(`${input.dispatchUrl}/__sandbox/tasks`, { shipmentId: id });
    // Tasks cancelled after a missed window are deleted in dispatch, so count creations, not survivors.
    const created = dispatchEffects.effects.filter(
      (e) => e.kind === 'task.created' && e.key.startsWith(`${id}:task:`),
    ).length;
    r.dispatchTasks += created;
    if (created !== result.attempts)
      mismatches.push(`${id}: ${created} dispatch tasks created for ${result.attempts} attempts`);
    const last = tasks.at(-1);
    if (result.outcome === 'delivered' && last?.completionDetails?.success !== true) {
      mismatches.push(`${id}: delivered in the workflow but the last dispatch task did not succeed`);
    }

    const { cases } = await get<{ cases: { kind: string | null; status: string }[] }>(
      `${input.crmUrl}/__sandbox/cases`,
      {
        external_id: id,
      },
    );
    const open = cases.filter((c) => c.status !== 'solved' && c.status !== 'closed');
    r.casesSolved += cases.length - open.length;
    for (const c of cases) {
      const kind = c.kind ?? 'none';
      r.casesByKind[kind] = (r.casesByKind[kind] ?? 0) + 1;
    }
    if (open.length > 0) mismatches.push(`${id}: ${open.length} CRM case(s) still open`);
    const failures = ours.filter((c) => c.startsWith('FAILED_ATTEMPT')).length;
    const failureCases = cases.filter((c) => c.kind === 'failed_attempt' || c.kind === 'damage').length;
    if (failureCases < failures)
      mismatches.push(`${id}: ${failures} failed attempts but ${failureCases} failure cases`);
  }
  return r;
}
