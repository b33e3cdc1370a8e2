import { z } from 'zod';

/** The baseline's signal, result and plan, without schemas: what its workflow imports (`plan.ts`). */
export * from './plan.js';

/** Task-queue prefix of the baseline, so its queues never meet the shipment worker's. */
export const BASELINE_TASK_QUEUE_PREFIX = 'bench-baseline-';

/** Workflow id of the i-th baseline run of one bench run. */
export function baselineWorkflowId(runId: string, i: number): string {
  return `bench-${runId}-${String(i).padStart(6, '0')}`;
}

/** How many activities (per task queue), signals and timers one run has: the shape of a typical shipment. */
export const BaselineShape = z.object({
  activities: z.object({
    shipments: z.number().int().min(0).max(200),
    erp: z.number().int().min(0).max(200),
    dispatch: z.number().int().min(0).max(200),
    crm: z.number().int().min(0).max(200),
  }),
  signals: z.number().int().min(0).max(200),
  timers: z.number().int().min(0).max(200),
});
export type BaselineShape = z.infer<typeof BaselineShape>;

/** Input of BaselineWorkflow. */
export const BaselineInput = z.object({
  shape: BaselineShape,
  taskQueuePrefix: z.string().max(60),
  /** How long each timer runs before the workflow gives up on it and keeps waiting without one. */
  timerMs: z.number().int().positive(),
  /** Wait for one extra signal before doing anything, so many runs can be parked in flight. */
  parked: z.boolean().default(false),
});
export type BaselineInput = z.input<typeof BaselineInput>;
