import { z } from 'zod';

export { previousUtcDate, reportCounts } from './reconciliation-counts.js';

/**
 * Reconciliation: what the ERP, dispatch and the CRM hold for a day's shipments, compared with what the
 * shipments' workflows did. Pure: the facts come in, mismatches with their suggested repair come out.
 */

/** What a mismatch is about. */
export const MismatchKind = z.enum([
  /** A milestone the workflow posted is not in the ERP (deleted there, or lost). Safe to post again. */
  'erp_milestone_missing',
  /** The ERP holds a milestone the workflow never posted. */
  'erp_milestone_unexpected',
  /** The workflow billed the shipment but the ERP holds no billing document request for it. */
  'erp_billing_missing',
  /** The ERP holds more than one billing document request for the shipment. */
  'erp_billing_duplicate',
  /** The ERP's billed amount differs from the workflow's total. */
  'erp_billing_amount',
  /** Delivered in the workflow, but dispatch has no successful task for the final attempt. */
  'dispatch_outcome',
  /** Dispatch still holds an open task for an attempt the workflow never made. */
  'dispatch_task_unexpected',
  /** A CRM case is still open although its shipment has closed. Safe to close. */
  'crm_case_open',
  /** Failed attempts without a CRM case for each. */
  'crm_case_missing',
  /** A side effect a vendor refused for good waits in a running shipment for an operator. */
  'parked_side_effect',
  /** The shipment's workflow ended without a result (failed, terminated, timed out). */
  'workflow_failed',
]);
export type MismatchKind = z.infer<typeof MismatchKind>;

/** The systems a mismatch involves. */
export const ReconciledSystem = z.enum(['erp', 'dispatch', 'crm', 'shipsync']);
export type ReconciledSystem = z.infer<typeof ReconciledSystem>;

/** A repair reconciliation may carry out itself, through the same idempotent writes the shipment uses. */
export const RepairAction = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('post_milestone'),
    deliveryId: z.string(),
    milestone: z.string(),
    attempt: z.number().int(),
    occurredAt: z.string(),
    eta: z.string().optional(),
  }),
  z.object({ kind: z.literal('close_case'), caseId: z.string() }),
]);
export type RepairAction = z.infer<typeof RepairAction>;

/**
 * Where a mismatch stands: `suggested` (safe repair, not asked for), `repaired`, `repair_failed`,
 * `operator` (not safe to repair automatically: parked for an operator).
 */
export const RepairStatus = z.enum(['suggested', 'repaired', 'repair_failed', 'operator']);
export type RepairStatus = z.infer<typeof RepairStatus>;

/** One difference between the systems and the workflows. */
export const Mismatch = z.object({
  kind: MismatchKind,
  shipmentId: z.string(),
  systems: z.array(ReconciledSystem),
  detail: z.string(),
  suggestedRepair: z.string(),
  repair: RepairAction.optional(),
  status: RepairStatus,
  /** Why a repair failed. */
  error: z.string().optional(),
});
export type Mismatch = z.infer<typeof Mismatch>;

/** A reconciliation run's report, as kept in the store and shown to operators. */
export const ReconciliationReport = z.object({
  id: z.string(),
  date: z.string(),
  region: z.string().optional(),
  repair: z.boolean(),
  status: z.enum(['running', 'completed']),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  /** Shipments of the day compared. */
  checked: z.number().int(),
  /** Running shipments: only their parked work is reported. */
  inFlight: z.number().int(),
  mismatches: z.array(Mismatch),
});
export type ReconciliationReport = z.infer<typeof ReconciliationReport>;

/** A milestone as the workflow reported it. */
export interface WorkflowMilestone {
  milestone: string;
  attempt: number;
  at: string;
  eta?: string;
}

/** What the workflow says about one shipment of the day. */
export type WorkflowFacts =
  | {
      state: 'closed';
      outcome: string;
      attempts: number;
      total: number;
      billingDocumentId: string;
      milestones: WorkflowMilestone[];
    }
  | {
      state: 'running';
      parked: { id: string; kind: string; code: string; message: string }[];
      /** Why its status could not be read (a workflow task failing, e.g. on a nondeterminism error). */
      unreadable?: string;
    }
  | { state: 'ended'; status: string };

