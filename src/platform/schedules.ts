import { ScheduleNotFoundError, type Client, type ScheduleSpec } from '@temporalio/client';
import { taskQueues } from '../workflows/task-queues.js';

/**
 * Creates a Schedule that starts `workflowType` on the shipments task queue, or updates its spec and action
 * when it exists. Overlap SKIP: a slow run never has a second one of the same kind beside it.
 */
export async function upsertSchedule(
  client: Client,
  opts: {
    scheduleId: string;
    workflowType: string;
    taskQueuePrefix: string;
    args: unknown[];
    spec: ScheduleSpec;
    workflowId?: string;
  },
): Promise<string> {
  const action = {
    type: 'startWorkflow' as const,
    workflowType: opts.workflowType,
    ...(opts.workflowId ? { workflowId: opts.workflowId } : {}),
    taskQueue: taskQueues(opts.taskQueuePrefix).shipments,
    args: opts.args,
  };
  const { scheduleId, spec } = opts;
  try {
    await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec, action }));
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
    await client.schedule.create({ scheduleId, spec, action, policies: { overlap: 'SKIP' } });
  }
  return scheduleId;
}
