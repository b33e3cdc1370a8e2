import { ClockSettings } from '../../domain/clock.js';
import { z } from 'zod';

/** The planning workflow's type name, as workers register it (the workflow function's name). */
export const REGION_PLANNING_WORKFLOW_TYPE = 'RegionPlanningWorkflow';

/** Workflow id of the planning run of one region and date (within one task-queue prefix). */
export function regionPlanningWorkflowId(region: string, date: string, prefix = ''): string {
  return `${prefix}plan-${region}-${date}`;
}

/** Input of RegionPlanningWorkflow. */
export const RegionPlanningInput = z.object({
  region: z.string().min(1),
  date: z.iso.date(),
  clock: ClockSettings,
  cutoffHourUtc: z.number().int().min(0).max(23),
  taskQueuePrefix: z.string().max(60).default(''),
});
export type RegionPlanningInput = z.infer<typeof RegionPlanningInput>;
