import { createHash } from 'node:crypto';
import { z } from 'zod';
import { PRICE_KEYS, type PriceKey, type PriceList } from '../../domain/billing.js';
import { ShipsyncError, issuePath } from '../../domain/errors.js';

/**
 * Pricing from SAP's condition records (API_SLSPRICINGCONDITIONRECORD_SRV, `A_SlsPrcgConditionRecord`):
 * which condition type prices what, the pure mapping of the records to a price list with a version, and the
 * worker's cache of the records. Bad vendor data becomes a typed, non-retryable error naming the field.
 */

/** The condition type of each price and the unit its rate must be per (the ERP's freight pricing). */
export const CONDITION_TYPES: Readonly<Record<PriceKey, { conditionType: string; unit: string }>> = {
  basePerShipment: { conditionType: 'ZFBS', unit: 'EA' },
  basePerPallet: { conditionType: 'ZFPL', unit: 'PAL' },
  perKm: { conditionType: 'ZFKM', unit: 'KM' },
  liftgate: { conditionType: 'ZFLG', unit: 'EA' },
  waitingPerMinute: { conditionType: 'ZFWT', unit: 'MIN' },
  redelivery: { conditionType: 'ZFRD', unit: 'EA' },
  returnToDepot: { conditionType: 'ZFRT', unit: 'EA' },
};

/** The properties the adapter reads (`$select`). */
export const CONDITION_SELECT = [
  'ConditionRecord',
  'ConditionType',
  'ConditionValidityStartDate',
  'ConditionValidityEndDate',
  'ConditionRateValue',
  'ConditionRateValueUnit',
  'ConditionQuantity',
  'ConditionQuantityUnit',
  'ConditionIsDeleted',
  'LastChangeDateTime',
].join(',');

/** `$filter` of the read: the freight condition types, not flagged deleted. */
export function conditionRecordsFilter(): string {
  const types = PRICE_KEYS.map((k) => `ConditionType eq '${CONDITION_TYPES[k].conditionType}'`);
  return `(${types.join(' or ')}) and ConditionIsDeleted eq false`;
}

const edmDate = z
  .string()
  .regex(/^\/Date\(-?\d{1,15}([+-]\d{4})?\)\/$/, 'expected an Edm.DateTime like /Date(1764547200000)/');
const decimal = z.string().regex(/^-?\d{1,15}(\.\d{1,9})?$/, 'expected an Edm.Decimal in a string');

const ODataConditionRecord = z.looseObject({
  ConditionRecord: z.string().min(1),
  ConditionType: z.string().min(1).max(4),
  ConditionValidityStartDate: edmDate,
  ConditionValidityEndDate: edmDate,
  ConditionRateValue: decimal.refine((s) => Number(s) >= 0, 'must not be negative'),
  ConditionRateValueUnit: z.string(),
  ConditionQuantity: decimal.refine((s) => Number(s) > 0, 'must be positive'),
  ConditionQuantityUnit: z.string(),
  ConditionIsDeleted: z.boolean().optional(),
  LastChangeDateTime: edmDate.nullable().optional(),
});

/** One condition record as the adapter keeps it. */
export interface ConditionRow {
  record: string;
  conditionType: string;
  validFromMs: number;
  validToMs: number;
  rate: number;
  currency: string;
  quantity: number;
  unit: string;
  changedMs: number;
  /** Where it came from in the answer, for error messages (`d/results/3`). */
  at: string;
}

const dateMs = (value: string) => Number(/-?\d+/.exec(value)?.[0]);

function invalid(field: string, reason: string): ShipsyncError {
  return new ShipsyncError('VALIDATION_FAILED', `ERP condition records: ${field}: ${reason}`, { field });
}