/** Everything known about one shipment: the workflow's view and each system's records. */
export interface ShipmentFacts {
  shipmentId: string;
  deliveryId: string;
  workflow: WorkflowFacts;
  erpMilestones: { milestone: string; attempt: number }[];
  erpBilling: { billingDocumentId: string; total: number }[];
  /** Dispatch tasks of the shipment found in the day's listing (deleted tasks are not listed). */
  tasks: { taskId: string; attempt?: number; state: string; success?: boolean }[];
  /** CRM tickets of the shipment. */
  cases: { caseId: string; kind?: string; status: string; noticeThread: boolean }[];
}

const SOLVED = new Set(['solved', 'closed']);
const key = (m: { milestone: string; attempt: number }) => `${m.milestone}#${m.attempt}`;
const ERP_ACTIONS = new Set(['milestone', 'goodsIssue', 'billing']);

/**
 * Compares one shipment across the systems. Closed shipments are compared in full; running ones report
 * only their parked work (everything else may still be on its way).
 */
export function compareShipment(f: ShipmentFacts): Omit<Mismatch, 'status'>[] {
  const out: Omit<Mismatch, 'status'>[] = [];
  const add = (m: Omit<Mismatch, 'status' | 'shipmentId'>) => out.push({ shipmentId: f.shipmentId, ...m });
  const wf = f.workflow;
  if (wf.state === 'ended') {
    add({
      kind: 'workflow_failed',
      systems: ['shipsync'],
      detail: `the shipment's workflow ended ${wf.status.toLowerCase()} without a result`,
      suggestedRepair: 'inspect the run in the Temporal Web UI and restart or settle the shipment by hand',
    });
    return out;
  }
  if (wf.state === 'running') {
    if (wf.unreadable !== undefined) {
      add({
        kind: 'workflow_failed',
        systems: ['shipsync'],
        detail: `the shipment's workflow runs but cannot answer: ${wf.unreadable}`.slice(0, 500),
        suggestedRepair:
          'inspect the run in the Temporal Web UI (a failing workflow task says why), fix it, then reset the run or settle the shipment by hand',
      });
    }
    for (const p of wf.parked) {
      add({
        kind: 'parked_side_effect',
        systems: [ERP_ACTIONS.has(p.kind) ? 'erp' : 'crm', 'shipsync'],
        detail: `${p.kind} ${p.id} refused for good: ${p.code} ${p.message}`.slice(0, 500),
        suggestedRepair: `fix the cause at the vendor, then \`shipsync parked retry ${f.shipmentId} ${p.id}\` (or edit, or skip with a reason)`,
      });
    }
    return out;
  }

  // ERP milestones: a multiset per milestone and attempt (a reschedule may announce PLANNED again).
  const inErp = new Map<string, number>();
  for (const m of f.erpMilestones) inErp.set(key(m), (inErp.get(key(m)) ?? 0) + 1);
  for (const m of wf.milestones) {
    const left = inErp.get(key(m)) ?? 0;
    if (left > 0) {
      inErp.set(key(m), left - 1);
      continue;
    }
    add({
      kind: 'erp_milestone_missing',
      systems: ['erp', 'shipsync'],
      detail: `the workflow posted ${m.milestone.toUpperCase()} (attempt ${m.attempt}) but the ERP does not hold it`,
      suggestedRepair: 'post the milestone again (safe: reconciliation repairs it with --repair)',
      repair: {
        kind: 'post_milestone',
        deliveryId: f.deliveryId,
        milestone: m.milestone,
        attempt: m.attempt,
        occurredAt: m.at,
        ...(m.eta ? { eta: m.eta } : {}),
      },
    });
  }
  for (const [k, n] of inErp) {
    if (n <= 0) continue;
    add({
      kind: 'erp_milestone_unexpected',
      systems: ['erp', 'shipsync'],
      detail: `the ERP holds ${n} ${k.replace('#', ' (attempt ')}) milestone(s) the workflow never posted`,
      suggestedRepair: 'check who wrote it in the ERP; reverse it there if it is wrong',
    });
  }

  // Billing: one document request with the workflow's total, unless the shipment closed unbilled.
  const billed = wf.billingDocumentId !== '';
  if (billed && f.erpBilling.length === 0) {
    add({
      kind: 'erp_billing_missing',
      systems: ['erp', 'shipsync'],
      detail: `the workflow billed ${wf.total} as ${wf.billingDocumentId} but the ERP holds no billing request`,
      suggestedRepair: 'have finance check the billing request in the ERP and post it again by hand',
    });
  } else if (f.erpBilling.length > 1) {
    add({
      kind: 'erp_billing_duplicate',
      systems: ['erp'],
      detail: `the ERP holds ${f.erpBilling.length} billing requests (${f.erpBilling.map((b) => b.billingDocumentId).join(', ')})`,
      suggestedRepair: 'have finance cancel the extra billing requests in the ERP',
    });
  } else if (billed && Math.round((f.erpBilling[0]?.total ?? 0) * 100) !== Math.round(wf.total * 100)) {
    add({
      kind: 'erp_billing_amount',
      systems: ['erp', 'shipsync'],
      detail: `the ERP billed ${f.erpBilling[0]?.total} but the workflow computed ${wf.total}`,
      suggestedRepair: 'have finance correct the billing request in the ERP',
    });
  }

  // Dispatch: a delivered shipment's final attempt succeeded there; no open task for an attempt never made.
  if (wf.outcome === 'delivered') {
    const final = f.tasks.filter((t) => t.attempt === wf.attempts);
    if (!final.some((t) => t.state === 'completed' && t.success === true)) {
      add({
        kind: 'dispatch_outcome',
        systems: ['dispatch', 'shipsync'],
        detail: `delivered in the workflow, but dispatch shows no successful task for attempt ${wf.attempts}`,
        suggestedRepair: 'check the proof of delivery with dispatch and correct the task there',
      });
    }
  }
  for (const t of f.tasks) {
    if (t.attempt !== undefined && t.attempt > wf.attempts && t.state !== 'completed') {
      add({
        kind: 'dispatch_task_unexpected',
        systems: ['dispatch', 'shipsync'],
        detail: `dispatch holds open task ${t.taskId} for attempt ${t.attempt}; the shipment closed after ${wf.attempts}`,
        suggestedRepair: 'delete the task in dispatch so no driver drives to it',
      });
    }
  }

  // CRM: nothing left open once the shipment closed; a case for each failed attempt.
  for (const c of f.cases) {
    if (c.noticeThread || SOLVED.has(c.status)) continue;
    add({
      kind: 'crm_case_open',
      systems: ['crm', 'shipsync'],
      detail: `case ${c.caseId}${c.kind ? ` (${c.kind})` : ''} is ${c.status} although the shipment closed`,
      suggestedRepair: 'solve the case (safe: reconciliation repairs it with --repair)',
      repair: { kind: 'close_case', caseId: c.caseId },
    });
  }
  const failures = wf.milestones.filter((m) => m.milestone === 'failed_attempt').length;
  const failureCases = f.cases.filter((c) => c.kind === 'failed_attempt' || c.kind === 'damage').length;
  if (failureCases < failures) {
    add({
      kind: 'crm_case_missing',
      systems: ['crm', 'shipsync'],
      detail: `${failures} failed attempt(s) but ${failureCases} failure case(s) in the CRM`,
      suggestedRepair: 'open the missing case in the CRM so customer service sees the failed attempt',
    });
  }
  return out;
}

/** The status a fresh mismatch gets: safe repairs are suggested (or carried out with --repair), the rest wait for an operator. */
export function initialStatus(m: Omit<Mismatch, 'status'>): RepairStatus {
  return m.repair ? 'suggested' : 'operator';
}

/** A calendar date `YYYY-MM-DD` that exists. */
export const CalendarDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD')
  .refine((d) => {
    const ms = Date.parse(`${d}T00:00:00Z`);
    return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === d;
  }, 'not a calendar date');
