import { localWeekday, plusLocalDays } from './local-time.js';
import { BillingDocument, type Charge, type ChargeCode, type Order } from './model.js';

/** The tariff: unit prices in USD. */
export const TARIFF = {
  basePerShipment: 45,
  basePerPallet: 15,
  perKm: 1.1,
  liftgate: 75,
  waitingPerMinute: 1.5,
  redelivery: 55,
  returnToDepot: 95,
} as const;

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

const round2 = (n: number) => Math.round(n * 100) / 100;

function charge(code: ChargeCode, description: string, quantity: number, unitPrice: number): Charge {
  return { code, description, quantity, unitPrice, amount: round2(quantity * unitPrice), currency: 'USD' };
}

/** Computes the charges of a shipment from its proof of delivery and events; pure. */
export function computeCharges(f: BillableFacts): Charge[] {
  const charges: Charge[] = [
    charge(
      'BASE',
      `freight, ${f.order.pallets} pallet(s)`,
      1,
      TARIFF.basePerShipment + TARIFF.basePerPallet * f.order.pallets,
    ),
  ];
  const km = Math.round(f.mileageKm * 10) / 10;
  if (km > 0) charges.push(charge('MILEAGE', 'distance driven', km, TARIFF.perKm));
  if (f.liftgateUsed) charges.push(charge('LIFTGATE', 'liftgate service', 1, TARIFF.liftgate));
  const billableWait = Math.max(0, Math.round(f.waitingMinutes - f.freeWaitingMinutes));
  if (billableWait > 0)
    charges.push(charge('WAITING', 'waiting past free time', billableWait, TARIFF.waitingPerMinute));
  const redeliveries = f.delivered ? f.attempts - 1 : Math.max(0, f.attempts - 1);
  if (redeliveries > 0)
    charges.push(charge('REDELIVERY', 'redelivery attempts', redeliveries, TARIFF.redelivery));
  if (!f.delivered) charges.push(charge('RETURN', 'return to depot', 1, TARIFF.returnToDepot));
  return charges;
}

/** Sum of the accessorial charges, compared with the approval threshold. */
export function accessorialTotal(charges: readonly Charge[]): number {
  return round2(charges.filter((c) => ACCESSORIAL_CODES.includes(c.code)).reduce((s, c) => s + c.amount, 0));
}

/** Builds and validates the billing document; throws a ZodError naming the field when the charges are inconsistent. */
export function buildBillingDocument(input: {
  shipmentId: string;
  order: Order;
  charges: Charge[];
  approvedBy?: string;
  /** The second finance approver of a four-eyes approval. */
  secondApprovedBy?: string;
}): BillingDocument {
  const total = round2(input.charges.reduce((s, c) => s + c.amount, 0));
  return BillingDocument.parse({
    shipmentId: input.shipmentId,
    deliveryId: input.order.deliveryId,
    customerId: input.order.customerId,
    charges: input.charges,
    total,
    currency: 'USD',
    approvedBy: input.approvedBy,
    ...(input.secondApprovedBy ? { secondApprovedBy: input.secondApprovedBy } : {}),
  });
}

/**
 * The next window on a customer service day after the given one, at the same local time of day: calendar days
 * and weekdays are the region's (`timeZone`), so a window keeps its local hours across a daylight-saving change.
 */
export function nextServiceWindow(
  window: { start: string; end: string },
  serviceDays: readonly number[],
  timeZone = 'UTC',
) {
  for (let days = 1; days <= 7; days++) {
    const start = plusLocalDays(window.start, days, timeZone);
    if (serviceDays.includes(localWeekday(start, timeZone)) || days === 7)
      return { start, end: plusLocalDays(window.end, days, timeZone) };
  }
  return window;
}

/** ISO weekday (1 = Monday) of an instant on the region's calendar (`timeZone`, UTC by default). */
export function isoWeekday(instant: string, timeZone = 'UTC'): number {
  return localWeekday(instant, timeZone);
}
