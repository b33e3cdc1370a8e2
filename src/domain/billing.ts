import type { BillingDocument, Charge, ChargeCode, Order } from './model.js';

/** The built-in tariff in USD: prices of runs recorded before the ERP priced charges (see docs/architecture.md). */
export const TARIFF = {
  basePerShipment: 45,
  basePerPallet: 15,
  perKm: 1.1,
  liftgate: 75,
  waitingPerMinute: 1.5,
  redelivery: 55,
  returnToDepot: 95,
} as const;

/** The prices a shipment is billed with, one unit price in USD per kind of quantity. */
export type Tariff = { readonly [K in keyof typeof TARIFF]: number };

/** A name of one price of the tariff (`perKm`, `liftgate`, ...). */
export type PriceKey = keyof typeof TARIFF;

/** The price keys, in the order charges are listed. */
export const PRICE_KEYS = Object.keys(TARIFF) as PriceKey[];

/** The ERP's prices at one date, with the version that identifies them on the billing document. */
export interface PriceList {
  version: string;
  currency: 'USD';
  prices: Tariff;
}

/** Charge codes that are accessorials (not the base freight), which the approval gate looks at. */
export const ACCESSORIAL_CODES: readonly ChargeCode[] = ['LIFTGATE', 'WAITING', 'REDELIVERY', 'RETURN'];

/** What happened on the road, as billing sees it. */
export interface BillableFacts {
  order: Order;
  attempts: number;
  delivered: boolean;
  mileageKm: number;
  liftgateUsed: boolean;
  waitingMinutes: number;
  freeWaitingMinutes: number;
}

/** What a shipment is billed for, counted by shipsync; the prices come from the ERP (or the built-in tariff). */
export interface BillableQuantities {
  pallets: number;
  /** Kilometres driven, to a tenth. */
  km: number;
  liftgate: boolean;
  /** Minutes waited past the free time, whole minutes. */
  waitingMinutes: number;
  redeliveries: number;
  /** The goods went back to the depot. */
  returned: boolean;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

function charge(code: ChargeCode, description: string, quantity: number, unitPrice: number): Charge {
  return { code, description, quantity, unitPrice, amount: round2(quantity * unitPrice), currency: 'USD' };
}

/** Counts what a shipment is billed for from its proof of delivery and events; pure. */
export function billableQuantities(f: BillableFacts): BillableQuantities {
  return {
    pallets: f.order.pallets,
    km: Math.round(f.mileageKm * 10) / 10,
    liftgate: f.liftgateUsed,
    waitingMinutes: Math.max(0, Math.round(f.waitingMinutes - f.freeWaitingMinutes)),
    redeliveries: Math.max(0, f.attempts - 1),
    returned: !f.delivered,
  };
}

/** Prices the quantities with a tariff: one charge per billable kind; pure. */
export function priceQuantities(q: BillableQuantities, t: Tariff): Charge[] {
  const charges: Charge[] = [
    charge(
      'BASE',
      `freight, ${q.pallets} pallet(s)`,
      1,
      round2(t.basePerShipment + t.basePerPallet * q.pallets),
    ),
  ];
  if (q.km > 0) charges.push(charge('MILEAGE', 'distance driven', q.km, t.perKm));
  if (q.liftgate) charges.push(charge('LIFTGATE', 'liftgate service', 1, t.liftgate));
  if (q.waitingMinutes > 0)
    charges.push(charge('WAITING', 'waiting past free time', q.waitingMinutes, t.waitingPerMinute));
  if (q.redeliveries > 0)
    charges.push(charge('REDELIVERY', 'redelivery attempts', q.redeliveries, t.redelivery));
  if (q.returned) charges.push(charge('RETURN', 'return to depot', 1, t.returnToDepot));
  return charges;
}

/** Computes the charges of a shipment at the built-in tariff (runs recorded before ERP pricing); pure. */
export function computeCharges(f: BillableFacts): Charge[] {
  return priceQuantities(billableQuantities(f), TARIFF);
}

/** Sum of the accessorial charges, compared with the approval threshold. */
export function accessorialTotal(charges: readonly Charge[]): number {
  return round2(charges.filter((c) => ACCESSORIAL_CODES.includes(c.code)).reduce((s, c) => s + c.amount, 0));
}

/**
 * The billing document of a shipment's charges. The ERP activity validates it (`BillingDocument`) before it is
 * posted, so an inconsistent document fails that activity for good, naming the field; the workflows that build
 * it stay free of zod (`docs/architecture.md`, "What a cached workflow costs").
 */
export function buildBillingDocument(input: {
  shipmentId: string;
  order: Order;
  charges: Charge[];
  approvedBy?: string;
  /** The second finance approver of a four-eyes approval. */
  secondApprovedBy?: string;
  /** The version of the ERP prices the charges were priced with. */
  pricingVersion?: string;
}): BillingDocument {
  const total = round2(input.charges.reduce((s, c) => s + c.amount, 0));
  return {
    shipmentId: input.shipmentId,
    deliveryId: input.order.deliveryId,
    customerId: input.order.customerId,
    charges: input.charges,
    total,
    currency: 'USD',
    approvedBy: input.approvedBy,
    ...(input.secondApprovedBy ? { secondApprovedBy: input.secondApprovedBy } : {}),
    ...(input.pricingVersion ? { pricingVersion: input.pricingVersion } : {}),
  };
}