/** The condition records of one answer page (`{ d: { results } }`), checked field by field. */
export function conditionRowsFrom(body: unknown): { rows: ConditionRow[]; next: boolean } {
  const d = (body as { d?: { results?: unknown; __next?: unknown } } | null)?.d;
  if (!d || !Array.isArray(d.results)) throw invalid('d/results', 'the answer has no d.results array');
  const rows = (d.results as unknown[]).map((entity, i) => {
    const parsed = ODataConditionRecord.safeParse(entity);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw invalid(`d/results/${i}/${issuePath(issue?.path ?? [])}`, issue?.message ?? 'invalid');
    }
    const r = parsed.data;
    return {
      record: r.ConditionRecord,
      conditionType: r.ConditionType,
      validFromMs: dateMs(r.ConditionValidityStartDate),
      validToMs: dateMs(r.ConditionValidityEndDate),
      rate: Number(r.ConditionRateValue),
      currency: r.ConditionRateValueUnit,
      quantity: Number(r.ConditionQuantity),
      unit: r.ConditionQuantityUnit,
      changedMs: r.LastChangeDateTime ? dateMs(r.LastChangeDateTime) : 0,
      at: `d/results/${i}`,
    };
  });
  return { rows, next: typeof d.__next === 'string' };
}

/** SAP's timestamp notation without the fraction, `YYYYMMDDhhmmss`, in UTC. */
function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\D/g, '').slice(0, 14);
}

/**
 * The price list valid on a date (validity dates are whole days, both ends included): per price the record
 * of its condition type valid that day, the latest start winning. A condition type without one is
 * ERP_PRICING_INCOMPLETE naming it; a record in another currency or unit is VALIDATION_FAILED naming the
 * field. The version is the records' latest change (`YYYYMMDDhhmmss`) and a hash of what was used, so the
 * same prices always carry the same version and any change carries a new one.
 */
export function priceListAt(rows: readonly ConditionRow[], atMs: number): PriceList {
  const day = Math.floor(atMs / 86_400_000) * 86_400_000;
  const prices = {} as Record<PriceKey, number>;
  const used: ConditionRow[] = [];
  for (const key of PRICE_KEYS) {
    const { conditionType, unit } = CONDITION_TYPES[key];
    const row = rows
      .filter((r) => r.conditionType === conditionType && r.validFromMs <= day && day <= r.validToMs)
      .sort((a, b) => b.validFromMs - a.validFromMs || b.changedMs - a.changedMs)[0];
    if (!row) {
      throw new ShipsyncError(
        'ERP_PRICING_INCOMPLETE',
        `ERP pricing: no valid condition record of condition type ${conditionType} (${key}) on ${new Date(day).toISOString().slice(0, 10)}`,
        { field: 'ConditionType', body: { conditionType } },
      );
    }
    if (row.currency !== 'USD')
      throw invalid(
        `${row.at}/ConditionRateValueUnit`,
        `condition record ${row.record} (${conditionType}) is in ${row.currency.slice(0, 5)}; expected USD`,
      );
    if (row.unit.toUpperCase() !== unit)
      throw invalid(
        `${row.at}/ConditionQuantityUnit`,
        `condition record ${row.record} (${conditionType}) is per ${row.unit.slice(0, 3)}; expected ${unit}`,
      );
    // The billing document carries unit prices to the cent, as the ERP's billing request does.
    prices[key] = Math.round((row.rate / row.quantity) * 100) / 100;
    used.push(row);
  }
  const hash = createHash('sha256')
    .update(
      JSON.stringify(used.map((r) => [r.conditionType, r.record, r.rate, r.quantity, r.unit, r.changedMs])),
    )
    .digest('hex')
    .slice(0, 8);
  const latest = Math.max(...used.map((r) => r.changedMs));
  return { version: `${stamp(latest)}-${hash}`, currency: 'USD', prices };
}

/**
 * The worker's copy of the condition records: read once, kept until `ttlMs` passed, shared by concurrent
 * callers while a read is under way. A failed read keeps nothing, so the next call reads again.
 */
export class ConditionRecordCache {
  private cached: { rows: ConditionRow[]; readAtMs: number } | undefined;
  private reading: Promise<ConditionRow[]> | undefined;

  constructor(
    private readonly read: () => Promise<ConditionRow[]>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The records, read again once the copy is older than the TTL. */
  async rows(): Promise<ConditionRow[]> {
    if (this.cached && this.now() - this.cached.readAtMs < this.ttlMs) return this.cached.rows;
    this.reading ??= this.read()
      .then((rows) => {
        this.cached = { rows, readAtMs: this.now() };
        return rows;
      })
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }

  /** Forgets the copy: the next call reads the ERP. */
  invalidate() {
    this.cached = undefined;
  }
}
