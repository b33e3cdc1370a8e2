import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ShipsyncError, issuePath } from '../../domain/errors.js';
import {
  safeParseEvent,
  type CanonicalEvent,
  type DispatchEventType,
  type FailureReason,
} from '../../domain/events.js';
import type { Address, GeoPoint, Job } from '../../domain/model.js';

/** Pure mappings between shipsync's canonical model and the Onfleet API v2 dialect. */

/** An Onfleet metadata entry. */
export interface OnfleetMetadataEntry {
  name: string;
  type: 'string' | 'number' | 'boolean' | 'array' | 'object';
  value: unknown;
  visibility: ('api' | 'dashboard' | 'worker')[];
}

/** An Onfleet address as the API takes it. */
export interface OnfleetAddressBody {
  number: string;
  street: string;
  city: string;
  state: string;
  postalCode: string;
  country: string;
}

/** An Onfleet destination as the API takes it. */
export interface OnfleetDestinationBody {
  address: OnfleetAddressBody;
  location: [number, number];
  notes?: string;
}

/** The body of POST /api/v2/tasks for one delivery attempt. */
export interface OnfleetTaskBody {
  destination: OnfleetDestinationBody;
  recipients?: { name: string; phone: string; skipSMSNotifications: boolean }[];
  recipientName?: string;
  completeAfter: number;
  completeBefore: number;
  quantity: number;
  /** Minutes, as Onfleet counts service time. */
  serviceTime: number;
  notes: string;
  requirements: { signature: boolean; photo: boolean };
  metadata: OnfleetMetadataEntry[];
  container?: { type: 'TEAM'; team: string };
}

/** Canonical failure reasons as Onfleet's driver app records them. */
export const FAILURE_REASON_TO_ONFLEET: Record<FailureReason, string> = {
  recipient_absent: 'NOT_AVAILABLE',
  address_not_found: 'POOR_ADDRESS',
  refused: 'REFUSED',
  damaged: 'DAMAGED',
};

/** Onfleet failure reasons as canonical ones; reasons without a counterpart count as an absent recipient. */
export function failureReasonFromOnfleet(reason: string | undefined): FailureReason {
  switch (reason) {
    case 'POOR_ADDRESS':
      return 'address_not_found';
    case 'REFUSED':
      return 'refused';
    case 'DAMAGED':
      return 'damaged';
    default:
      // NOT_AVAILABLE, CLOSED, OTHER, MANAGER_OVERRIDE: the playbook for all of them is a reattempt.
      return 'recipient_absent';
  }
}

/** A canonical point as Onfleet's [longitude, latitude]. */
export function toLngLat(p: GeoPoint): [number, number] {
  return [p.lng, p.lat];
}

/** A canonical address split the way Onfleet stores it (house number apart from the street). */
export function addressToOnfleet(a: Address): OnfleetAddressBody {
  const m = /^(\d+[A-Za-z]?(?:-\d+[A-Za-z]?)?)\s+(.+)$/.exec(a.street.trim());
  return {
    number: m ? m[1]! : '',
    street: m ? m[2]! : a.street.trim(),
    city: a.city,
    state: a.state,
    postalCode: a.postalCode,
    country: 'United States',
  };
}

/** A phone number in E.164 (US numbers without a country code get +1), or undefined when it has too few digits. */
export function toE164(phone: string | undefined): string | undefined {
  if (!phone) return undefined;
  const digits = phone.replace(/\D/g, '');
  if (digits.length < 7 || digits.length > 15) return undefined;
  if (phone.trim().startsWith('+')) return `+${digits}`;
  if (digits.length === 10) return `+1${digits}`;
  return `+${digits}`;
}

