import {
  ApplicationFailure,
  condition,
  defineQuery,
  defineSignal,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ShipmentPhase, TimeWindow } from '../../../src/domain/model.js';
import {
  approveChargesUpdate,
  dispatchEventSignal,
  rescheduleUpdate,
  statusQuery,
  type ShipmentInput,
  type ShipmentStatus,
} from '../../../src/workflows/shipment/contract.js';
import { SA } from '../../../src/workflows/shipment/search-attributes.js';

/**
 * A stand-in ShipmentWorkflow for gateway tests: it speaks the real contract's signal, query and updates
 * but only records what it receives, so a test can count exactly what the gateway delivered.
 */

/** Every dispatch event id received, in order, duplicates included. */
export const receivedEventIdsQuery = defineQuery<string[]>('test.receivedEventIds');
/** Every update id whose handler ran, duplicates included. */
export const appliedUpdatesQuery = defineQuery<string[]>('test.appliedUpdates');
/** The requestedBy of every reschedule whose handler ran, in order. */
export const requestersQuery = defineQuery<string[]>('test.requesters');
/** Ends the workflow. */
export const finishSignal = defineSignal('test.finish');

/** Records events and answers the shipment contract with simple, deterministic rules. */
export async function ShipmentWorkflow(input: ShipmentInput): Promise<string[]> {
  return standIn(input, false);
}

/** The same stand-in, but the shipment closes as soon as a delivery completes (for late-event tests). */
export async function ClosingShipmentWorkflow(input: ShipmentInput): Promise<string[]> {
  return standIn(input, true);
}

async function standIn(input: ShipmentInput, closeOnCompletion: boolean): Promise<string[]> {
  const shipmentId = workflowInfo().workflowId;
  const received: string[] = [];
  const applied: string[] = [];
  const requesters: string[] = [];
  let phase: ShipmentPhase = 'planned';
  let window: TimeWindow = input.order.requestedWindow;
  let eta: string | undefined;
  let exception = 'none';
  let finished = false;

  const publish = () =>
    upsertSearchAttributes([
      { key: SA.ShipmentStatus, value: phase },
      { key: SA.OpenException, value: exception },
    ]);

  setHandler(dispatchEventSignal, (event) => {
    received.push(event.id);
    if (event.type === 'stop.started.v1') phase = 'in_transit';
    if (event.type === 'delivery.completed.v1') {
      phase = 'delivered';
      if (closeOnCompletion) finished = true;
    }
    if (event.type === 'delivery.failed.v1') {
      phase = 'failed_attempt';
      exception = 'failed_attempt';
    }
    if ('eta' in event.data && typeof event.data.eta === 'string') eta = event.data.eta;
    publish();
  });

  setHandler(
    rescheduleUpdate,
    (req) => {
      applied.push(`reschedule:${req.window.start}`);
      requesters.push(req.requestedBy);
      window = req.window;
      eta = req.window.start;
      return { shipmentId, window, eta };
    },
    {
      validator: (req) => {
        if (phase !== 'planned') {
          throw ApplicationFailure.create({
            type: 'RESCHEDULE_TOO_LATE',
            message: `shipment is ${phase}`,
            nonRetryable: true,
          });
        }
        if (Date.parse(req.window.start) <= Date.now()) {
          throw ApplicationFailure.create({
            type: 'RESCHEDULE_WINDOW_IN_PAST',
            message: `window start ${req.window.start} is in the past`,
            nonRetryable: true,
          });
        }
      },
    },
  );

  setHandler(approveChargesUpdate, () => {
    throw ApplicationFailure.create({
      type: 'APPROVAL_NOT_PENDING',
      message: 'no charges are waiting for approval',
      nonRetryable: true,
    });
  });

  setHandler(statusQuery, (): ShipmentStatus => ({
    shipmentId,
    deliveryId: input.order.deliveryId,
    customerId: input.order.customerId,
    region: input.order.region,
    phase,
    window,
    ...(eta ? { eta } : {}),
    attempts: 1,
    openCases: [],
    closedCases: 0,
    charges: [],
    awaitingApproval: false,
    milestones: [],
    eventsApplied: received.length,
    eventsIgnored: 0,
    ignoredEvents: [],
  }));
  setHandler(receivedEventIdsQuery, () => received);
  setHandler(appliedUpdatesQuery, () => applied);
  setHandler(requestersQuery, () => requesters);
  setHandler(finishSignal, () => {
    finished = true;
  });

  publish();
  await condition(() => finished);
  return received;
}
