import type { Client } from '@temporalio/client';
import type { Config } from './config.js';
import { upsertSchedule } from './schedules.js';
import {
  ORDER_RELEASE_SCHEDULE_ID,
  ORDER_RELEASE_WORKFLOW_TYPE,
  type OrderReleaseInput,
  type OrderReleaseResult,
} from '../workflows/release/contract.js';
import { taskQueues } from '../workflows/task-queues.js';

/** Creates the order-release Schedule, or updates its interval when it exists; returns its id. */
export async function upsertReleaseSchedule(
  client: Client,
  config: Config,
  everyMinutes: number,
): Promise<string> {
  const input: OrderReleaseInput = { pageSize: 100, taskQueuePrefix: config.SHIPSYNC_TASK_QUEUE_PREFIX };
  // A slow ERP never piles up concurrent release passes (overlap SKIP).
  return upsertSchedule(client, {
    scheduleId: `${config.SHIPSYNC_TASK_QUEUE_PREFIX}${ORDER_RELEASE_SCHEDULE_ID}`,
    workflowType: ORDER_RELEASE_WORKFLOW_TYPE,
    taskQueuePrefix: config.SHIPSYNC_TASK_QUEUE_PREFIX,
    args: [input],
    spec: { intervals: [{ every: `${everyMinutes}m` }] },
  });
}

/** Runs one release pass now and waits for its result. */
export async function releaseNow(client: Client, config: Config): Promise<OrderReleaseResult> {
  const input: OrderReleaseInput = { pageSize: 100, taskQueuePrefix: config.SHIPSYNC_TASK_QUEUE_PREFIX };
  return client.workflow.execute('OrderReleaseWorkflow', {
    workflowId: `${config.SHIPSYNC_TASK_QUEUE_PREFIX}order-release-now-${Date.now()}`,
    taskQueue: taskQueues(config.SHIPSYNC_TASK_QUEUE_PREFIX).shipments,
    args: [input],
  });
}
