import { createHash } from 'node:crypto';
import { status as grpcStatus } from '@grpc/grpc-js';
import {
  isGrpcServiceError,
  ServiceError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import {
  ApplicationFailure,
  defaultPayloadConverter,
  WorkflowNotFoundError,
  type Payload,
} from '@temporalio/common';
import type { ClockSettings } from '../domain/clock.js';
import { grpcCodeOf } from '../platform/temporal-client.js';
import { ERROR_CODES, type ErrorCode } from '../domain/errors.js';
import { isDispatchEvent, type CanonicalEvent, type DispatchEvent } from '../domain/events.js';
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
import type { TaskCheck } from './task-guard.js';

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

/**
 * A delivery that may succeed later. `worker`: Temporal answered but no worker served the shipment (an
 * update or query waits for one); only that shipment's later rows wait. `temporal`: Temporal itself could
 * not be reached or did not answer; the forwarder pauses its whole pass.
 */
export class TransientDeliveryError extends Error {
  constructor(
    readonly scope: 'worker' | 'temporal',
    message: string,
  ) {
    super(message);
    this.name = 'TransientDeliveryError';
  }
}

export { grpcCodeOf };

/** True when the error says the workflow does not exist (or has already closed). */
export function isWorkflowNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || grpcCodeOf(err) === grpcStatus.NOT_FOUND;
}

/** Status codes that mean Temporal could not be reached, was overloaded or did not answer in time. */
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
  // The typed reason may sit below an activity failure: walk the chain to the first code we know.
  for (let cause: Error | undefined = err.cause; cause; cause = cause.cause as Error | undefined) {
    if (cause instanceof ApplicationFailure && cause.type && Object.hasOwn(ERROR_CODES, cause.type)) {
      return { code: cause.type as ErrorCode, message: cause.message };
    }
  }
  // No business reason anywhere: a failure to retry later (a 5xx, so never kept under an Idempotency-Key).
  return { code: 'UPDATE_FAILED', message: err.cause?.message ?? err.message };
}

/** What a failed Temporal call means for the caller. */
export type TemporalProblem =
  /** An update's validator or handler refused the request with a typed code. */
  | { kind: 'rejected'; code: ErrorCode; message: string }
  /** No such workflow, or it has closed (for signals and updates). */
  | { kind: 'not_found'; message: string }
  /** Temporal answers, but no worker served the workflow's task queue in time. */
  | { kind: 'worker_unavailable'; message: string }
  /** Temporal could not be reached, was overloaded, or failed the call itself. */
  | { kind: 'temporal_unavailable'; message: string }
  /** Temporal refused the request as malformed; sending it again cannot help. */
  | { kind: 'invalid'; message: string };

/** The name of a gRPC status code, e.g. `FAILED_PRECONDITION`. */
function codeName(code: number): string {
  return grpcStatus[code] ?? String(code);
}

