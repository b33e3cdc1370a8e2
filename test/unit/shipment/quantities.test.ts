import { describe, expect, it } from 'vitest';
import {
  billableQuantities,
  buildBillingDocument,
  computeCharges,
  priceQuantities,
  TARIFF,
} from '../../../src/domain/billing.js';
import { sampleOrder } from '../../support/fixtures.js';

const order = sampleOrder({ pallets: 3 });
const facts = {
  order,
  attempts: 1,
  delivered: true,
  mileageKm: 12.34,
  liftgateUsed: false,
  waitingMinutes: 0,
  freeWaitingMinutes: 15,
};

describe('billing quantities, priced by a tariff', () => {
  it.each([
    ['a clean delivery', facts],
    ['liftgate and waiting', { ...facts, liftgateUsed: true, waitingMinutes: 47.6 }],
    ['two attempts', { ...facts, attempts: 2 }],
    ['returned', { ...facts, attempts: 3, delivered: false }],
    ['nothing driven', { ...facts, mileageKm: 0, attempts: 0 }],
  ])('when %s is priced with the built-in tariff then the charges are those it always billed', (_l, f) => {
    expect(priceQuantities(billableQuantities(f), TARIFF)).toEqual(computeCharges(f));
  });

  it('when a shipment is counted then only quantities come out: pallets, km to a tenth, billable minutes, redeliveries, return', () => {
    expect(
      billableQuantities({
        ...facts,
        mileageKm: 12.36,
        liftgateUsed: true,
        waitingMinutes: 40.4,
        attempts: 3,
        delivered: false,
      }),
    ).toEqual({ pallets: 3, km: 12.4, liftgate: true, waitingMinutes: 25, redeliveries: 2, returned: true });
  });

  it('when other prices apply then each charge uses them and the document carries their version', () => {
    const prices = { ...TARIFF, basePerShipment: 50, perKm: 1.25, liftgate: 80 };
    const charges = priceQuantities(billableQuantities({ ...facts, liftgateUsed: true }), prices);
    expect(charges.map((c) => [c.code, c.unitPrice, c.amount])).toEqual([
      ['BASE', 95, 95],
      ['MILEAGE', 1.25, 15.38],
      ['LIFTGATE', 80, 80],
    ]);
    const doc = buildBillingDocument({
      shipmentId: `shipment-${order.deliveryId}`,
      order,
      charges,
      pricingVersion: '20261201090000-0a1b2c3d',
    });
    expect(doc).toMatchObject({ total: 190.38, pricingVersion: '20261201090000-0a1b2c3d' });
  });
});
