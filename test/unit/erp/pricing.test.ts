import { describe, expect, it } from 'vitest';
import { TARIFF } from '../../../src/domain/billing.js';
import { ShipsyncError } from '../../../src/domain/errors.js';
import {
  CONDITION_TYPES,
  ConditionRecordCache,
  conditionRecordsFilter,
  conditionRowsFrom,
  priceListAt,
  type ConditionRow,
} from '../../../src/integrations/erp/pricing.js';

type Wire = Record<string, unknown>;

const DAY = 86_400_000;
const TODAY = Date.parse('2026-12-01T10:00:00Z');
const OPEN_FROM = Date.UTC(2000, 0, 1);
const OPEN_TO = Date.UTC(9999, 11, 31);

/** The condition records of the tariff, as the ERP answers a read. */
function wireRecords(): Wire[] {
  return Object.entries(CONDITION_TYPES).map(([price, c], i) => ({
    __metadata: { type: 'API_SLSPRICINGCONDITIONRECORD_SRV.A_SlsPrcgConditionRecordType' },
    ConditionRecord: String(i + 1).padStart(10, '0'),
    ConditionType: c.conditionType,
    ConditionValidityStartDate: `/Date(${OPEN_FROM})/`,
    ConditionValidityEndDate: `/Date(${OPEN_TO})/`,
    ConditionRateValue: TARIFF[price as keyof typeof TARIFF].toFixed(2),
    ConditionRateValueUnit: 'USD',
    ConditionQuantity: '1',
    ConditionQuantityUnit: c.unit,
    ConditionIsDeleted: false,
    LastChangeDateTime: `/Date(${Date.UTC(2026, 10, 2, 8, 30)}+0000)/`,
  }));
}

const rowsOf = (records: Wire[]) => conditionRowsFrom({ d: { results: records } }).rows;

function failure(fn: () => unknown): ShipsyncError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ShipsyncError);
    return err as ShipsyncError;
  }
  throw new Error('expected a failure');
}

function withRecord(type: string, change: Wire): Wire[] {
  return wireRecords().map((r) => (r.ConditionType === type ? { ...r, ...change } : r));
}

