import { z } from 'zod';
import { GeoPoint, Instant, Order, ProofOfDelivery, TimeWindow } from './model.js';

/** Reasons a driver gives for a failed delivery attempt. */
export const FailureReason = z.enum(['recipient_absent', 'address_not_found', 'refused', 'damaged']);
export type FailureReason = z.infer<typeof FailureReason>;

/** Extra services recorded at the stop, billed as accessorials. */
export const Accessorials = z.object({
  liftgate: z.boolean().default(false),
  waitingMinutes: z
    .number()
    .nonnegative()
    .max(24 * 60)
    .default(0),
});

const taskRef = { taskId: z.string().min(1), attempt: z.number().int().min(1) };

/** Data schema of each versioned event type; the type string is the contract. */
export const EVENT_DATA = {
  'order.released.v1': z.object({ order: Order }),
  'route.assigned.v1': z.object({
    ...taskRef,
    driverId: z.string().min(1),
    vehicleId: z.string().min(1).optional(),
    routeId: z.string().min(1).optional(),
    eta: Instant,
  }),
  'route.unassigned.v1': z.object({ ...taskRef }),
  'stop.started.v1': z.object({ ...taskRef, driverId: z.string().min(1), eta: Instant.optional() }),
  'stop.eta.v1': z.object({ ...taskRef, eta: Instant, driftSeconds: z.number() }),
  'delivery.delayed.v1': z.object({ ...taskRef, eta: Instant, delaySeconds: z.number().nonnegative() }),
  'stop.arrived.v1': z.object({ ...taskRef, arrivedAt: Instant, location: GeoPoint.optional() }),
  'delivery.completed.v1': z.object({
    ...taskRef,
    pod: ProofOfDelivery,
    mileageKm: z.number().nonnegative().max(5000),
    accessorials: Accessorials.default({ liftgate: false, waitingMinutes: 0 }),
  }),
  'delivery.failed.v1': z.object({
    ...taskRef,
    reason: FailureReason,
    failedAt: Instant,
    notes: z.string().max(1000).default(''),
    mileageKm: z.number().nonnegative().max(5000).default(0),
  }),
  'reschedule.requested.v1': z.object({
    window: TimeWindow,
    requestedBy: z.string().min(1),
    ticketId: z.string().optional(),
  }),
  'case.opened.v1': z.object({ caseId: z.string().min(1), kind: z.string().min(1) }),
  'billing.posted.v1': z.object({ billingDocumentId: z.string().min(1), total: z.number().nonnegative() }),
  'telemetry.position.v1': z.object({
    driverId: z.string().min(1),
    location: GeoPoint,
    speedKph: z.number().nonnegative().optional(),
  }),
} as const;

/** A versioned event type name. */
export type EventType = keyof typeof EVENT_DATA;
/** All versioned event type names. */
export const EVENT_TYPES = Object.keys(EVENT_DATA) as EventType[];

/** Event types a dispatch platform emits about a shipment; these drive the ShipmentWorkflow. */
export const DISPATCH_EVENT_TYPES = [
  'route.assigned.v1',
  'route.unassigned.v1',
  'stop.started.v1',
  'stop.eta.v1',
  'delivery.delayed.v1',
  'stop.arrived.v1',
  'delivery.completed.v1',
  'delivery.failed.v1',
] as const satisfies readonly EventType[];
export type DispatchEventType = (typeof DISPATCH_EVENT_TYPES)[number];

/** CloudEvents 1.0 attributes plus shipsync's correlation extensions. */
const envelopeBase = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1).max(200),
  source: z.string().min(1).max(200),
  subject: z.string().min(1).max(200),
  time: Instant,
  datacontenttype: z.literal('application/json').default('application/json'),
  correlationid: z.string().min(1).max(200),
  causationid: z.string().min(1).max(200).optional(),
  sequence: z.number().int().nonnegative().optional(),
});

function envelopeOf<T extends EventType>(type: T) {
  return envelopeBase.extend({ type: z.literal(type), data: EVENT_DATA[type] });
}

/** An envelope for any known event type, discriminated by `type`. */
export const EventEnvelope = z.discriminatedUnion(
  'type',
  EVENT_TYPES.map((t) => envelopeOf(t)) as unknown as [
    ReturnType<typeof envelopeOf>,
    ...ReturnType<typeof envelopeOf>[],
  ],
);

/** A canonical event of type T. */
export type CanonicalEvent<T extends EventType = EventType> = T extends EventType
  ? z.infer<typeof envelopeBase> & { type: T; data: z.infer<(typeof EVENT_DATA)[T]> }
  : never;

/** A canonical dispatch event, the payload of the ShipmentWorkflow's dispatch-event signal. */
export type DispatchEvent = CanonicalEvent<DispatchEventType>;

/**
 * The events a parse below returned, by identity. A parse builds a new object, and nothing changes an event
 * after it is built, so such an object needs no second check (the gateway checks every other one).
 */
const parsedEvents = new WeakSet<object>();

/** Parses an unknown value as a canonical event; throws a ZodError naming the offending field. */
export function parseEvent(input: unknown): CanonicalEvent {
  const event = EventEnvelope.parse(input) as CanonicalEvent;
  parsedEvents.add(event);
  return event;
}

/** Parses an unknown value as a canonical event, answering the schema's issues instead of throwing. */
export function safeParseEvent(
  input: unknown,
): { success: true; data: CanonicalEvent } | { success: false; error: z.ZodError } {
  const checked = EventEnvelope.safeParse(input);
  if (!checked.success) return { success: false, error: checked.error };
  const event = checked.data as CanonicalEvent;
  parsedEvents.add(event);
  return { success: true, data: event };
}

/** True for the very object `parseEvent` or `safeParseEvent` returned (not a copy of it). */
export function isParsedEvent(value: unknown): value is CanonicalEvent {
  return typeof value === 'object' && value !== null && parsedEvents.has(value);
}

/** True for event types that come from dispatch about one shipment. */
export function isDispatchEvent(e: CanonicalEvent): e is DispatchEvent {
  return (DISPATCH_EVENT_TYPES as readonly string[]).includes(e.type);
}
