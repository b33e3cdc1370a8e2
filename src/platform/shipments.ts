import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { ClockSettings } from '../domain/clock.js';
import type { Order } from '../domain/model.js';
import type { Config } from './config.js';
import {
  SHIPMENT_WORKFLOW_TYPE,
  ShipmentSettings,
  shipmentWorkflowId,
  type ShipmentInput,
} from '../workflows/shipment/contract.js';
import type { ShipmentWorkflow } from '../workflows/shipment/workflow.js';
import { taskQueues } from '../workflows/task-queues.js';
import { SA } from '../workflows/shipment/search-attributes.js';

export { clockFromConfig } from './clock.js';

/** Playbook settings from configuration. */
export function settingsFromConfig(config: Config): ShipmentSettings {
  return ShipmentSettings.parse({
    maxAttempts: config.SHIPSYNC_MAX_DELIVERY_ATTEMPTS,
    approvalThreshold: config.SHIPSYNC_APPROVAL_THRESHOLD,
    fourEyesThreshold: config.SHIPSYNC_FOUR_EYES_THRESHOLD,
    noAssignmentGraceMinutes: config.SHIPSYNC_NO_ASSIGNMENT_GRACE_MINUTES,
    approvalSlaMinutes: config.SHIPSYNC_APPROVAL_SLA_MINUTES,
    approvalDefaultMinutes: config.SHIPSYNC_APPROVAL_DEFAULT_MINUTES,
    missingPodSlaMinutes: config.SHIPSYNC_MISSING_POD_SLA_MINUTES,
    missingPodDefaultMinutes: config.SHIPSYNC_MISSING_POD_DEFAULT_MINUTES,
    parkedSlaMinutes: config.SHIPSYNC_PARKED_SLA_MINUTES,
    parkedRepeatMinutes: config.SHIPSYNC_PARKED_REPEAT_MINUTES,
    caseSlaMinutes: config.SHIPSYNC_CASE_SLA_MINUTES,
    etaDriftMinutes: config.SHIPSYNC_ETA_DRIFT_MINUTES,
  });
}

/** Whether a start created the shipment or attached to the one already running. */
export interface StartOutcome {
  workflowId: string;
  started: boolean;
}

/**
 * Starts the ShipmentWorkflow of an order; a second start of the same delivery attaches to the running
 * one, and a closed shipment is never started again.
 */
export async function startShipment(
  client: Client,
  order: Order,
  opts: { clock: ClockSettings; settings: ShipmentSettings; taskQueuePrefix?: string },
): Promise<StartOutcome> {
  const workflowId = shipmentWorkflowId(order.deliveryId);
  const taskQueuePrefix = opts.taskQueuePrefix ?? '';
  const input: ShipmentInput = { order, clock: opts.clock, settings: opts.settings, taskQueuePrefix };
  try {
    await client.workflow.start<typeof ShipmentWorkflow>(SHIPMENT_WORKFLOW_TYPE, {
      workflowId,
      taskQueue: taskQueues(taskQueuePrefix).shipments,
      args: [input],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: [
        { key: SA.ShipmentStatus, value: 'released' },
        { key: SA.Region, value: order.region },
        { key: SA.CustomerId, value: order.customerId },
        { key: SA.DeliveryDate, value: new Date(`${order.plannedDate}T00:00:00Z`) },
        { key: SA.InvoiceReady, value: false },
      ],
    });
    return { workflowId, started: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { workflowId, started: false };
    throw err;
  }
}
