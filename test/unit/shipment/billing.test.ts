import { describe, expect, it } from 'vitest';
import {
  accessorialTotal,
  buildBillingDocument,
  computeCharges,
  nextServiceWindow,
  TARIFF,
} from '../../../src/domain/billing.js';
import { sampleOrder } from '../../support/fixtures.js';

const order = sampleOrder({ pallets: 2 });
const facts = {
  order,
  attempts: 1,
  delivered: true,
  mileageKm: 12.34,
  liftgateUsed: false,
  waitingMinutes: 0,
  freeWaitingMinutes: 15,
};

describe('billing', () => {
  it.each([
    ['a clean delivery', facts, { BASE: 75, MILEAGE: 13.53 }],
    [
      'liftgate and 40 min waiting',
      { ...facts, liftgateUsed: true, waitingMinutes: 40 },
      { BASE: 75, MILEAGE: 13.53, LIFTGATE: 75, WAITING: 37.5 },
    ],
    [
      'delivered on the second attempt',
      { ...facts, attempts: 2 },
      { BASE: 75, MILEAGE: 13.53, REDELIVERY: 55 },
    ],
    [
      'returned after two attempts',
      { ...facts, attempts: 2, delivered: false },
      { BASE: 75, MILEAGE: 13.53, REDELIVERY: 55, RETURN: 95 },
    ],
    ['waiting within free time', { ...facts, waitingMinutes: 10 }, { BASE: 75, MILEAGE: 13.53 }],
  ])('when %s then the charges are as the tariff says', (_label, f, expected) => {
    const charges = computeCharges(f);
    expect(Object.fromEntries(charges.map((c) => [c.code, c.amount]))).toEqual(expected);
    const doc = buildBillingDocument({ shipmentId: 's', order, charges });
    expect(doc.total).toBeCloseTo(
      Object.values(expected).reduce((a, b) => a + b, 0),
      2,
    );
  });

  it('when accessorials are summed then base and mileage are left out', () => {
    const charges = computeCharges({ ...facts, liftgateUsed: true, attempts: 2 });
    expect(accessorialTotal(charges)).toBe(TARIFF.liftgate + TARIFF.redelivery);
  });

  it('when the next window is needed on a Friday then it lands on Monday for a weekday customer', () => {
    const friday = { start: '2026-12-04T14:00:00.000Z', end: '2026-12-04T18:00:00.000Z' };
    expect(nextServiceWindow(friday, [1, 2, 3, 4, 5])).toEqual({
      start: '2026-12-07T14:00:00.000Z',
      end: '2026-12-07T18:00:00.000Z',
    });
  });
});
