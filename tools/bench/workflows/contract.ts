import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';

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

/** What a baseline run returns: how many signals it saw. */
export interface BaselineResult {
  signals: number;
}

/** The one signal the bench sends; the payload is its sequence number within the run. */
export const baselineSignal = defineSignal<[number]>('benchEvent');

/**
 * The order in which the baseline does its work: activities (by queue) spread evenly over the waits for
 * signals, each wait guarded by a timer while timers last. Pure so tests and the workflow agree.
 */
export function baselinePlan(
  shape: BaselineShape,
): { activities: (keyof BaselineShape['activities'])[]; timer: boolean }[] {
  const queue: (keyof BaselineShape['activities'])[] = [];
  const left = { ...shape.activities };
  const keys = ['dispatch', 'shipments', 'erp', 'crm'] as const;
  while (keys.some((k) => left[k] > 0)) {
    for (const k of keys) {
      if (left[k] > 0) {
        queue.push(k);
        left[k]--;
      }
    }
  }
  const steps = shape.signals + 1;
  return Array.from({ length: steps }, (_, i) => ({
    activities: queue.slice(
      Math.floor((i * queue.length) / steps),
      Math.floor(((i + 1) * queue.length) / steps),
    ),
    timer: i < shape.signals && i < shape.timers,
  }));
}
