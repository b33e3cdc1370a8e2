import { createHash } from 'node:crypto';
import {
  isGrpcServiceError,
  ServiceError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import type { ClockSettings } from '../domain/clock.js';
import { ERROR_CODES, type ErrorCode } from '../domain/errors.js';
import { isDispatchEvent, type CanonicalEvent } from '../domain/events.js';
import { startShipment } from '../platform/shipments.js';
import {
  deliveryIdOf,
  dispatchEventSignal,
  RescheduleRequest,
  rescheduleUpdate,
  shipmentWorkflowId,
  type ShipmentSettings,
} from '../workflows/shipment/contract.js';
import { GatewayError, type GatewayErrorCode } from './errors.js';

/**
 * gRPC channel settings for the gateway's Temporal connection: after an outage, reconnect within seconds
 * (gRPC's default backoff grows to two minutes, which would hold the backlog long after Temporal is back).
 */
export const TEMPORAL_CHANNEL_ARGS = {
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 3_000,
} as const;

/** How long one call to Temporal may take before the gateway gives up on it (and retries later). */
export const TEMPORAL_CALL_TIMEOUT_MS = 5_000;

const ID_CHARS = /^[0-9A-Z-]{1,20}$/;

/** gRPC status codes the gateway tells apart (numbers from the gRPC specification). */
const grpcStatus = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  FAILED_PRECONDITION: 9,
  RESOURCE_EXHAUSTED: 8,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/**
 * The shipment workflow id a caller means: the workflow id `shipment-<deliveryId>` itself, or the bare
 * ERP delivery id. Undefined when it is neither.
 */
export function normalizeShipmentId(id: string): string | undefined {
  const deliveryId = deliveryIdOf(id) ?? id;
  return ID_CHARS.test(deliveryId) ? shipmentWorkflowId(deliveryId) : undefined;
}

/** A delivery that can never succeed as sent: the event goes to the dead letters with this code. */
export class PermanentDeliveryError extends Error {
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PermanentDeliveryError';
  }
}

/** The gRPC status code behind a Temporal client error, if there is one. */
export function grpcCodeOf(err: unknown): number | undefined {
  if (isGrpcServiceError(err)) return err.code;
  if (err instanceof ServiceError && isGrpcServiceError(err.cause)) return err.cause.code;
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return grpcStatus.DEADLINE_EXCEEDED;
  return undefined;
}

/** True when the error says the workflow does not exist (or has already closed). */
export function isWorkflowNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || grpcCodeOf(err) === grpcStatus.NOT_FOUND;
}

/** Status codes that mean Temporal could not be reached or did not answer in time. */
const UNAVAILABLE = new Set<number>([
  grpcStatus.UNAVAILABLE,
  grpcStatus.DEADLINE_EXCEEDED,
  grpcStatus.CANCELLED,
  grpcStatus.RESOURCE_EXHAUSTED,
  grpcStatus.ABORTED,
  grpcStatus.UNKNOWN,
  grpcStatus.INTERNAL,
]);

/** True when a retry later may succeed: Temporal is down, overloaded or slow. */
export function isTemporalUnavailable(err: unknown): boolean {
  const code = grpcCodeOf(err);
  if (code !== undefined) return UNAVAILABLE.has(code);
  // Errors before any gRPC status (connection refused while the lazy connection dials).
  return (
    err instanceof Error &&
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|Failed to connect|No connection established/i.test(
      err.message,
    )
  );
}

/** The typed rejection inside a failed update: the ApplicationFailure's type when it is a known code. */
export function rejectionOf(err: WorkflowUpdateFailedError): { code: ErrorCode; message: string } {
  const cause = err.cause;
  if (cause instanceof ApplicationFailure && cause.type && cause.type in ERROR_CODES) {
    return { code: cause.type as ErrorCode, message: cause.message };
  }
  return { code: 'VALIDATION_FAILED', message: cause?.message ?? err.message };
}

/** Maps an error from a synchronous Temporal call to the API's error, so callers see a typed 4xx or a 503. */
export function toApiError(err: unknown, shipmentId: string): GatewayError | undefined {
  if (err instanceof WorkflowUpdateFailedError) {
    const r = rejectionOf(err);
    return new GatewayError(r.code, r.message);
  }
  if (isWorkflowNotFound(err))
    return new GatewayError('SHIPMENT_NOT_FOUND', `no open shipment ${shipmentId}`);
  if (isTemporalUnavailable(err)) {
    return new GatewayError('TEMPORAL_UNAVAILABLE', 'Temporal did not answer in time; retry later', {
      retryAfterSeconds: 5,
    });
  }
  return undefined;
}

