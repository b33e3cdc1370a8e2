import { defineQuery } from '@temporalio/workflow';
import { z } from 'zod';
import { CalendarDate, type Mismatch, type RepairStatus } from '../../domain/reconciliation.js';

export { SHIPMENTS_TASK_QUEUE, taskQueues } from '../task-queues.js';

/** Id of the Temporal Schedule that runs reconciliation every night. */
export const RECONCILIATION_SCHEDULE_ID = 'reconciliation-nightly';

/** The reconciliation workflow's type name, as workers register it. */
export const RECONCILIATION_WORKFLOW_TYPE = 'ReconciliationWorkflow';

/** Id of a reconciliation run started by hand: the day, the region, and the moment it was asked for. */
export function reconciliationWorkflowId(
  input: { date: string; region?: string },
  requestedAtMs: number,
  prefix = '',
): string {
  return `${prefix}reconcile-${input.date}${input.region ? `-${input.region}` : ''}-${requestedAtMs}`;
}

/** Input of ReconciliationWorkflow; without a date it reconciles the UTC day before the run started. */
export const ReconciliationInput = z.object({
  date: CalendarDate.optional(),
  region: z
    .string()
    .regex(/^[A-Z]{2,5}$/, 'expected a region code such as CHI')
    .optional(),
  /** Carry out the safe repairs (re-post a missing milestone, solve a stale case); the rest waits for an operator. */
  repair: z.boolean().default(false),
  /** Shipments compared per activity call. */
  pageSize: z.number().int().min(1).max(1000).default(200),
  taskQueuePrefix: z.string().max(60).default(''),
});
export type ReconciliationInput = z.infer<typeof ReconciliationInput>;

/** What a reconciliation run found and did (the full report is in the store, under `reportId`). */
export interface ReconciliationResult {
  reportId: string;
  date: string;
  region?: string;
  repair: boolean;
  checked: number;
  inFlight: number;
  counts: Record<RepairStatus, number> & { total: number };
  mismatches: Mismatch[];
}

/** Progress of a running reconciliation. */
export interface ReconciliationProgress {
  phase: 'comparing' | 'repairing' | 'done';
  pages: number;
  checked: number;
  mismatches: number;
  repaired: number;
}

/** How far a reconciliation has come. */
export const reconciliationProgressQuery = defineQuery<ReconciliationProgress>('progress');
