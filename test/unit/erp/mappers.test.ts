import { describe, expect, it } from 'vitest';
import { ShipsyncError } from '../../../src/domain/errors.js';
import type { BillingDocument } from '../../../src/domain/model.js';
import {
  billingDocumentIdFrom,
  billingToOData,
  commitDateToOData,
  deliveryFromOrder,
  milestoneToOData,
  orderFromDelivery,
  releasedFilter,
  repeatabilityRequestId,
} from '../../../src/integrations/erp/mappers.js';
import type { MilestoneReport } from '../../../src/integrations/ports.js';
import { sampleOrder } from '../../support/fixtures.js';

type Wire = Record<string, unknown>;

/** A valid OData delivery, as the ERP answers a read with items and partners expanded. */
function wireDelivery(): Wire {
  return deliveryFromOrder(sampleOrder());
}

function shipToAddress(w: Wire): Wire {
  const partners = (w.to_DeliveryDocumentPartner as { results: { to_Address: Wire }[] }).results;
  return (partners[0] as { to_Address: Wire }).to_Address;
}

function firstItem(w: Wire): Wire {
  return (w.to_DeliveryDocumentItem as { results: Wire[] }).results[0] as Wire;
}

function validationField(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ShipsyncError);
    expect((err as ShipsyncError).code).toBe('VALIDATION_FAILED');
    return (err as ShipsyncError).details.field;
  }
  throw new Error('expected a VALIDATION_FAILED error');
}

describe('orderFromDelivery', () => {
  const accepted: {
    name: string;
    change: (w: Wire) => unknown;
    expect: (o: ReturnType<typeof orderFromDelivery>) => void;
  }[] = [
    { name: 'the entity itself', change: (w) => w, expect: (o) => expect(o).toEqual(sampleOrder()) },
    {
      name: 'the entity wrapped in {"d": ...}',
      change: (w) => ({ d: w }),
      expect: (o) => expect(o).toEqual(sampleOrder()),
    },
    {
      name: 'a delivery number with ALPHA leading zeros',
      change: (w) => ({ ...w, DeliveryDocument: '0080000001', SoldToParty: '0010100258' }),
      expect: (o) => expect([o.deliveryId, o.customerId]).toEqual(['80000001', '10100258']),
    },
    {
      name: 'an alphanumeric customer number with a leading zero',
      change: (w) => ({ ...w, SoldToParty: '0C1001' }),
      expect: (o) => expect(o.customerId).toBe('0C1001'),
    },
    {
      name: 'a gross weight in pounds',
      change: (w) => ({ ...w, HeaderGrossWeight: '1000.000', HeaderWeightUnit: 'LB' }),
      expect: (o) => expect(o.weightKg).toBe(453.592),
    },
    {
      name: 'the ship-to partner under its English code SH',
      change: (w) => {
        const partners = (w.to_DeliveryDocumentPartner as { results: Wire[] }).results;
        (partners[0] as Wire).PartnerFunction = 'SH';
        return w;
      },
      expect: (o) => expect(o.address.postalCode).toBe('60606'),
    },
    {
      name: 'an empty phone and null custom flags',
      change: (w) => {
        shipToAddress(w).PhoneNumber = '';
        return {
          ...w,
          YY1_HazmatIndicator_DLH: null,
          YY1_LiftgateRequired_DLH: null,
          YY1_Pallets_DLH: null,
          YY1_DeliveryInstructions_DLH: null,
        };
      },
      expect: (o) => {
        expect(o.recipient.phone).toBeUndefined();
        expect([o.hazmat, o.liftgate, o.pallets, o.instructions]).toEqual([false, false, 0, '']);
      },
    },
    {
      name: 'no service days maintained',
      change: (w) => ({ ...w, YY1_ServiceDays_DLH: '' }),
      expect: (o) => expect(o.serviceDays).toEqual([1, 2, 3, 4, 5]),
    },
  ];
  for (const c of accepted) {
    it(`when the ERP sends ${c.name} then it maps to the canonical order`, () => {
      c.expect(orderFromDelivery(c.change(wireDelivery())));
    });
  }

  const rejected: { name: string; change: (w: Wire) => unknown; field: string }[] = [
    {
      name: 'a ZIP of four digits',
      change: (w) => ((shipToAddress(w).PostalCode = '6060'), w),
      field: 'to_DeliveryDocumentPartner/0/to_Address/PostalCode',
    },
    {
      name: 'a state name instead of its code',
      change: (w) => ((shipToAddress(w).Region = 'Illinois'), w),
      field: 'to_DeliveryDocumentPartner/0/to_Address/Region',
    },
    {
      name: 'no window start',
      change: (w) => ({ ...w, YY1_DelivWindowStart_DLH: undefined }),
      field: 'YY1_DelivWindowStart_DLH',
    },
    {
      name: 'a delivery date that is not an Edm.DateTime',
      change: (w) => ({ ...w, DeliveryDate: '2026-12-01' }),
      field: 'DeliveryDate',
    },
    {
      name: 'a window that ends before it starts',
      change: (w) => ({
        ...w,
        YY1_DelivWindowEnd_DLH: '/Date(1764590400000+0000)/',
        YY1_DelivWindowStart_DLH: '/Date(1764597600000+0000)/',
      }),
      field: 'YY1_DelivWindowEnd_DLH',
    },
    {
      name: 'an unknown weight unit',
      change: (w) => ({ ...w, HeaderWeightUnit: 'ST' }),
      field: 'HeaderWeightUnit',
    },
    {
      name: 'no items',
      change: (w) => ({ ...w, to_DeliveryDocumentItem: { results: [] } }),
      field: 'to_DeliveryDocumentItem',
    },
    {
      name: 'a negative item quantity',
      change: (w) => ((firstItem(w).ActualDeliveryQuantity = '-2.000'), w),
      field: 'to_DeliveryDocumentItem/0/ActualDeliveryQuantity',
    },
    {
      name: 'an item quantity as a JSON number',
      change: (w) => ((firstItem(w).ActualDeliveryQuantity = 2), w),
      field: 'to_DeliveryDocumentItem/0/ActualDeliveryQuantity',
    },
    {
      name: 'no ship-to partner',
      change: (w) => ({ ...w, to_DeliveryDocumentPartner: { results: [{ PartnerFunction: 'AG' }] } }),
      field: 'to_DeliveryDocumentPartner',
    },
    {
      name: 'a ship-to partner without address',
      change: (w) => ({
        ...w,
        to_DeliveryDocumentPartner: { results: [{ PartnerFunction: 'WE', to_Address: null }] },
      }),
      field: 'to_DeliveryDocumentPartner/0/to_Address',
    },
    {
      name: 'service days outside 1-7',
      change: (w) => ({ ...w, YY1_ServiceDays_DLH: '089' }),
      field: 'YY1_ServiceDays_DLH',
    },
    {
      name: 'a region code in lower case',
      change: (w) => ({ ...w, YY1_DispatchRegion_DLH: 'chi' }),
      field: 'YY1_DispatchRegion_DLH',
    },
    { name: 'null instead of an entity', change: () => null, field: '(root)' },
  ];
  for (const c of rejected) {
    it(`when the ERP sends ${c.name} then VALIDATION_FAILED names ${c.field}`, () => {
      expect(validationField(() => orderFromDelivery(c.change(wireDelivery())))).toBe(c.field);
    });
  }
});

