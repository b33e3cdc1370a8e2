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

/** Activities that start workflows (task queue `shipments`): they need a Temporal client. */
export function createOrchestrationActivities(deps: {
  client: Client;
  clock: ClockSettings;
  settings: ShipmentSettings;
  taskQueuePrefix?: string;
}) {
  return {
    /** Starts one ShipmentWorkflow per order; running ones are attached to, closed ones are left alone. */
    async startShipments(input: { orders: Order[] }): Promise<{ started: number; attached: number }> {
      let started = 0;
      for (const order of input.orders) {
        const outcome = await startShipment(deps.client, order, {
          clock: deps.clock,
          settings: deps.settings,
          taskQueuePrefix: deps.taskQueuePrefix,
        });
        if (outcome.started) started++;
      }
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
