import { condition, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { BenchActivities } from './activities.js';
import { taskQueues } from '../../../src/workflows/task-queues.js';
import type { BaselineInput } from './contract.js';
import { baselinePlan, baselineSignal, type BaselineResult } from './plan.js';

/**
 * The bare-Temporal baseline: the activities, signals and timers of a typical shipment with no business
 * logic and no-op activities, so its throughput is what Temporal and one worker can do with that shape.
 */
export async function BaselineWorkflow(input: BaselineInput): Promise<BaselineResult> {
  const q = taskQueues(input.taskQueuePrefix);
  const options = {
    startToCloseTimeout: '30s',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
  } as const;
  const stubs = {
    shipments: proxyActivities<BenchActivities>({ ...options, taskQueue: q.shipments }),
    erp: proxyActivities<BenchActivities>({ ...options, taskQueue: q.erp }),
    dispatch: proxyActivities<BenchActivities>({ ...options, taskQueue: q.dispatch }),
    crm: proxyActivities<BenchActivities>({ ...options, taskQueue: q.crm }),
  };
  let received = 0;
  setHandler(baselineSignal, () => {
    received++;
  });
  // A parked run counts its release signal as signal zero, so the plan's waits start at one.
  const offset = input.parked ? 1 : 0;
  if (input.parked) await condition(() => received >= 1);
  const plan = baselinePlan(input.shape);
  let step = 0;
  let timersLeft = input.shape.timers;
  for (const [i, s] of plan.entries()) {
    for (const queue of s.activities) await stubs[queue].benchNoop({ step: step++ });
    if (i === plan.length - 1) break;
    const arrived = () => received >= offset + i + 1;
    // Like the shipment's waits: a timer guards the wait and is cancelled when the signal arrives.
    if (s.timer) {
      timersLeft--;
      if (await condition(arrived, input.timerMs)) continue;
    }
    await condition(arrived);
  }
  for (; timersLeft > 0; timersLeft--) await sleep(1);
  return { signals: received };
}
