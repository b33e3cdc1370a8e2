import { z } from 'zod';
import { CalendarDate } from '../../domain/reconciliation.js';

export { SHIPMENTS_TASK_QUEUE, taskQueues } from '../task-queues.js';
/** The workflow's query and result types, without schemas (what workflow code imports). */
export * from './messages.js';

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
