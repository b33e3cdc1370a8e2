import {
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { CrmActivities } from '../../activities/crm.js';
import type { ErpActivities } from '../../activities/erp.js';
import type { ReconciliationActivities } from '../../activities/reconciliation.js';
import type { Milestone } from '../../domain/model.js';
import { previousUtcDate, reportCounts } from '../../domain/reconciliation-counts.js';
import type { Mismatch, RepairStatus } from '../../domain/reconciliation.js';
import { reconciliationSchemas } from '../lazy.js';
import { taskQueues } from '../task-queues.js';
import type { ReconciliationInput } from './contract.js';
import {
  reconciliationProgressQuery,
  type ReconciliationProgress,
  type ReconciliationResult,
} from './messages.js';

const retry = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '1m',
  maximumAttempts: 10,
} as const;
/** Repairs give up sooner: a repair that keeps failing is reported, not retried all night. */
const repairRetry = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 5,
} as const;
/** Mismatches the result carries; the report in the store holds them all. */
const RESULT_MISMATCHES = 500;
/** Repairs in flight at once. */
const REPAIRS_IN_FLIGHT = 10;
/**
 * Repairs one run carries out, so its history stays well under Temporal's size guidance; the rest stay
 * `suggested` in the report and the next run with repairs takes them.
 */
const MAX_REPAIRS_PER_RUN = 1000;

/**
 * Reconciles one day: pages through the day's shipments comparing each with what the ERP, dispatch and the
 * CRM hold, keeps the report in the store, and with `repair` carries out the safe repairs through the same
 * idempotent activities the shipments use (a missing milestone posted again, a stale case solved); every
 * other mismatch stays in the report for an operator.
 */
export async function ReconciliationWorkflow(
  raw: Partial<ReconciliationInput> = {},
): Promise<ReconciliationResult> {
  const input = reconciliationSchemas().ReconciliationInput.parse(raw);
  const info = workflowInfo();
  const reportId = info.workflowId;
  const date = input.date ?? previousUtcDate(info.startTime.getTime());
  const queues = taskQueues(input.taskQueuePrefix);
  const jobs = proxyActivities<ReconciliationActivities>({
    taskQueue: queues.shipments,
    startToCloseTimeout: '30m',
    heartbeatTimeout: '2m',
    retry,
  });
  const erp = proxyActivities<ErpActivities>({
    taskQueue: queues.erp,
    startToCloseTimeout: '1m',
    retry: repairRetry,
  });
  const crm = proxyActivities<CrmActivities>({
    taskQueue: queues.crm,
    startToCloseTimeout: '1m',
    retry: repairRetry,
  });

  const progress: ReconciliationProgress = {
    phase: 'comparing',
    pages: 0,
    checked: 0,
    mismatches: 0,
    repaired: 0,
  };
  setHandler(reconciliationProgressQuery, () => progress);

  await jobs.beginReconciliationReport({
    reportId,
    date,
    repair: input.repair,
    startedAt: new Date().toISOString(),
    ...(input.region ? { region: input.region } : {}),
  });
  const found: { seq: number; mismatch: Mismatch }[] = [];
  let inFlight = 0;
  let cursor: string | undefined;
  do {
    const page = await jobs.reconcileShipmentsPage({
      reportId,
      date,
      taskQueuePrefix: input.taskQueuePrefix,
      pageSize: input.pageSize,
      firstSeq: found.length,
      ...(input.region ? { region: input.region } : {}),
      ...(cursor ? { cursor } : {}),
    });
    found.push(...page.mismatches);
    progress.pages++;
    progress.checked += page.checked;
    progress.mismatches = found.length;
    inFlight += page.inFlight;
    cursor = page.nextCursor;
  } while (cursor);

  if (input.repair) {
    progress.phase = 'repairing';
    const updates = await repairAll(found, reportId, { erp, crm }, progress);
    await jobs.recordReconciliationRepairs({ reportId, updates });
  }

  await jobs.finishReconciliationReport({
    reportId,
    checked: progress.checked,
    inFlight,
    finishedAt: new Date().toISOString(),
  });
  progress.phase = 'done';
  const mismatches = found.map((f) => f.mismatch);
  return {
    reportId,
    date,
    repair: input.repair,
    checked: progress.checked,
    inFlight,
    counts: reportCounts(mismatches),
    mismatches: mismatches.slice(0, RESULT_MISMATCHES),
    ...(input.region ? { region: input.region } : {}),
  };
}

/**
 * Carries out the suggested repairs, `REPAIRS_IN_FLIGHT` at a time. Each write's idempotency key is the
 * report id + the mismatch's sequence number: a retried activity or a replayed workflow repairs once, and a
 * later run that finds the same drift again repairs it again under its own key.
 */
async function repairAll(
  found: { seq: number; mismatch: Mismatch }[],
  reportId: string,
  acts: { erp: ErpActivities; crm: CrmActivities },
  progress: ReconciliationProgress,
): Promise<{ seq: number; status: RepairStatus; error?: string }[]> {
  const todo = found
    .filter((f) => f.mismatch.status === 'suggested' && f.mismatch.repair)
    .slice(0, MAX_REPAIRS_PER_RUN);
  const updates: { seq: number; status: RepairStatus; error?: string }[] = [];
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < todo.length; i = next++) {
      const { seq, mismatch } = todo[i]!;
      const repair = mismatch.repair!;
      const key = `${reportId}:repair:${seq}`;
      try {
        if (repair.kind === 'post_milestone') {
          await acts.erp.erpPostMilestone({
            deliveryId: repair.deliveryId,
            milestone: repair.milestone as Milestone,
            attempt: repair.attempt,
            occurredAt: repair.occurredAt,
            note: `re-posted by reconciliation ${reportId}`,
            idempotencyKey: key,
            ...(repair.eta ? { eta: repair.eta } : {}),
          });
        } else {
          await acts.crm.crmCloseCase({
            caseId: repair.caseId,
            resolution: `Solved by reconciliation ${reportId}: the shipment had closed.`,
            idempotencyKey: key,
          });
        }
        mismatch.status = 'repaired';
        progress.repaired++;
        updates.push({ seq, status: 'repaired' });
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        const cause = err.cause instanceof ApplicationFailure ? err.cause : undefined;
        const error = `${cause?.type ?? 'FAILED'}: ${cause?.message ?? err.message}`.slice(0, 500);
        mismatch.status = 'repair_failed';
        mismatch.error = error;
        updates.push({ seq, status: 'repair_failed', error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(REPAIRS_IN_FLIGHT, todo.length) }, lane));
  return updates;
}
