import { z } from 'zod';

/** ISO-8601 instant with an offset, as every system boundary in shipsync exchanges times. */
export const Instant = z.iso.datetime({ offset: true });
/** Calendar date, YYYY-MM-DD. */
export const CalendarDate = z.iso.date();

/** A WGS84 point. */
export const GeoPoint = z.object({
  lat: z.number().min(-90).max(90),
  lng: z.number().min(-180).max(180),
});
export type GeoPoint = z.infer<typeof GeoPoint>;

/** How an address was located: an exact rooftop match, or only the centre of its postal code. */
export const GeocodeQuality = z.enum(['rooftop', 'street', 'postal_centroid', 'city_centroid', 'unknown']);
export type GeocodeQuality = z.infer<typeof GeocodeQuality>;

/** A US postal address. */
export const Address = z.object({
  street: z.string().trim().min(1).max(200),
  city: z.string().trim().min(1).max(100),
  state: z.string().regex(/^[A-Z]{2}$/, 'expected a two-letter state code'),
  postalCode: z.string().regex(/^\d{5}(-\d{4})?$/, 'expected a 5-digit ZIP code'),
  country: z.literal('US').default('US'),
});
export type Address = z.infer<typeof Address>;

/** An address once validated and located. */
export const GeocodedAddress = Address.extend({
  geo: GeoPoint,
  quality: GeocodeQuality,
  mismatch: z.string().optional(),
});
export type GeocodedAddress = z.infer<typeof GeocodedAddress>;

/** A delivery window; the end lies after the start. */
export const TimeWindow = z
  .object({ start: Instant, end: Instant })
  .refine((w) => Date.parse(w.end) > Date.parse(w.start), {
    message: 'window end must be after its start',
    path: ['end'],
  });
export type TimeWindow = z.infer<typeof TimeWindow>;

/** Days of the week a customer accepts deliveries, 1 = Monday ... 7 = Sunday (ISO). */
export const ServiceDays = z.array(z.number().int().min(1).max(7)).min(1).max(7);

/** One line of an outbound delivery. */
export const OrderItem = z.object({
  sku: z.string().min(1),
  description: z.string().max(200).default(''),
  quantity: z.number().positive(),
  unit: z.string().min(1).default('EA'),
});

/** The party a delivery goes to. */
export const Recipient = z.object({
  name: z.string().trim().min(1).max(120),
  phone: z
    .string()
    .regex(/^\+?[0-9 ()-]{7,20}$/, 'expected a phone number')
    .optional(),
  email: z.email().optional(),
});

/** An ERP outbound delivery released for shipping: the order shipsync fulfils. */
export const Order = z.object({
  deliveryId: z.string().regex(/^[0-9A-Z-]{1,20}$/, 'expected an ERP delivery id (digits, capitals, dash)'),
  customerId: z.string().min(1).max(20),
  region: z.string().regex(/^[A-Z]{2,8}$/, 'expected a region code in capitals'),
  recipient: Recipient,
  address: Address,
  plannedDate: CalendarDate,
  requestedWindow: TimeWindow,
  serviceDays: ServiceDays.default([1, 2, 3, 4, 5]),
  weightKg: z.number().nonnegative().max(30_000),
  pallets: z.number().int().nonnegative().max(40),
  hazmat: z.boolean().default(false),
  liftgate: z.boolean().default(false),
  instructions: z.string().max(500).default(''),
  items: z.array(OrderItem).min(1),
});
export type Order = z.infer<typeof Order>;

/** The route job shipsync publishes to dispatch for one delivery attempt. */
export const Job = z.object({
  shipmentId: z.string().min(1),
  deliveryId: z.string().min(1),
  attempt: z.number().int().min(1),
  region: z.string().min(1),
  location: GeoPoint,
  address: Address,
  recipient: Recipient,
  window: TimeWindow,
  quantity: z.number().int().nonnegative(),
  weightKg: z.number().nonnegative(),
  hazmat: z.boolean(),
  serviceTimeSeconds: z
    .number()
    .int()
    .positive()
    .max(4 * 3600),
  instructions: z.string().max(500),
  requirements: z.array(z.string()),
});
export type Job = z.infer<typeof Job>;

/** One stop on a planned route. */
export const Stop = z.object({
  taskId: z.string().min(1),
  sequence: z.number().int().nonnegative(),
  eta: Instant,
  location: GeoPoint,
});
export type Stop = z.infer<typeof Stop>;

/** A planned route for one driver and vehicle on one date. */
export const Route = z.object({
  routeId: z.string().min(1),
  region: z.string().min(1),
  date: CalendarDate,
  driverId: z.string().min(1),
  vehicleId: z.string().min(1),
  stops: z.array(Stop),
});
export type Route = z.infer<typeof Route>;

