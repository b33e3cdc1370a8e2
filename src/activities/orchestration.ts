import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { ClockSettings } from '../domain/clock.js';
import type { Order } from '../domain/model.js';
import type { RejectedDelivery } from '../integrations/ports.js';
import { startShipment } from '../platform/shipments.js';
import type { ShipmentSettings } from '../workflows/shipment/contract.js';
import { taskQueues } from '../workflows/task-queues.js';
import {
  REGION_PLANNING_WORKFLOW_TYPE,
  regionPlanningWorkflowId,
  type RegionPlanningInput,
} from '../workflows/planning/contract.js';
import type { RegionPlanningWorkflow } from '../workflows/planning/workflow.js';

/** Where a release pass keeps the deliveries it could not read: the gateway's dead letters. */
export interface RejectedReleaseSink {
  add(letter: {
    source: 'erp';
    stage: 'release';
    eventId: string;
    eventType: string;
    reason: string;
    code: string;
    payload: string;
    headers: Record<string, string>;
    createdAt: string;
  }): Promise<number>;
}

/** Workflow starts one `startShipments` call keeps in flight at once. */
export const STARTS_IN_FLIGHT = 10;

/** Activities that start workflows (task queue `shipments`): they need a Temporal client. */
export function createOrchestrationActivities(deps: {
  client: Client;
  clock: ClockSettings;
  settings: ShipmentSettings;
  taskQueuePrefix?: string;
  /** The gateway's dead letters, opened on first use (`shipsync dlq` shows what is written there). */
  deadLetters?: () => Promise<RejectedReleaseSink>;
}) {
  return {
    /**
     * Keeps the released deliveries a release pass could not read as dead letters (source erp, stage
     * release) with the reason and the ERP's entity; a delivery listed again by a later pass is not stored
     * twice while its letter is open. Without a store the pass fails and Temporal retries it: nothing the ERP
     * released is dropped silently.
     */
    async recordRejectedReleases(input: { rejected: RejectedDelivery[] }): Promise<{ recorded: number }> {
      if (!deps.deadLetters) throw new Error('no dead-letter store configured for the release pass');
      const letters = await deps.deadLetters();
      const at = new Date().toISOString();
      for (const r of input.rejected) {
        await letters.add({
          source: 'erp',
          stage: 'release',
          eventId: `release:${r.deliveryId}`,
          eventType: 'delivery.released',
          reason: `${r.field ? `${r.field}: ` : ''}${r.message}`,
          code: 'VALIDATION_FAILED',
          payload: JSON.stringify(r.entity ?? { DeliveryDocument: r.deliveryId }),
          headers: {},
          createdAt: at,
        });
      }
      return { recorded: input.rejected.length };
    },
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