/** The Onfleet task body for a job attempt; the idempotency key rides in metadata so a replay can find the task. */
export function jobToOnfleetTask(
  job: Job,
  idempotencyKey: string,
  opts: { teamId?: string } = {},
): OnfleetTaskBody {
  const phone = toE164(job.recipient.phone);
  const requirements = new Set(job.requirements);
  const meta = (name: string, type: OnfleetMetadataEntry['type'], value: unknown): OnfleetMetadataEntry => ({
    name,
    type,
    value,
    visibility: ['api'],
  });
  return {
    destination: {
      address: addressToOnfleet(job.address),
      location: toLngLat(job.location),
      ...(job.instructions ? { notes: job.instructions } : {}),
    },
    ...(phone
      ? { recipients: [{ name: job.recipient.name, phone, skipSMSNotifications: false }] }
      : { recipientName: job.recipient.name }),
    completeAfter: Date.parse(job.window.start),
    completeBefore: Date.parse(job.window.end),
    quantity: job.quantity,
    serviceTime: Math.round((job.serviceTimeSeconds / 60) * 100) / 100,
    notes: job.instructions,
    requirements: { signature: true, photo: true },
    metadata: [
      meta('shipmentId', 'string', job.shipmentId),
      meta('deliveryId', 'string', job.deliveryId),
      meta('attempt', 'number', job.attempt),
      meta('shipsyncKey', 'string', idempotencyKey),
      meta('region', 'string', job.region),
      meta('weightKg', 'number', job.weightKg),
      meta('hazmat', 'boolean', job.hazmat || requirements.has('hazmat')),
      meta('liftgate', 'boolean', requirements.has('liftgate')),
      meta('requirements', 'array', [...job.requirements]),
    ],
    ...(opts.teamId ? { container: { type: 'TEAM' as const, team: opts.teamId } } : {}),
  };
}

/** The PUT /api/v2/tasks/:id body that moves a task to another destination. */
export function destinationToOnfleet(
  address: Address,
  location: GeoPoint,
): { destination: OnfleetDestinationBody } {
  return { destination: { address: addressToOnfleet(address), location: toLngLat(location) } };
}

// --- webhooks ------------------------------------------------------------------------------------

const LngLat = z.tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)]);
const optionalLngLat = z.union([LngLat, z.array(z.number()).length(0), z.null()]).optional();
const epochMs = z.number().int().nonnegative();

const WebhookTask = z.object({
  id: z.string().min(1),
  worker: z.string().min(1).nullable().optional(),
  completeAfter: epochMs.nullable().optional(),
  completeBefore: epochMs.nullable().optional(),
  estimatedArrivalTime: epochMs.nullable().optional(),
  eta: epochMs.nullable().optional(),
  delayTime: z.number().nullable().optional(),
  metadata: z.array(z.object({ name: z.string(), value: z.unknown() }).loose()).default([]),
  destination: z.object({ location: optionalLngLat }).loose().optional(),
  completionDetails: z
    .object({
      success: z.boolean().optional(),
      time: epochMs.nullable().optional(),
      notes: z.string().optional(),
      failureReason: z.string().optional(),
      failureNotes: z.string().optional(),
      signatureUploadId: z.string().min(1).nullable().optional(),
      photoUploadId: z.string().min(1).nullable().optional(),
      photoUploadIds: z.array(z.string().min(1)).nullable().optional(),
      lastLocation: optionalLngLat,
      distance: z.number().nonnegative().optional(),
    })
    .loose()
    .optional(),
});

/** The parts of an Onfleet webhook payload shipsync reads. */
export const OnfleetWebhookPayload = z.object({
  triggerId: z.number().int().optional(),
  triggerName: z.string().min(1),
  taskId: z.string().min(1).optional(),
  time: epochMs,
  workerId: z.string().min(1).nullable().optional(),
  data: z
    .object({
      task: WebhookTask.optional(),
      worker: z
        .object({
          id: z.string().min(1).optional(),
          location: optionalLngLat,
          vehicle: z
            .object({ id: z.string().min(1).optional() })
            .loose()
            .nullable()
            .optional(),
        })
        .loose()
        .optional(),
    })
    .loose()
    .default({}),
});
type WebhookTask = z.infer<typeof WebhookTask>;

/** What an Onfleet webhook means to shipsync. */
export type OnfleetWebhookResult =
  | { kind: 'event'; event: CanonicalEvent }
  | {
      kind: 'telemetry';
      driverId: string;
      location: GeoPoint;
      driftSeconds?: number;
      at: string;
      receivedAt: string;
    }
  | { kind: 'ignored'; reason: string };

