import { defineSignal } from '@temporalio/workflow';
import type { BaselineShape } from './contract.js';

/*
 * The baseline workflow's signal, result and plan, apart from the input's schemas (`contract.ts`): like the
 * shipment workflow, the bare baseline evaluates no zod in a cached run.
 */

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