/** Runs a Temporal call with a deadline, so a Temporal outage fails fast instead of hanging a request. */
export function withTemporalDeadline<T>(
  client: Client,
  fn: () => Promise<T>,
  timeoutMs = TEMPORAL_CALL_TIMEOUT_MS,
): Promise<T> {
  return client.withDeadline(Date.now() + timeoutMs, fn);
}

/**
 * Sends a signal with a request id derived from the event id. Temporal drops a signal whose request id
 * it has already seen on that run, so a redelivery after a crash between signal and acknowledgement has
 * no second effect. (The SDK's `handle.signal` always draws a random request id.)
 */
export async function signalOnce(
  client: Client,
  workflowId: string,
  signalName: string,
  arg: unknown,
  dedupeKey: string,
) {
  const dc = client.options.loadedDataConverter;
  let payloads = [dc.payloadConverter.toPayload(arg)];
  for (const codec of dc.payloadCodecs) payloads = await codec.encode(payloads);
  await client.workflowService.signalWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId },
    signalName,
    input: { payloads },
    identity: client.options.identity,
    requestId: createHash('sha256').update(dedupeKey).digest('hex').slice(0, 32),
  });
}

/** What the forwarder needs to deliver an event to its shipment. */
export interface DeliveryContext {
  client: Client;
  clock: () => ClockSettings;
  settings: ShipmentSettings;
  taskQueuePrefix: string;
}

/**
 * Delivers one canonical event to Temporal: a dispatch event becomes the shipment's dispatch-event signal,
 * an order release starts (or attaches to) the shipment, a CRM reschedule request becomes the reschedule
 * update. Throws PermanentDeliveryError when the event can never be delivered; any other error is transient.
 */
export async function deliverEvent(ctx: DeliveryContext, event: CanonicalEvent): Promise<void> {
  const { client } = ctx;
  const workflowId = normalizeShipmentId(event.subject);
  try {
    if (event.type === 'order.released.v1') {
      await withTemporalDeadline(client, () =>
        startShipment(client, event.data.order, {
          clock: ctx.clock(),
          settings: ctx.settings,
          taskQueuePrefix: ctx.taskQueuePrefix,
        }),
      );
      return;
    }
    if (!workflowId)
      throw new PermanentDeliveryError(
        'EVENT_UNKNOWN_SHIPMENT',
        `subject ${event.subject} is not a shipment id`,
      );
    if (isDispatchEvent(event)) {
      await withTemporalDeadline(client, () =>
        signalOnce(client, workflowId, dispatchEventSignal.name, event, `inbox:${event.id}`),
      );
      return;
    }
    if (event.type === 'reschedule.requested.v1') {
      const request = RescheduleRequest.parse({
        window: event.data.window,
        reason: 'requested in the CRM',
        requestedBy: event.data.requestedBy,
        ticketId: event.data.ticketId,
      });
      await withTemporalDeadline(client, () =>
        client.workflow
          .getHandle(workflowId)
          .executeUpdate(rescheduleUpdate, { args: [request], updateId: `inbox:${event.id}` }),
      );
      return;
    }
  } catch (err) {
    if (err instanceof PermanentDeliveryError) throw err;
    if (err instanceof WorkflowUpdateFailedError) {
      const r = rejectionOf(err);
      throw new PermanentDeliveryError(r.code, r.message);
    }
    if (isWorkflowNotFound(err)) {
      throw new PermanentDeliveryError(
        'EVENT_UNKNOWN_SHIPMENT',
        `no open shipment workflow ${workflowId ?? event.subject}`,
      );
    }
    if (
      grpcCodeOf(err) === grpcStatus.INVALID_ARGUMENT ||
      grpcCodeOf(err) === grpcStatus.FAILED_PRECONDITION
    ) {
      throw new PermanentDeliveryError(
        'EVENT_SCHEMA_INVALID',
        `Temporal refused the event: ${(err as Error).message}`,
      );
    }
    throw err;
  }
  throw new PermanentDeliveryError(
    'EVENT_SCHEMA_INVALID',
    `no shipment operation takes ${event.type} events`,
  );
}