/** Evidence that a delivery happened. */
export const ProofOfDelivery = z
  .object({
    deliveredAt: Instant,
    location: GeoPoint,
    signatureId: z.string().min(1).optional(),
    photoIds: z.array(z.string().min(1)).default([]),
    receivedBy: z.string().max(120).optional(),
    notes: z.string().max(1000).default(''),
  })
  .refine((p) => p.signatureId !== undefined || p.photoIds.length > 0, {
    message: 'proof of delivery needs a signature or at least one photo',
    path: ['signatureId'],
  });
export type ProofOfDelivery = z.infer<typeof ProofOfDelivery>;

/** The exceptions shipsync runs a playbook for. */
export const ExceptionKind = z.enum([
  'failed_attempt',
  'delay',
  'damage',
  'address_mismatch',
  'missing_pod',
  'no_assignment',
  /** A wait passed its SLA (approval, missing POD, parked work): an urgent case for the team. */
  'sla_breached',
]);
export type ExceptionKind = z.infer<typeof ExceptionKind>;

export { CASE_SLA_KINDS, type CaseSlaKind } from './case-kinds.js';

/** A customer-service case opened for an exception. */
export const Case = z.object({
  caseId: z.string().min(1).optional(),
  shipmentId: z.string().min(1),
  kind: ExceptionKind,
  status: z.enum(['new', 'open', 'pending', 'solved', 'closed']),
  priority: z.enum(['low', 'normal', 'high', 'urgent']),
  subject: z.string().min(1).max(200),
  description: z.string().max(5000).default(''),
});
export type Case = z.infer<typeof Case>;

/** Billable charge codes. */
export const ChargeCode = z.enum(['BASE', 'MILEAGE', 'LIFTGATE', 'WAITING', 'REDELIVERY', 'RETURN']);
export type ChargeCode = z.infer<typeof ChargeCode>;

/** Whole cents of a dollar amount, so sums never drift. */
const cents = (n: number) => Math.round(n * 100);

/** One charge line; its amount equals quantity × unit price to the cent. */
export const Charge = z
  .object({
    code: ChargeCode,
    description: z.string().max(200).default(''),
    quantity: z.number().nonnegative(),
    unitPrice: z.number().nonnegative(),
    amount: z.number().nonnegative(),
    currency: z.literal('USD').default('USD'),
  })
  .refine((c) => cents(c.amount) === cents(c.quantity * c.unitPrice), {
    message: 'amount must equal quantity × unitPrice',
    path: ['amount'],
  });
export type Charge = z.infer<typeof Charge>;

/** The billing request posted to the ERP for one shipment. */
export const BillingDocument = z
  .object({
    shipmentId: z.string().min(1),
    deliveryId: z.string().min(1),
    customerId: z.string().min(1),
    charges: z.array(Charge).min(1),
    total: z.number().nonnegative(),
    currency: z.literal('USD').default('USD'),
    approvedBy: z.string().optional(),
    /** The second finance principal of a four-eyes approval (charges above the four-eyes threshold). */
    secondApprovedBy: z.string().optional(),
    /** The version of the ERP prices (condition records) the charges were priced with. */
    pricingVersion: z.string().min(1).max(40).optional(),
  })
  .refine((b) => cents(b.total) === b.charges.reduce((sum, c) => sum + cents(c.amount), 0), {
    message: 'total must equal the sum of the charges',
    path: ['total'],
  })
  .refine((b) => new Set(b.charges.map((c) => c.code)).size === b.charges.length, {
    message: 'each charge code may appear once',
    path: ['charges'],
  });
export type BillingDocument = z.infer<typeof BillingDocument>;

/** Phases of a shipment, in lifecycle order. */
export const ShipmentPhase = z.enum([
  'released',
  'validating',
  'on_hold',
  'published',
  'planned',
  'in_transit',
  'delivered',
  'failed_attempt',
  'returning',
  'returned',
  'billing',
  'awaiting_approval',
  'closed',
]);
export type ShipmentPhase = z.infer<typeof ShipmentPhase>;

/** Business milestones shipsync reports to the ERP; nothing finer-grained ever reaches it. */
export const Milestone = z.enum([
  'planned',
  'dispatched',
  'delayed',
  'delivered',
  'failed_attempt',
  'returned',
  'billed',
  /** The shipment was cancelled by an operator before an outcome; nothing is billed. */
  'cancelled',
]);
export type Milestone = z.infer<typeof Milestone>;

/** A shipment: one ERP delivery, followed from release to closure. */
export const Shipment = z.object({
  shipmentId: z.string().min(1),
  order: Order,
  phase: ShipmentPhase,
  attempts: z.number().int().nonnegative(),
  window: TimeWindow,
  eta: Instant.optional(),
  taskId: z.string().optional(),
  driverId: z.string().optional(),
  routeId: z.string().optional(),
  pod: ProofOfDelivery.optional(),
  openCases: z.array(Case),
  charges: z.array(Charge),
});
export type Shipment = z.infer<typeof Shipment>;