/** Options of onfleetWebhookToCanonical. */
export interface WebhookMappingOptions {
  /** The ETA shipsync last recorded for the task; taskEta drift is measured against it when given. */
  previousEta?: string;
  /** When set, a taskEta whose drift is smaller than this many seconds is telemetry, not an event. */
  telemetryBelowSeconds?: number;
}

const TRIGGER_TYPES: Record<string, DispatchEventType> = {
  taskAssigned: 'route.assigned.v1',
  taskUnassigned: 'route.unassigned.v1',
  taskStarted: 'stop.started.v1',
  taskEta: 'stop.eta.v1',
  taskDelayed: 'delivery.delayed.v1',
  taskArrival: 'stop.arrived.v1',
  taskCompleted: 'delivery.completed.v1',
  taskFailed: 'delivery.failed.v1',
};

/** The deterministic event id of a webhook (Onfleet sends none): `onf-` + hex SHA-256 of trigger, task and time. */
export function onfleetEventId(triggerName: string, taskId: string, time: number): string {
  return `onf-${createHash('sha256').update(`${triggerName}|${taskId}|${time}`).digest('hex')}`;
}

function invalid(message: string, field: string): ShipsyncError {
  return new ShipsyncError('EVENT_SCHEMA_INVALID', message, { field });
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function geo(p: readonly number[] | null | undefined): GeoPoint | undefined {
  return p && p.length === 2 ? { lng: p[0]!, lat: p[1]! } : undefined;
}

function meta(task: WebhookTask, name: string): unknown {
  return task.metadata.find((m) => m.name === name)?.value;
}

function numberMeta(task: WebhookTask, name: string): number | undefined {
  const v = meta(task, name);
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/**
 * Maps an Onfleet webhook payload to a canonical dispatch event, to telemetry (small ETA drift, when asked
 * for), or to `ignored` for triggers that carry no shipment milestone. Throws
 * ShipsyncError('EVENT_SCHEMA_INVALID', ..., { field }) for a payload that is malformed or lacks the
 * shipment metadata shipsync put on the task.
 */
export function onfleetWebhookToCanonical(
  payload: unknown,
  receivedAtIso: string,
  opts: WebhookMappingOptions = {},
): OnfleetWebhookResult {
  const parsed = OnfleetWebhookPayload.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(
      `Onfleet webhook: ${issue?.message ?? 'invalid payload'}`,
      issue ? issuePath(issue.path) : '',
    );
  }
  const p = parsed.data;
  // Own keys only: `constructor` or `__proto__` as a trigger name is an unknown trigger, not a prototype member.
  const type = Object.hasOwn(TRIGGER_TYPES, p.triggerName) ? TRIGGER_TYPES[p.triggerName] : undefined;
  if (!type) return { kind: 'ignored', reason: `trigger ${p.triggerName} carries no shipment milestone` };
  const task = p.data.task;
  if (!task) throw invalid(`Onfleet webhook ${p.triggerName} has no data.task`, 'data.task');
  const shipmentId = meta(task, 'shipmentId');
  if (typeof shipmentId !== 'string' || shipmentId.length === 0) {
    throw invalid(`task ${task.id} has no shipmentId metadata`, 'data.task.metadata.shipmentId');
  }
  const attempt = numberMeta(task, 'attempt');
  if (attempt === undefined || !Number.isInteger(attempt) || attempt < 1) {
    throw invalid(`task ${task.id} has no valid attempt metadata`, 'data.task.metadata.attempt');
  }
  const taskId = p.taskId ?? task.id;
  const driverId = task.worker ?? p.workerId ?? p.data.worker?.id ?? undefined;
  const eta = task.estimatedArrivalTime ?? task.eta ?? undefined;
  const ref = { taskId, attempt };
  const cd = task.completionDetails ?? {};
  const mileageKm =
    numberMeta(task, 'mileageKm') ?? (cd.distance !== undefined ? Math.round(cd.distance / 100) / 10 : 0);

  let data: Record<string, unknown>;
  switch (type) {
    case 'route.assigned.v1': {
      if (!driverId) throw invalid(`taskAssigned for ${taskId} names no worker`, 'data.task.worker');
      const at = eta ?? task.completeBefore ?? task.completeAfter;
      if (at === undefined || at === null)
        throw invalid(`taskAssigned for ${taskId} has no ETA`, 'data.task.estimatedArrivalTime');
      const vehicleId = p.data.worker?.vehicle?.id;
      data = { ...ref, driverId, eta: iso(at), ...(vehicleId ? { vehicleId } : {}) };
      break;
    }
    case 'route.unassigned.v1':
      data = { ...ref };
      break;
    case 'stop.started.v1':
      if (!driverId) throw invalid(`taskStarted for ${taskId} names no worker`, 'data.task.worker');
      data = { ...ref, driverId, ...(eta !== undefined ? { eta: iso(eta) } : {}) };
      break;
    case 'stop.eta.v1': {
      if (eta === undefined)
        throw invalid(`taskEta for ${taskId} has no estimatedArrivalTime`, 'data.task.estimatedArrivalTime');
      const previous = opts.previousEta !== undefined ? Date.parse(opts.previousEta) : NaN;
      const base = Number.isFinite(previous) ? previous : (task.completeBefore ?? undefined);
      const driftSeconds = base === undefined ? 0 : Math.round((eta - base) / 1000);
      const location = geo(p.data.worker?.location);
      if (
        opts.telemetryBelowSeconds !== undefined &&
        Math.abs(driftSeconds) < opts.telemetryBelowSeconds &&
        driverId &&
        location
      ) {
        return {
          kind: 'telemetry',
          driverId,
          location,
          driftSeconds,
          at: iso(p.time),
          receivedAt: receivedAtIso,
        };
      }
      data = { ...ref, eta: iso(eta), driftSeconds };
      break;
    }
    case 'delivery.delayed.v1': {
      if (eta === undefined)
        throw invalid(
          `taskDelayed for ${taskId} has no estimatedArrivalTime`,
          'data.task.estimatedArrivalTime',
        );
      const late = task.delayTime ?? (task.completeBefore ? (eta - task.completeBefore) / 1000 : 0);
      data = { ...ref, eta: iso(eta), delaySeconds: Math.max(0, Math.round(late)) };
      break;
    }
    case 'stop.arrived.v1': {
      const location =
        geo(p.data.worker?.location) ?? geo(cd.lastLocation) ?? geo(task.destination?.location);
      data = { ...ref, arrivedAt: iso(p.time), ...(location ? { location } : {}) };
      break;
    }
    case 'delivery.completed.v1': {
      const location = geo(cd.lastLocation) ?? geo(task.destination?.location);
      if (!location)
        throw invalid(
          `taskCompleted for ${taskId} has no location`,
          'data.task.completionDetails.lastLocation',
        );
      const photoIds = cd.photoUploadIds ?? (cd.photoUploadId ? [cd.photoUploadId] : []);
      data = {
        ...ref,
        pod: {
          deliveredAt: iso(cd.time ?? p.time),
          location,
          ...(cd.signatureUploadId ? { signatureId: cd.signatureUploadId } : {}),
          photoIds,
          notes: (cd.notes ?? '').slice(0, 1000),
        },
        mileageKm,
        accessorials: {
          liftgate: meta(task, 'liftgate') === true,
          waitingMinutes: numberMeta(task, 'waitingMinutes') ?? 0,
        },
      };
      break;
    }
    case 'delivery.failed.v1':
      data = {
        ...ref,
        reason: failureReasonFromOnfleet(cd.failureReason),
        failedAt: iso(cd.time ?? p.time),
        notes: (cd.failureNotes || cd.notes || '').slice(0, 1000),
        mileageKm,
      };
      break;
  }
  const envelope = {
    specversion: '1.0',
    id: onfleetEventId(p.triggerName, taskId, p.time),
    source: 'dispatch/onfleet',
    type,
    subject: shipmentId,
    time: iso(p.time),
    datacontenttype: 'application/json',
    correlationid: shipmentId,
    sequence: p.time,
    data,
  };
  const checked = safeParseEvent(envelope);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw invalid(
      `${type} from ${p.triggerName}: ${issue?.message ?? 'invalid'}`,
      issue ? issuePath(issue.path) : '',
    );
  }
  return { kind: 'event', event: checked.data };
}