describe('ERP condition records to a price list', () => {
  it('when the records hold the tariff then the price list equals it, with a version of the latest change and a hash', () => {
    const list = priceListAt(rowsOf(wireRecords()), TODAY);
    expect(list.prices).toEqual(TARIFF);
    expect(list.currency).toBe('USD');
    expect(list.version).toMatch(/^20261102083000-[0-9a-f]{8}$/);
    expect(priceListAt(rowsOf(wireRecords()), TODAY + DAY).version).toBe(list.version);
  });

  it('when one rate changes then the version changes even if the change time does not', () => {
    const before = priceListAt(rowsOf(wireRecords()), TODAY);
    const after = priceListAt(rowsOf(withRecord('ZFLG', { ConditionRateValue: '80.00' })), TODAY);
    expect(after.prices.liftgate).toBe(80);
    expect(after.version).not.toBe(before.version);
  });

  it('when a rate is per a condition quantity of 100 then the unit price is the rate divided by it, to the cent', () => {
    const list = priceListAt(
      rowsOf(withRecord('ZFKM', { ConditionRateValue: '115.000000000', ConditionQuantity: '100' })),
      TODAY,
    );
    expect(list.prices.perKm).toBe(1.15);
  });

  it('when a newer record starts later then it prices from its first day on, and the older one before', () => {
    const records = withRecord('ZFBS', {
      ConditionValidityEndDate: `/Date(${Date.UTC(2026, 11, 14)})/`,
    });
    records.push({
      ...(records.find((r) => r.ConditionType === 'ZFBS') as Wire),
      ConditionRecord: '0000000099',
      ConditionRateValue: '49.00',
      ConditionValidityStartDate: `/Date(${Date.UTC(2026, 11, 15)})/`,
      ConditionValidityEndDate: `/Date(${OPEN_TO})/`,
    });
    const rows = rowsOf(records);
    expect(priceListAt(rows, Date.parse('2026-12-14T23:00:00Z')).prices.basePerShipment).toBe(45);
    expect(priceListAt(rows, Date.parse('2026-12-15T06:00:00Z')).prices.basePerShipment).toBe(49);
  });

  it.each([
    ['missing', wireRecords().filter((r) => r.ConditionType !== 'ZFRT'), 'ZFRT', 'returnToDepot'],
    [
      'not yet valid',
      withRecord('ZFPL', { ConditionValidityStartDate: `/Date(${Date.UTC(2027, 0, 1)})/` }),
      'ZFPL',
      'basePerPallet',
    ],
    [
      'expired',
      withRecord('ZFKM', { ConditionValidityEndDate: `/Date(${Date.UTC(2026, 10, 30)})/` }),
      'ZFKM',
      'perKm',
    ],
  ])(
    'when a condition type is %s then pricing fails for good, naming it',
    (_label, records, conditionType, price) => {
      const err = failure(() => priceListAt(rowsOf(records), TODAY));
      expect(err.code).toBe('ERP_PRICING_INCOMPLETE');
      expect(err.retryable).toBe(false);
      expect(err.message).toContain(`condition type ${conditionType} (${price})`);
      expect(err.details.field).toBe('ConditionType');
    },
  );

  it.each([
    [
      'a rate that is not a decimal',
      withRecord('ZFLG', { ConditionRateValue: 75 }),
      /^d\/results\/3\/ConditionRateValue$/,
    ],
    ['a negative rate', withRecord('ZFLG', { ConditionRateValue: '-1.00' }), /ConditionRateValue$/],
    ['a pricing unit of zero', withRecord('ZFLG', { ConditionQuantity: '0' }), /ConditionQuantity$/],
    [
      'a validity date that is not an Edm.DateTime',
      withRecord('ZFLG', { ConditionValidityStartDate: '2000-01-01' }),
      /ConditionValidityStartDate$/,
    ],
    ['no condition type', withRecord('ZFLG', { ConditionType: undefined }), /ConditionType$/],
  ])('when the ERP sends %s then the read fails naming the field', (_label, records, field) => {
    const err = failure(() => rowsOf(records));
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.details.field).toMatch(field);
  });

  it.each([
    ['another currency', { ConditionRateValueUnit: 'EUR' }, /ConditionRateValueUnit$/, 'expected USD'],
    ['another unit', { ConditionQuantityUnit: 'MI' }, /ConditionQuantityUnit$/, 'expected KM'],
  ])('when a record is in %s then pricing fails naming the field', (_label, change, field, reason) => {
    const err = failure(() => priceListAt(rowsOf(withRecord('ZFKM', change)), TODAY));
    expect(err.code).toBe('VALIDATION_FAILED');
    expect(err.details.field).toMatch(field);
    expect(err.message).toContain(reason);
  });

  it('when the answer has no results array then the read fails naming d/results', () => {
    expect(failure(() => conditionRowsFrom({ d: {} })).details.field).toBe('d/results');
    expect(failure(() => conditionRowsFrom('<html>')).details.field).toBe('d/results');
  });

  it('the read filters on the seven freight condition types and leaves out deleted records', () => {
    const filter = conditionRecordsFilter();
    for (const c of Object.values(CONDITION_TYPES)) expect(filter).toContain(`'${c.conditionType}'`);
    expect(filter).toMatch(/\) and ConditionIsDeleted eq false$/);
  });
});

describe('the worker’s cache of condition records', () => {
  const rows: ConditionRow[] = rowsOf(wireRecords());

  it('when asked within the TTL then the ERP is read once; after it, again', async () => {
    let now = 0;
    let reads = 0;
    const cache = new ConditionRecordCache(
      async () => {
        reads++;
        return rows;
      },
      1000,
      () => now,
    );
    await cache.rows();
    now = 999;
    await cache.rows();
    expect(reads).toBe(1);
    now = 1000;
    await cache.rows();
    expect(reads).toBe(2);
  });

  it('when several ask at once then they share one read', async () => {
    let reads = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const cache = new ConditionRecordCache(async () => {
      reads++;
      await gate;
      return rows;
    }, 1000);
    const all = Promise.all([cache.rows(), cache.rows(), cache.rows()]);
    release();
    expect(await all).toEqual([rows, rows, rows]);
    expect(reads).toBe(1);
  });

  it('when a read fails then nothing is kept and the next call reads again', async () => {
    let fail = true;
    const cache = new ConditionRecordCache(async () => {
      if (fail) throw new ShipsyncError('ERP_UNAVAILABLE', 'down', {});
      return rows;
    }, 60_000);
    await expect(cache.rows()).rejects.toMatchObject({ code: 'ERP_UNAVAILABLE' });
    fail = false;
    expect(await cache.rows()).toBe(rows);
  });

  it('when the TTL is 0 then every call reads the ERP', async () => {
    let reads = 0;
    const cache = new ConditionRecordCache(async () => (reads++, rows), 0);
    await cache.rows();
    await cache.rows();
    expect(reads).toBe(2);
  });
});
