import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { ClockSettings } from '../domain/clock.js';
import type { Order } from '../domain/model.js';
import { startShipment } from '../platform/shipments.js';
import type { ShipmentSettings } from '../workflows/shipment/contract.js';
import { taskQueues } from '../workflows/task-queues.js';
import {
  REGION_PLANNING_WORKFLOW_TYPE,
  regionPlanningWorkflowId,
  type RegionPlanningInput,
} from '../workflows/planning/contract.js';
import type { RegionPlanningWorkflow } from '../workflows/planning/workflow.js';

/** Workflow starts one `startShipments` call keeps in flight at once. */
export const STARTS_IN_FLIGHT = 10;

/** Activities that start workflows (task queue `shipments`): they need a Temporal client. */
export function createOrchestrationActivities(deps: {
  client: Client;
  clock: ClockSettings;
  settings: ShipmentSettings;
  taskQueuePrefix?: string;
}) {
  return {
    /**
     * Starts one ShipmentWorkflow per order; running ones are attached to, closed ones are left alone. Up to
     * `STARTS_IN_FLIGHT` starts are in flight at once, so a page of a busy day fits in the activity's
     * timeout even when each start waits on a loaded server (one at a time, 100 starts of a second each
     * outlived the 2-minute timeout and the page was retried from its beginning, again and again).
     */
    async startShipments(input: { orders: Order[] }): Promise<{ started: number; attached: number }> {
      let started = 0;
      let next = 0;
      const lane = async () => {
        for (let i = next++; i < input.orders.length; i = next++) {
          const outcome = await startShipment(deps.client, input.orders[i]!, {
            clock: deps.clock,
            settings: deps.settings,
            taskQueuePrefix: deps.taskQueuePrefix,
          });
          if (outcome.started) started++;
        }
      };
      await Promise.all(Array.from({ length: Math.min(STARTS_IN_FLIGHT, input.orders.length) }, lane));
      return { started, attached: input.orders.length - started };
    },
    /** Makes sure the planning workflow of a region and date exists. */
    async ensureRegionPlanning(input: { region: string; date: string }): Promise<{ started: boolean }> {
      const args: RegionPlanningInput = {
        region: input.region,
        date: input.date,
        clock: deps.clock,
        cutoffHourUtc: deps.settings.planningCutoffHourUtc,
        taskQueuePrefix: deps.taskQueuePrefix ?? '',
      };
      try {
        await deps.client.workflow.start<typeof RegionPlanningWorkflow>(REGION_PLANNING_WORKFLOW_TYPE, {
          workflowId: regionPlanningWorkflowId(input.region, input.date, deps.taskQueuePrefix),
          taskQueue: taskQueues(deps.taskQueuePrefix).shipments,
          args: [args],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          workflowIdConflictPolicy: 'FAIL',
        });
        return { started: true };
      } catch (err) {
        if (err instanceof WorkflowExecutionAlreadyStartedError) return { started: false };
        throw err;
      }
    },
  };
}

/** The orchestration activity functions, for `proxyActivities` typing. */
export type OrchestrationActivities = ReturnType<typeof createOrchestrationActivities>;