describe('milestoneToOData', () => {
  const report = (over: Partial<MilestoneReport> = {}): MilestoneReport => ({
    deliveryId: '80000001',
    milestone: 'planned',
    attempt: 1,
    occurredAt: '2026-12-01T08:00:00Z',
    idempotencyKey: 'shipment-80000001:planned:1',
    ...over,
  });
  const cases: { name: string; input: MilestoneReport; expected: Wire }[] = [
    {
      name: 'planned with an ETA',
      input: report({ eta: '2026-12-01T15:30:00-06:00', note: 'route CHI-3' }),
      expected: {
        MilestoneCode: 'PLANNED',
        PlannedETA: `/Date(${Date.UTC(2026, 11, 1, 21, 30)}+0000)/`,
        Note: 'route CHI-3',
      },
    },
    {
      name: 'delivered without ETA',
      input: report({ milestone: 'delivered' }),
      expected: { MilestoneCode: 'DELIVERED', PlannedETA: null, Note: '' },
    },
    {
      name: 'a failed second attempt',
      input: report({ milestone: 'failed_attempt', attempt: 2 }),
      expected: {
        MilestoneCode: 'FAILED_ATTEMPT',
        AttemptNumber: 2,
        OccurredAt: `/Date(${Date.UTC(2026, 11, 1, 8)}+0000)/`,
      },
    },
  ];
  for (const c of cases) {
    it(`when the milestone is ${c.name} then the YY1_ShipmentMilestone payload carries it`, () => {
      expect(milestoneToOData(c.input)).toMatchObject({ DeliveryDocument: '80000001', ...c.expected });
    });
  }
  const bad: { name: string; input: MilestoneReport; field: string }[] = [
    {
      name: 'an occurredAt that is not an instant',
      input: report({ occurredAt: 'yesterday' }),
      field: 'occurredAt',
    },
    { name: 'attempt 0', input: report({ attempt: 0 }), field: 'attempt' },
    { name: 'a delivery id in lower case', input: report({ deliveryId: 'abc' }), field: 'deliveryId' },
  ];
  for (const c of bad) {
    it(`when the report has ${c.name} then VALIDATION_FAILED names ${c.field}`, () => {
      expect(validationField(() => milestoneToOData(c.input))).toBe(c.field);
    });
  }
});

