import { TARIFF, type PriceKey } from '../../../src/domain/billing.js';
import { CONDITION_PROPS, conditionEtag, propMap, type ConditionRecord } from '../entities.js';
import { MESSAGES, ODataError, edmDateTime, edmDateTimeOffset } from '../odata.js';
import { SERVICE_IDS, stripAlpha, type EntitySetDef, type ServiceDef } from './engine.js';
import type { ServiceContext } from './context.js';

/**
 * The freight condition types the ERP's pricing is customised with: one per price shipsync bills, with the
 * unit the rate is per. These are the ERP's settings; the adapter holds its own copy of the mapping.
 */
export const FREIGHT_CONDITIONS: readonly {
  conditionType: string;
  price: PriceKey;
  unit: string;
  text: string;
}[] = [
  { conditionType: 'ZFBS', price: 'basePerShipment', unit: 'EA', text: 'Freight base per shipment' },
  { conditionType: 'ZFPL', price: 'basePerPallet', unit: 'PAL', text: 'Freight per pallet' },
  { conditionType: 'ZFKM', price: 'perKm', unit: 'KM', text: 'Distance driven' },
  { conditionType: 'ZFLG', price: 'liftgate', unit: 'EA', text: 'Liftgate service' },
  { conditionType: 'ZFWT', price: 'waitingPerMinute', unit: 'MIN', text: 'Waiting past free time' },
  { conditionType: 'ZFRD', price: 'redelivery', unit: 'EA', text: 'Redelivery attempt' },
  { conditionType: 'ZFRT', price: 'returnToDepot', unit: 'EA', text: 'Return to depot' },
];

/** SAP's open-ended validity: from 2000-01-01 to 9999-12-31. */
const VALID_FROM_MS = Date.UTC(2000, 0, 1);
const VALID_TO_MS = Date.UTC(9999, 11, 31);

/** A condition record number in SAP's ten-digit form. */
const recordNumber = (n: number) => String(n).padStart(10, '0');

/** The seeded condition records: the freight tariff, valid from 2000 on, created at `nowMs`. */
export function seedConditionRecords(nowMs: number): ConditionRecord[] {
  const day = Math.floor(nowMs / 86_400_000) * 86_400_000;
  return FREIGHT_CONDITIONS.map((c, i) => ({
    version: 0,
    wire: {
      ConditionRecord: recordNumber(i + 1),
      ConditionSequentialNumber: '01',
      ConditionTable: '304',
      ConditionApplication: 'V',
      ConditionType: c.conditionType,
      ConditionValidityStartDate: edmDateTime(VALID_FROM_MS),
      ConditionValidityEndDate: edmDateTime(VALID_TO_MS),
      CreatedByUser: 'CB9980000017',
      CreationDate: edmDateTime(day),
      ConditionTextID: c.text,
      ConditionCalculationType: 'C',
      ConditionRateValue: TARIFF[c.price].toFixed(2),
      ConditionRateValueUnit: 'USD',
      ConditionQuantity: '1',
      ConditionQuantityUnit: c.unit,
      ConditionIsDeleted: false,
      ConditionReleaseStatus: '',
      LastChangeDateTime: edmDateTimeOffset(nowMs),
    },
  }));
}

/** A price change a key user makes in the ERP (a sandbox control). */
export interface ConditionChange {
  /** New rate per condition quantity, in the record's currency. */
  rate?: number;
  /** Flags the record deleted: the ERP then holds no valid record of that condition type. */
  deleted?: boolean;
  /** Another condition quantity unit (to imitate a record maintained in the wrong unit). */
  quantityUnit?: string;
}

/**
 * Changes the current record of a condition type in place, as a key user does in the condition maintenance
 * app: its last-changed stamp moves, so readers see a new version.
 */
export function changeCondition(
  c: ServiceContext,
  conditionType: string,
  change: ConditionChange,
  nowMs: number,
): ConditionRecord {
  const rec = [...c.store.conditions.values()]
    .filter((r) => r.wire.ConditionType === conditionType)
    .sort((a, b) => String(b.wire.ConditionRecord).localeCompare(String(a.wire.ConditionRecord)))[0];
  if (!rec)
    throw new ODataError(
      404,
      MESSAGES.notFound,
      `No condition record of condition type ${conditionType.slice(0, 4)}`,
      'ConditionType',
    );
  const previous = Number(/-?\d+/.exec(String(rec.wire.LastChangeDateTime))?.[0] ?? 0);
  if (change.rate !== undefined) rec.wire.ConditionRateValue = change.rate.toFixed(2);
  if (change.deleted !== undefined) rec.wire.ConditionIsDeleted = change.deleted;
  if (change.quantityUnit !== undefined) rec.wire.ConditionQuantityUnit = change.quantityUnit;
  rec.wire.LastChangeDateTime = edmDateTimeOffset(Math.max(nowMs, previous + 1));
  rec.version += 1;
  c.store.saveCondition(rec);
  return rec;
}

/** API_SLSPRICINGCONDITIONRECORD_SRV: the pricing condition records (read-only in the sandbox). */
export function pricingService(c: ServiceContext): ServiceDef {
  const set: EntitySetDef = {
    name: 'A_SlsPrcgConditionRecord',
    type: 'A_SlsPrcgConditionRecordType',
    props: CONDITION_PROPS,
    map: propMap(CONDITION_PROPS),
    keys: ['ConditionRecord'],
    rows: () => [...c.store.conditions.values()],
    find: (k) =>
      [...c.store.conditions.values()].find(
        (r) => stripAlpha(String(r.wire.ConditionRecord)) === stripAlpha(k.ConditionRecord ?? ''),
      ),
    wire: (r) => (r as ConditionRecord).wire,
    etag: (r) => conditionEtag(r as ConditionRecord),
    navs: {},
  };
  return { id: SERVICE_IDS.pricing, sets: new Map([[set.name, set]]), functions: new Map(), writes: [] };
}
