import { describe, expect, it } from 'vitest';
import {
  accessorialTotal,
  buildBillingDocument,
  computeCharges,
  TARIFF,
} from '../../../src/domain/billing.js';
import { isoWeekday, nextServiceWindow } from '../../../src/domain/service-days.js';
import { ApplicationFailure } from '@temporalio/common';
import { createErpActivities } from '../../../src/activities/erp.js';
import { BillingDocument } from '../../../src/domain/model.js';
import type { ErpPort } from '../../../src/integrations/ports.js';
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

  it('when the next service day falls after the end of daylight saving then the window keeps its local hours', () => {
    // Saturday 31 Oct 2026, 14:00–16:00 in Chicago (CDT, UTC−5); the clocks go back on Sunday 1 Nov.
    const saturday = { start: '2026-10-31T19:00:00.000Z', end: '2026-10-31T21:00:00.000Z' };
    // Monday 2 Nov, 14:00–16:00 CST (UTC−6): 25 hours later per day crossed, not 24.
    expect(nextServiceWindow(saturday, [1, 2, 3, 4, 5], 'America/Chicago')).toEqual({
      start: '2026-11-02T20:00:00.000Z',
      end: '2026-11-02T22:00:00.000Z',
    });
  });

  it("when a window starts late in the evening then its service day is the region's calendar day, not UTC's", () => {
    // Tuesday 1 Dec 2026, 23:00 in Chicago is already Wednesday in UTC.
    expect(isoWeekday('2026-12-02T05:00:00.000Z', 'America/Chicago')).toBe(2);
    expect(isoWeekday('2026-12-02T05:00:00.000Z')).toBe(3);
    // Tuesday's late window moves to Wednesday evening for a Monday/Wednesday customer.
    const tuesday = { start: '2026-12-02T04:00:00.000Z', end: '2026-12-02T05:30:00.000Z' };
    expect(nextServiceWindow(tuesday, [1, 3], 'America/Chicago')).toEqual({
      start: '2026-12-03T04:00:00.000Z',
      end: '2026-12-03T05:30:00.000Z',
    });
  });

  describe('the check before the ERP post', () => {
    /** The ERP activities over a port that records billing posts and answers with a document id. */
    function erpActivities() {
      const posted: BillingDocument[] = [];
      const erp = {
        async postBilling(doc: BillingDocument) {
          posted.push(doc);
          return { billingDocumentId: `90${posted.length}` };
        },
      } as Partial<ErpPort> as ErpPort;
      return { posted, activities: createErpActivities({ erp }) };
    }

    it('when the workflow builds a document then the ERP activity posts it as built', async () => {
      const doc = buildBillingDocument({ shipmentId: 's', order, charges: computeCharges(facts) });
      const { posted, activities } = erpActivities();
      await expect(activities.erpPostBilling({ doc, idempotencyKey: 'k1' })).resolves.toEqual({
        billingDocumentId: '901',
      });
      expect(posted).toEqual([BillingDocument.parse(doc)]);
    });

    it('when a charge code appears twice then the ERP activity fails for good naming the field, and nothing is posted', async () => {
      const [base] = computeCharges(facts);
      const doc = buildBillingDocument({ shipmentId: 's', order, charges: [base!, base!] });
      const { posted, activities } = erpActivities();
      const failure = await activities.erpPostBilling({ doc, idempotencyKey: 'k2' }).catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure).toMatchObject({ type: 'VALIDATION_FAILED', nonRetryable: true });
      expect((failure as ApplicationFailure).message).toMatch(/^charges: each charge code may appear once/);
      expect(posted).toEqual([]);
    });
  });
});
