import { proxyActivities, sleep } from '@temporalio/workflow';
import type { DispatchActivities } from '../../activities/dispatch.js';
import { realDuration, simAt } from '../../domain/clock-math.js';
import { taskQueues } from '../task-queues.js';
import type { RegionPlanningInput } from './contract.js';

/** What dispatch answers for a region's plan. */
type PlanResult = Awaited<ReturnType<DispatchActivities['dispatchPlanRegion']>>;

/** At a region's planning cutoff, asks dispatch to optimise that region and date and returns the result. */
export async function RegionPlanningWorkflow(input: RegionPlanningInput): Promise<PlanResult> {
  const dispatch = proxyActivities<DispatchActivities>({
    taskQueue: taskQueues(input.taskQueuePrefix).dispatch,
    startToCloseTimeout: '2m',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
  });
  const cutoff = Date.parse(`${input.date}T${String(input.cutoffHourUtc).padStart(2, '0')}:00:00.000Z`);
  const waitSim = cutoff - simAt(input.clock, Date.now());
  if (waitSim > 0) await sleep(realDuration(input.clock, waitSim));
  return dispatch.dispatchPlanRegion({ region: input.region, date: input.date });
}