describe('commitDateToOData', () => {
  const cases = [
    { eta: '2026-12-01T15:30:00Z', date: Date.UTC(2026, 11, 1), time: 'PT15H30M00S' },
    { eta: '2026-12-01T09:30:00-06:00', date: Date.UTC(2026, 11, 1), time: 'PT15H30M00S' },
    { eta: '2026-12-01T23:59:59.900+01:00', date: Date.UTC(2026, 11, 1), time: 'PT22H59M59S' },
  ];
  for (const c of cases) {
    it(`when the ETA is ${c.eta} then DeliveryDate/DeliveryTime carry its UTC date and time`, () => {
      expect(commitDateToOData(c.eta)).toEqual({
        DeliveryDate: `/Date(${c.date})/`,
        DeliveryTime: c.time,
        YY1_CommittedETA_DLH: `/Date(${Date.parse(c.eta)}+0000)/`,
      });
    });
  }
  it('when the ETA is not an ISO instant then VALIDATION_FAILED names eta', () => {
    expect(validationField(() => commitDateToOData('tomorrow noon'))).toBe('eta');
  });
});

describe('billingToOData and billingDocumentIdFrom', () => {
  const doc = (over: Partial<BillingDocument> = {}): BillingDocument => ({
    shipmentId: 'shipment-80000001',
    deliveryId: '80000001',
    customerId: 'C1001',
    charges: [
      { code: 'BASE', description: 'Delivery', quantity: 1, unitPrice: 45, amount: 45, currency: 'USD' },
      { code: 'MILEAGE', description: '', quantity: 12.5, unitPrice: 1.2, amount: 15, currency: 'USD' },
      {
        code: 'LIFTGATE',
        description: 'Liftgate service',
        quantity: 1,
        unitPrice: 15,
        amount: 15,
        currency: 'USD',
      },
    ],
    total: 75,
    currency: 'USD',
    ...over,
  });

  it('when a billing document maps then header and items carry amounts as SAP decimals', () => {
    const body = billingToOData(doc({ approvedBy: 'finance-lead' }));
    expect(body).toMatchObject({
      SoldToParty: 'C1001',
      ReferenceDocument: '80000001',
      PurchaseOrderByCustomer: 'shipment-80000001',
      TotalNetAmount: '75.00',
      YY1_ApprovedBy_BDR: 'finance-lead',
    });
    expect((body.to_Item as { results: Wire[] }).results).toEqual([
      expect.objectContaining({
        BillingDocumentRequestItem: '000010',
        Material: 'BASE',
        BillingQuantity: '1.000',
        BillingQuantityUnit: 'EA',
        NetAmount: '45.00',
      }),
      expect.objectContaining({
        Material: 'MILEAGE',
        BillingDocumentRequestItemText: 'MILEAGE',
        BillingQuantity: '12.500',
        BillingQuantityUnit: 'MI',
        YY1_UnitPrice_BDI: '1.20',
      }),
      expect.objectContaining({ Material: 'LIFTGATE', NetAmount: '15.00' }),
    ]);
  });

  const bad: { name: string; input: BillingDocument; field: string }[] = [
    { name: 'a total that is not the sum', input: doc({ total: 80 }), field: 'total' },
    { name: 'no charges', input: doc({ charges: [], total: 0 }), field: 'charges' },
  ];
  for (const c of bad) {
    it(`when the billing document has ${c.name} then VALIDATION_FAILED names ${c.field}`, () => {
      expect(validationField(() => billingToOData(c.input))).toBe(c.field);
    });
  }

  const answers: { name: string; body: unknown; id?: string; field?: string }[] = [
    { name: 'a created entity', body: { d: { BillingDocumentRequest: '90000001' } }, id: '90000001' },
    { name: 'an ALPHA-padded number', body: { d: { BillingDocumentRequest: '0090000002' } }, id: '90000002' },
    { name: 'no document number', body: { d: {} }, field: 'd.BillingDocumentRequest' },
    { name: 'an HTML page', body: '<html>oops</html>', field: 'd' },
  ];
  for (const a of answers) {
    it(`when the ERP answers ${a.name} then ${a.id ? `the id is ${a.id}` : `VALIDATION_FAILED names ${a.field}`}`, () => {
      if (a.id) expect(billingDocumentIdFrom(a.body)).toBe(a.id);
      else expect(validationField(() => billingDocumentIdFrom(a.body))).toBe(a.field);
    });
  }
});

describe('repeatabilityRequestId and releasedFilter', () => {
  it('when the same key is mapped twice then the same version-5 UUID comes out', () => {
    const id = repeatabilityRequestId('shipment-80000001:billing');
    expect(id).toBe(repeatabilityRequestId('shipment-80000001:billing'));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
  it('when keys differ by one step then their ids differ', () => {
    const ids = ['a:planned:1', 'a:planned:2', 'a:delivered:1', 'b:planned:1'].map(repeatabilityRequestId);
    expect(new Set(ids).size).toBe(4);
  });
  it('when a cursor is given then the filter asks for later delivery numbers only', () => {
    expect(releasedFilter()).toBe(
      "OverallSDProcessStatus eq 'A' and OverallGoodsMovementStatus eq 'A' and DeliveryBlockReason eq ''",
    );
    expect(releasedFilter('80000010')).toMatch(/ and DeliveryDocument gt '80000010'$/);
    expect(releasedFilter("8'1")).toMatch(/DeliveryDocument gt '8''1'$/);
  });
});