/** The message of a Temporal client error, with the gRPC detail when it has one. */
function detailOf(err: unknown): string {
  if (isGrpcServiceError(err)) return err.details || err.message;
  if (err instanceof Error && isGrpcServiceError(err.cause)) return err.cause.details || err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** True for errors raised by the Temporal client or server (as opposed to a bug of ours). */
function isTemporalClientError(err: unknown): boolean {
  return (
    grpcCodeOf(err) !== undefined ||
    err instanceof ServiceError ||
    err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ||
    isTemporalUnavailable(err)
  );
}

/**
 * Classifies an error of a Temporal call. A deadline that passed is ambiguous: Temporal may be down, or it
 * may be up while no worker answers the query or update. `probe` asks Temporal something no worker takes
 * part in (describe the workflow, system info); when it answers, the worker is the one missing.
 * Undefined for errors that do not come from Temporal.
 */
export async function classifyTemporalError(
  err: unknown,
  probe?: () => Promise<unknown>,
): Promise<TemporalProblem | undefined> {
  if (err instanceof WorkflowUpdateFailedError) return { kind: 'rejected', ...rejectionOf(err) };
  if (isWorkflowNotFound(err)) return { kind: 'not_found', message: detailOf(err) };
  const code = grpcCodeOf(err);
  if (code === grpcStatus.FAILED_PRECONDITION) {
    // "no poller seen for task queue recently", or a workflow task that cannot run: the worker side.
    return { kind: 'worker_unavailable', message: `no worker answered: ${detailOf(err)}` };
  }
  if (code === grpcStatus.INVALID_ARGUMENT) {
    return { kind: 'invalid', message: `Temporal refused the request: ${detailOf(err)}` };
  }
  if (code === grpcStatus.DEADLINE_EXCEEDED || code === grpcStatus.CANCELLED) {
    if (
      probe &&
      (await probe().then(
        () => true,
        () => false,
      ))
    ) {
      return {
        kind: 'worker_unavailable',
        message: 'Temporal is up but no worker answered in time (workers stopped or overloaded)',
      };
    }
    return { kind: 'temporal_unavailable', message: 'Temporal did not answer in time' };
  }
  if (code === grpcStatus.UNAVAILABLE) {
    return { kind: 'temporal_unavailable', message: `Temporal could not be reached: ${detailOf(err)}` };
  }
  if (code === grpcStatus.RESOURCE_EXHAUSTED) {
    return { kind: 'temporal_unavailable', message: `Temporal is overloaded: ${detailOf(err)}` };
  }
  if (code !== undefined) {
    return {
      kind: 'temporal_unavailable',
      message: `Temporal failed the call (${codeName(code)}): ${detailOf(err)}`,
    };
  }
  if (isTemporalClientError(err)) {
    return { kind: 'temporal_unavailable', message: `Temporal could not be reached: ${detailOf(err)}` };
  }
  return undefined;
}

/** Seconds a caller should wait before retrying after a 503 from Temporal or its workers. */
export const TEMPORAL_RETRY_AFTER_SECONDS = 5;

/**
 * Maps an error from a synchronous Temporal call to the API's error: the update's own 4xx code, 404 for a
 * missing shipment, 503 WORKER_UNAVAILABLE or TEMPORAL_UNAVAILABLE with Retry-After, 400 for a request
 * Temporal refused. Undefined for errors that do not come from Temporal (a bug: the caller answers 500).
 */
export async function toApiError(
  err: unknown,
  shipmentId: string,
  probe?: () => Promise<unknown>,
): Promise<GatewayError | undefined> {
  const problem = await classifyTemporalError(err, probe);
  if (!problem) return undefined;
  const retry = { retryAfterSeconds: TEMPORAL_RETRY_AFTER_SECONDS };
  switch (problem.kind) {
    case 'rejected':
      return new GatewayError(problem.code, problem.message);
    case 'not_found':
      return new GatewayError('SHIPMENT_NOT_FOUND', `no open shipment ${shipmentId}`);
    case 'worker_unavailable':
      return new GatewayError('WORKER_UNAVAILABLE', `${shipmentId}: ${problem.message}; retry later`, retry);
    case 'temporal_unavailable':
      return new GatewayError('TEMPORAL_UNAVAILABLE', `${problem.message}; retry later`, retry);
    case 'invalid':
      return new GatewayError('VALIDATION_FAILED', problem.message);
  }
}

/** A probe that asks Temporal to describe a workflow (no worker involved), with a short deadline. */
export function describeProbe(client: Client, workflowId: string, timeoutMs = 2_000): () => Promise<unknown> {
  return () =>
    withTemporalDeadline(client, () => client.workflow.getHandle(workflowId).describe(), timeoutMs);
}

/** Workflow status names as the client's `status.name` gives them, by the API's status code. */
const STATUS_NAMES = [
  'UNSPECIFIED',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'TERMINATED',
  'CONTINUED_AS_NEW',
  'TIMED_OUT',
  'PAUSED',
] as const;

/** The name of a workflow status code ('RUNNING', 'COMPLETED', ...; 'UNKNOWN' for a code this build does not know). */
export function workflowStatusName(code: number | null | undefined): string {
  return STATUS_NAMES[code ?? 0] ?? 'UNKNOWN';
}

/** A workflow as visibility lists it: its id, its status name and the keyword search attributes asked for. */
export interface ListedWorkflow {
  workflowId: string;
  status: string;
  keywords: Record<string, string | undefined>;
}

const keywordOf = (payload: Payload): string | undefined => {
  const value: unknown = defaultPayloadConverter.fromPayload(payload);
  return typeof value === 'string' ? value : undefined;
};

/**
 * Lists workflows through the raw visibility call, reading only their status and some keyword search
 * attributes. The client's `workflow.list` also decodes each execution's memo through the data converter
 * (the payload codec's decryption) and walks every response for externally stored payloads: a tenth of the
 * gateway's CPU under load went there for a sweep that reads two search attributes. Search attributes are
 * never encoded by a codec, so they are read as they come.
 */
export async function* listWorkflows(
  client: Client,
  query: string,
  keywords: readonly string[],
): AsyncGenerator<ListedWorkflow> {
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query,
      pageSize: 1_000,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    for (const e of page.executions) {
      const fields = e.searchAttributes?.indexedFields ?? {};
      const values: Record<string, string | undefined> = {};
      for (const k of keywords) {
        const payload = fields[k];
        values[k] = payload ? keywordOf(payload) : undefined;
      }
      yield {
        workflowId: e.execution?.workflowId ?? '',
        status: workflowStatusName(e.status),
        keywords: values,
      };
    }
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
}

/**
 * The status name of a workflow's latest run, from the raw describe call: without the memo decoded and the
 * response walked, as the client's `describe()` does (see `listWorkflows`). A missing workflow rejects with
 * the service's NOT_FOUND (`isWorkflowNotFound`).
 */
export async function workflowStatusOf(client: Client, workflowId: string): Promise<string> {
  const res = await client.workflowService.describeWorkflowExecution({
    namespace: client.options.namespace,
    execution: { workflowId },
  });
  return workflowStatusName(res.workflowExecutionInfo?.status);
}

/** A probe that asks Temporal for its system info (no worker involved), with a short deadline. */
export function systemProbe(client: Client, timeoutMs = 2_000): () => Promise<unknown> {
  return () => withTemporalDeadline(client, () => client.workflowService.getSystemInfo({}), timeoutMs);
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
  /** Refuses dispatch events about a task the shipment did not create (optional; the workflow checks too). */
  taskGuard?: { check(workflowId: string, event: DispatchEvent): Promise<TaskCheck> };
  /** True when an earlier event of the shipment reached it: it existed, even if Temporal no longer keeps it. */
  forwardedBefore?: (workflowId: string) => Promise<boolean>;
}

/** How a delivered event ended when it did not simply reach its workflow. */
export type DeliveryResult =
  { outcome: 'forwarded' } | { outcome: 'late'; reason: string } | { outcome: 'ignored'; reason: string };

/**
 * The event's shipment is not open: late when the shipment existed and has closed, a dead letter
 * (EVENT_UNKNOWN_SHIPMENT) when shipsync never ran it.
 */
async function lateOrUnknown(ctx: DeliveryContext, workflowId: string): Promise<DeliveryResult> {
  let closed: string | undefined;
  try {
    const d = await withTemporalDeadline(ctx.client, () =>
      ctx.client.workflow.getHandle(workflowId).describe(),
    );
    if (d.status.name === 'RUNNING') {
      // A new run took over between the two calls (continue-as-new): deliver again.
      throw new TransientDeliveryError('temporal', `${workflowId} is running again; delivering again`);
    }
    closed = `${d.status.name.toLowerCase()} at ${d.closeTime?.toISOString() ?? 'an unknown time'}`;
  } catch (err) {
    if (err instanceof TransientDeliveryError) throw err;
    if (!isWorkflowNotFound(err)) throw await transientOf(ctx, err, workflowId);
  }
  if (closed) return { outcome: 'late', reason: `${workflowId} had closed (${closed}) before this event` };
  if (await ctx.forwardedBefore?.(workflowId)) {
    return { outcome: 'late', reason: `${workflowId} has closed and is past Temporal's retention` };
  }
  throw new PermanentDeliveryError(
    'EVENT_UNKNOWN_SHIPMENT',
    `no shipment workflow ${workflowId} has ever run`,
  );
}

/** The retry a Temporal error calls for; a PermanentDeliveryError when it cannot succeed later. */
async function transientOf(ctx: DeliveryContext, err: unknown, workflowId?: string): Promise<Error> {
  const probe = workflowId ? describeProbe(ctx.client, workflowId) : systemProbe(ctx.client);
  const problem = await classifyTemporalError(err, probe);
  if (!problem) return err instanceof Error ? err : new Error(String(err));
  switch (problem.kind) {
    case 'rejected':
      // A reason that can pass (a vendor outage behind the update) is retried, not dead-lettered.
      if (ERROR_CODES[problem.code].retryable) return new TransientDeliveryError('worker', problem.message);
      return new PermanentDeliveryError(problem.code, problem.message);
    case 'invalid':
      return new PermanentDeliveryError('EVENT_SCHEMA_INVALID', problem.message);
    case 'worker_unavailable':
      return new TransientDeliveryError('worker', problem.message);
    case 'not_found':
    case 'temporal_unavailable':
      return new TransientDeliveryError('temporal', problem.message);
  }
}

/**
 * The reason of a reschedule refusal the shipment answered on the customer's ticket (its failure names the
 * ticket), as the inbox keeps it; undefined for any other failure.
 */
function answeredRefusal(err: unknown): string | undefined {
  if (!(err instanceof WorkflowUpdateFailedError) || !(err.cause instanceof ApplicationFailure)) return;
  const detail = err.cause.details?.[0] as { answeredOnTicket?: unknown } | undefined;
  if (typeof detail?.answeredOnTicket !== 'string') return;
  const { type, message } = err.cause;
  return `refused (${type ?? 'REJECTED'}: ${message}); answered on ticket ${detail.answeredOnTicket}`;
}

/**
 * Delivers one canonical event to Temporal: a dispatch event becomes the shipment's dispatch-event signal,
 * an order release starts (or attaches to) the shipment, a CRM reschedule request becomes the reschedule
 * update. Returns `late` when the shipment has closed, `ignored` when the event is about a dispatch task the
 * shipment did not create, or is a reschedule the shipment refused and answered on the customer's ticket.
 * Throws PermanentDeliveryError when the event can never be delivered (no such shipment, a business rejection,
 * a request Temporal refuses as malformed) and TransientDeliveryError for everything else, so nothing valid
 * is lost while Temporal or the workers are down.
 */
export async function deliverEvent(ctx: DeliveryContext, event: CanonicalEvent): Promise<DeliveryResult> {
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
      return { outcome: 'forwarded' };
    }
    if (!workflowId)
      throw new PermanentDeliveryError(
        'EVENT_UNKNOWN_SHIPMENT',
        `subject ${event.subject} is not a shipment id`,
      );
    if (isDispatchEvent(event)) {
      const check = await ctx.taskGuard?.check(workflowId, event);
      if (check && !check.ok) return { outcome: 'ignored', reason: check.reason };
      await withTemporalDeadline(client, () =>
        signalOnce(client, workflowId, dispatchEventSignal.name, event, `inbox:${event.id}`),
      );
      return { outcome: 'forwarded' };
    }
    if (event.type === 'reschedule.requested.v1') {
      const request = RescheduleRequest.parse({
        window: event.data.window,
        reason: 'requested in the CRM',
        requestedBy: event.data.requestedBy,
        ticketId: event.data.ticketId,
      });
      try {
        await withTemporalDeadline(client, () =>
          client.workflow
            .getHandle(workflowId)
            .executeUpdate(rescheduleUpdate, { args: [request], updateId: `inbox:${event.id}` }),
        );
      } catch (err) {
        // A refusal the shipment already answered on the customer's ticket is settled, not a dead letter.
        const answered = answeredRefusal(err);
        if (answered) return { outcome: 'ignored', reason: answered };
        throw err;
      }
      return { outcome: 'forwarded' };
    }
  } catch (err) {
    if (err instanceof PermanentDeliveryError || err instanceof TransientDeliveryError) throw err;
    if (workflowId && isWorkflowNotFound(err)) return lateOrUnknown(ctx, workflowId);
    throw await transientOf(ctx, err, workflowId);
  }
  throw new PermanentDeliveryError(
    'EVENT_SCHEMA_INVALID',
    `no shipment operation takes ${event.type} events`,
  );
}
