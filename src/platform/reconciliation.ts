import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Config } from './config.js';
import { upsertSchedule } from './schedules.js';
import {
  RECONCILIATION_SCHEDULE_ID,
  RECONCILIATION_WORKFLOW_TYPE,
  reconciliationProgressQuery,
  reconciliationWorkflowId,
  type ReconciliationInput,
  type ReconciliationProgress,
  type ReconciliationResult,
} from '../workflows/reconciliation/contract.js';
import { taskQueues } from '../workflows/task-queues.js';

/**
 * Creates the nightly reconciliation Schedule, or updates its cron when it exists; returns its id. Each run
 * reconciles the UTC day before it started, without repairs (operators repair with `shipsync reconcile
 * --repair` after reading the report).
 */
export async function upsertReconciliationSchedule(
  client: Client,
  config: Config,
  cron: string,
): Promise<string> {
  const prefix = config.SHIPSYNC_TASK_QUEUE_PREFIX;
  const scheduleId = `${prefix}${RECONCILIATION_SCHEDULE_ID}`;
  const input: Partial<ReconciliationInput> = { repair: false, taskQueuePrefix: prefix };
  // A slow night never runs two reconciliations of the same day side by side (overlap SKIP).
  return upsertSchedule(client, {
    scheduleId,
    workflowType: RECONCILIATION_WORKFLOW_TYPE,
    workflowId: `${prefix}reconcile-nightly`,
    taskQueuePrefix: prefix,
    args: [input],
    spec: { cronExpressions: [cron] },
  });
}

/** Starts a reconciliation of one day now; its id names the day, the region and the moment it was asked for. */
export async function startReconciliation(
  client: Client,
  config: Config,
  input: { date: string; region?: string; repair: boolean },
  nowMs = Date.now(),
): Promise<WorkflowHandle> {
  const prefix = config.SHIPSYNC_TASK_QUEUE_PREFIX;
  const args: Partial<ReconciliationInput> = {
    date: input.date,
    repair: input.repair,
    taskQueuePrefix: prefix,
    ...(input.region ? { region: input.region } : {}),
  };
  return client.workflow.start(RECONCILIATION_WORKFLOW_TYPE, {
    workflowId: reconciliationWorkflowId(input, nowMs, prefix),
    taskQueue: taskQueues(prefix).shipments,
    args: [args],
  });
}

/**
 * Waits for a reconciliation's result, calling `onProgress` with its progress every `everyMs` while it runs
 * (a query answered by the workflow; a missed answer is skipped, not fatal).
 */
export async function awaitReconciliation(
  handle: WorkflowHandle,
  onProgress: (p: ReconciliationProgress) => void,
  everyMs = 2000,
): Promise<ReconciliationResult> {
  let done = false;
  const result = (handle.result() as Promise<ReconciliationResult>).finally(() => {
    done = true;
  });
  const poll = (async () => {
    while (!done) {
      await Promise.race([result.catch(() => undefined), new Promise((r) => setTimeout(r, everyMs))]);
      if (done) break;
      try {
        onProgress(await handle.query(reconciliationProgressQuery));
      } catch {
        // The run may not have had its first workflow task yet; the next round asks again.
      }
    }
  })();
  try {
    return await result;
  } finally {
    await poll;
  }
}
