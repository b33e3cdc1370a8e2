import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TARIFF } from '../../../src/domain/billing.js';
import { ShipsyncError } from '../../../src/domain/errors.js';
import type { BillingDocument, Order } from '../../../src/domain/model.js';
import { createErpAdapter } from '../../../src/integrations/erp/adapter.js';
import { CONDITION_TYPES } from '../../../src/integrations/erp/pricing.js';
import { PRICING_SERVICE_PATH, startErpSandbox, type ErpSandbox } from '../../../sandbox/erp/server.js';
import { FREIGHT_CONDITIONS } from '../../../sandbox/erp/services/pricing.js';
import { freePort } from '../../support/ports.js';

const SET = 'A_SlsPrcgConditionRecord';
const TODAY = '2026-12-01T10:00:00Z';

type Entity = Record<string, unknown> & { __metadata: { type: string; uri: string; etag?: string } };

async function rejection(p: Promise<unknown>): Promise<ShipsyncError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ShipsyncError);
    return err as ShipsyncError;
  }
  throw new Error('expected the call to fail');
}

describe('pricing condition records: the ERP sandbox entity set and the adapter that reads it', () => {
  let sandbox: ErpSandbox;
  const read = async (query: string) =>
    axios.get<{ d: { results: Entity[] } }>(`${sandbox.url}${PRICING_SERVICE_PATH}${SET}?${query}`, {
      validateStatus: () => true,
    });

  beforeAll(async () => {
    sandbox = await startErpSandbox({ port: await freePort(), seed: 3 });
  });
  afterAll(async () => {
    await sandbox.close();
  });

  it('when the condition records are read then each freight condition type holds the tariff in OData V2 form', async () => {
    const res = await read('$format=json');
    expect(res.status).toBe(200);
    const rows = res.data.d.results;
    expect(rows.map((r) => r.ConditionType)).toEqual(FREIGHT_CONDITIONS.map((c) => c.conditionType));
    const km = rows.find((r) => r.ConditionType === 'ZFKM') as Entity;
    expect(km.__metadata.type).toBe('API_SLSPRICINGCONDITIONRECORD_SRV.A_SlsPrcgConditionRecordType');
    expect(km.__metadata.uri).toMatch(/A_SlsPrcgConditionRecord\('\d{10}'\)$/);
    expect(km.__metadata.etag).toMatch(/^W\/"'\d{14}\.\d{7}'"$/);
    expect(km).toMatchObject({
      ConditionRateValue: TARIFF.perKm.toFixed(2),
      ConditionRateValueUnit: 'USD',
      ConditionQuantity: '1',
      ConditionQuantityUnit: 'KM',
      ConditionIsDeleted: false,
      ConditionValidityStartDate: `/Date(${Date.UTC(2000, 0, 1)})/`,
      ConditionValidityEndDate: `/Date(${Date.UTC(9999, 11, 31)})/`,
    });
    expect(km.LastChangeDateTime).toMatch(/^\/Date\(\d+\+0000\)\/$/);
  });

  it('when a client filters by condition type and selects fields then only those records and fields come back', async () => {
    const res = await read(
      `$filter=${encodeURIComponent("ConditionType eq 'ZFLG' or ConditionType eq 'ZFWT'")}` +
        '&$select=ConditionRecord,ConditionType,ConditionRateValue&$format=json',
    );
    expect(res.status).toBe(200);
    expect(res.data.d.results.map((r) => [r.ConditionType, r.ConditionRateValue])).toEqual([
      ['ZFLG', TARIFF.liftgate.toFixed(2)],
      ['ZFWT', TARIFF.waitingPerMinute.toFixed(2)],
    ]);
    expect(Object.keys(res.data.d.results[0] as Entity).sort()).toEqual(
      ['__metadata', 'ConditionRateValue', 'ConditionRecord', 'ConditionType'].sort(),
    );
    const byKey = await axios.get<{ d: Entity }>(
      `${sandbox.url}${PRICING_SERVICE_PATH}${SET}('${String(res.data.d.results[0]?.ConditionRecord)}')`,
    );
    expect(byKey.data.d.ConditionType).toBe('ZFLG');
  });

  it('when a filter names a property the entity does not have then the ERP answers 400 in its error format', async () => {
    const res = await read(`$filter=${encodeURIComponent("Price eq '1'")}`);
    expect(res.status).toBe(400);
    const error = (res.data as unknown as { error: { message: { value: string } } }).error;
    expect(error.message.value).toBe('Invalid filter expression: property "Price" does not exist');
    const metadata = await axios.get<string>(`${sandbox.url}${PRICING_SERVICE_PATH}$metadata`);
    expect(metadata.data).toContain('<EntitySet Name="A_SlsPrcgConditionRecord"');
  });

  it('when the adapter reads the prices then they equal the tariff, and the condition types it maps are the ERP’s', async () => {
    const erp = createErpAdapter({ baseUrl: sandbox.url, timeoutMs: 2000 });
    const list = await erp.priceList(TODAY);
    expect(list.prices).toEqual(TARIFF);
    expect(list.version).toMatch(/^\d{14}-[0-9a-f]{8}$/);
    for (const c of FREIGHT_CONDITIONS)
      expect(CONDITION_TYPES[c.price]).toEqual({ conditionType: c.conditionType, unit: c.unit });
    // The same records give the same version.
    expect((await createErpAdapter({ baseUrl: sandbox.url }).priceList(TODAY)).version).toBe(list.version);
  });

  it('when a price changes in the ERP then the worker keeps its copy until the TTL passes, then prices with the new version', async () => {
    let now = Date.parse(TODAY);
    const erp = createErpAdapter({ baseUrl: sandbox.url, priceListTtlMs: 60_000, now: () => now });
    const before = await erp.priceList(TODAY);
    sandbox.changeCondition('ZFRD', { rate: 61.25 });
    now += 59_000;
    expect(await erp.priceList(TODAY)).toEqual(before);
    now += 1_000;
    const after = await erp.priceList(TODAY);
    expect(after.prices.redelivery).toBe(61.25);
    expect(after.version).not.toBe(before.version);
    sandbox.changeCondition('ZFRD', { rate: TARIFF.redelivery });
  });

  it('when a condition type has no valid record then pricing fails for good, naming the condition type', async () => {
    const erp = createErpAdapter({ baseUrl: sandbox.url, priceListTtlMs: 0 });
    sandbox.changeCondition('ZFWT', { deleted: true });
    try {
      const err = await rejection(erp.priceList(TODAY));
      expect(err.code).toBe('ERP_PRICING_INCOMPLETE');
      expect(err.retryable).toBe(false);
      expect(err.message).toContain('ZFWT');
      expect(err.message).toContain('waitingPerMinute');
    } finally {
      sandbox.changeCondition('ZFWT', { deleted: false });
    }
  });

  it('when a record is kept in another unit than the price needs then pricing fails naming the field', async () => {
    const erp = createErpAdapter({ baseUrl: sandbox.url, priceListTtlMs: 0 });
    sandbox.changeCondition('ZFKM', { quantityUnit: 'MI' });
    try {
      const err = await rejection(erp.priceList(TODAY));
      expect(err.code).toBe('VALIDATION_FAILED');
      expect(err.details.field).toMatch(/^d\/results\/\d+\/ConditionQuantityUnit$/);
      expect(err.message).toContain('expected KM');
    } finally {
      sandbox.changeCondition('ZFKM', { quantityUnit: 'KM' });
    }
  });

  it('when a billing document carries a pricing version then the ERP keeps it on the billing request', async () => {
    const order = sandbox.seed(1, { date: '2026-12-01', regions: ['CHI'] })[0] as Order;
    const erp = createErpAdapter({ baseUrl: sandbox.url });
    const { version } = await erp.priceList(TODAY);
    const doc: BillingDocument = {
      shipmentId: `shipment-${order.deliveryId}`,
      deliveryId: order.deliveryId,
      customerId: order.customerId,
      charges: [
        { code: 'BASE', description: 'freight', quantity: 1, unitPrice: 60, amount: 60, currency: 'USD' },
      ],
      total: 60,
      currency: 'USD',
      pricingVersion: version,
    };
    const { billingDocumentId } = await erp.postBilling(doc, `shipment-${order.deliveryId}:billing`);
    const header = await axios.get<{ d: Entity }>(
      `${sandbox.url}/sap/opu/odata/sap/API_BILLING_DOCUMENT_REQUEST_SRV/A_BillingDocumentRequest('${billingDocumentId}')`,
    );
    expect(header.data.d.YY1_PricingVersion_BDR).toBe(version);
  });
});
