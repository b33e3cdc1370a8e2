import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Backend, Db } from './db.js';

/**
 * The console's KPIs aggregated inside the database: counts, sums and nearest-rank percentiles per delivery
 * day and region (and per day over every region, under the region `*`), so a request reads a few rows per
 * day and region instead of every shipment, stop and case of the days asked for. Times are ISO-8601 text;
 * durations are whole milliseconds computed by the database (exact for millisecond instants on both
 * backends), so the figures equal those of the pure functions in `src/domain/kpis.ts` over the same rows.
 */

/** The region under which the whole day's figures come back. */
export const ALL_REGIONS = '*';

/** A distribution of durations in milliseconds: count, mean, and the nearest-rank p50 and p90. */
export interface MsDistribution {
  count: number;
  meanMs: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
}

/** The aggregates of one day and region (or the whole day under `*`). */
export interface KpiAggregate {
  day: string;
  region: string;
  shipments: number;
  onTime: { numerator: number; denominator: number };
  firstAttempt: { numerator: number; denominator: number };
  etaError: MsDistribution;
  routeAcceptance: MsDistribution;
  invoiceCycle: MsDistribution;
  exceptions: { kind: string; opened: number; open: number; resolution: MsDistribution }[];
}

const EMPTY: MsDistribution = { count: 0, meanMs: null, p50Ms: null, p90Ms: null };

const num = (v: unknown): number => Number(v ?? 0);

/** Milliseconds from one ISO text column to another, as an integer. */
function msBetween(backend: Backend, from: string, to: string): RawBuilder<number> {
  const a = sql.ref(from);
  const b = sql.ref(to);
  return backend === 'postgres'
    ? sql<number>`round(extract(epoch from (${b}::timestamptz - ${a}::timestamptz)) * 1000)::bigint`
    : sql<number>`cast(round((julianday(${b}) - julianday(${a})) * 86400000.0) as integer)`;
}

/** The milliseconds from one column to another, 0 when negative, null when either is missing. */
function positiveMs(backend: Backend, from: string, to: string): RawBuilder<number | null> {
  const ms = msBetween(backend, from, to);
  return sql`case when ${sql.ref(from)} is null or ${sql.ref(to)} is null then null when ${ms} > 0 then ${ms} else 0 end`;
}

/** True when an instant lies between two others, both ends included (compared as instants, not text). */
function between(backend: Backend, at: string, start: string, end: string): RawBuilder<boolean> {
  const [t, s, e] = [sql.ref(at), sql.ref(start), sql.ref(end)];
  return backend === 'postgres'
    ? sql<boolean>`${t}::timestamptz between ${s}::timestamptz and ${e}::timestamptz`
    : sql<boolean>`julianday(${t}) between julianday(${s}) and julianday(${e})`;
}

/**
 * Recomputes the derived KPI columns of one shipment's rows (or of every row): the day and region its
 * stops and cases count for, and each duration in whole milliseconds. Every write of the ODS calls it for
 * the shipment it touched, so the KPI queries read integers from one table and never parse a time.
 */
export async function refreshDerived(
  db: Kysely<any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  backend: Backend,
  shipmentId?: string,
): Promise<void> {
  const only = shipmentId === undefined ? sql`` : sql`where shipment_id = ${shipmentId}`;
  const of = (col: 'day' | 'region') =>
    sql`(select s.${sql.raw(col)} from ods_shipments s where s.shipment_id = ods_stops.shipment_id)`;
  await sql`
    update ods_shipments set
      acceptance_ms = ${positiveMs(backend, 'published_at', 'assigned_at')},
      invoice_cycle_ms = ${positiveMs(backend, 'delivered_at', 'billed_at')}
    ${only}`.execute(db);
  await sql`
    update ods_stops set
      day = ${of('day')},
      region = ${of('region')},
      eta_error_ms = case when arrived_at is null or planned_eta is null then null
        else abs(${msBetween(backend, 'planned_eta', 'arrived_at')}) end,
      on_time = case when arrived_at is null or window_start is null or window_end is null then null
        when ${between(backend, 'arrived_at', 'window_start', 'window_end')} then 1 else 0 end
    ${only}`.execute(db);
  await sql`
    update ods_cases set
      day = (select s.day from ods_shipments s where s.shipment_id = ods_cases.shipment_id),
      resolution_ms = ${positiveMs(backend, 'opened_at', 'resolved_at')}
    ${only}`.execute(db);
}

const dayList = (days: readonly string[]) => sql.join(days.map((d) => sql`${d}`));

/** Percentile lookups per statement (SQLite allows 500 terms in a compound select). */
const LOOKUPS_PER_STATEMENT = 200;

/** The 1-based nearest ranks of p50 and p90 among n values: ceil(p·n/100), in integers. */
const ranks = (n: number) => [Math.floor((50 * n + 99) / 100), Math.floor((90 * n + 99) / 100)] as const;

/**
 * Count, mean and nearest-rank p50/p90 of one derived column, per day and region (and kind, for cases), and
 * per day (and kind) over every region under `*`. One GROUP BY counts and sums; each percentile is then one
 * lookup of the value at its rank in the order of an index on (day[, region][, kind], column): the database
 * walks that index, nothing is sorted and no row reaches the gateway but the answer.
 */
async function distributions(
  db: Db,
  table: 'ods_stops' | 'ods_shipments' | 'ods_cases',
  column: string,
  days: readonly string[],
): Promise<Map<string, MsDistribution>> {
  const cases = table === 'ods_cases';
  const v = sql.ref(column);
  const counted = await sql<{
    day: string;
    region: string;
    kind: string;
    n: number | string;
    total: number | string;
  }>`
    select day, region, ${cases ? sql`kind` : sql`''`} as kind, count(*) as n, sum(${v}) as total
    from ${sql.table(table)} where day in (${dayList(days)}) and ${v} is not null
    group by day, region${cases ? sql`, kind` : sql``}
  `.execute(db.kysely);
  const groups = new Map<string, { day: string; region: string; kind: string; n: number; total: number }>();
  for (const r of counted.rows)
    for (const region of [r.region, ALL_REGIONS]) {
      const key = `${r.day}|${region}|${r.kind}`;
      const g = groups.get(key) ?? { day: r.day, region, kind: r.kind, n: 0, total: 0 };
      g.n += num(r.n);
      g.total += num(r.total);
      groups.set(key, g);
    }
  // Every percentile of every group in few statements: one scalar lookup per rank, joined by UNION ALL.
  const lookups = [...groups].flatMap(([key, g]) => ranks(g.n).map((rank, i) => ({ key, g, rank, i })));
  const value = (l: (typeof lookups)[number]) => sql`(
      select ${v} from ${sql.table(table)}
      where day = ${l.g.day}
        ${l.g.region === ALL_REGIONS ? sql`` : sql`and region = ${l.g.region}`}
        ${cases ? sql`and kind = ${l.g.kind}` : sql``}
        and ${v} is not null
      order by ${v} limit 1 offset ${l.rank - 1})`;
  const found: (number | null)[] = [];
  for (let start = 0; start < lookups.length; start += LOOKUPS_PER_STATEMENT) {
    const chunk = lookups.slice(start, start + LOOKUPS_PER_STATEMENT);
    const r = await sql<{ i: number | string; v: number | string | null }>`${sql.join(
      chunk.map((l, j) => sql`select ${sql.lit(start + j)} as i, ${value(l)} as v`),
      sql` union all `,
    )}`.execute(db.kysely);
    for (const row of r.rows) found[num(row.i)] = row.v === null ? null : num(row.v);
  }
  const out = new Map<string, MsDistribution>();
  for (const [key, g] of groups)
    out.set(key, { count: g.n, meanMs: g.total / g.n, p50Ms: null, p90Ms: null });
  lookups.forEach((l, idx) => {
    const d = out.get(l.key)!;
    if (l.i === 0) d.p50Ms = found[idx] ?? null;
    else d.p90Ms = found[idx] ?? null;
  });
  return out;
}

/** Every KPI aggregate of some delivery days, per region and per day (`*`); days without rows are absent. */
export async function kpiAggregates(db: Db, days: readonly string[]): Promise<KpiAggregate[]> {
  if (days.length === 0) return [];
  const k = db.kysely;
  const inDays = dayList(days);

  // Shipments and first attempts (delivered: an outcome of delivered or a delivered milestone).
  const shipmentCounts = sql<{
    day: string;
    region: string;
    shipments: number | string;
    delivered: number | string;
    first: number | string;
  }>`
    select day, region, count(*) as shipments,
      sum(case when outcome = 'delivered' or delivered_at is not null then 1 else 0 end) as delivered,
      sum(case when (outcome = 'delivered' or delivered_at is not null) and attempts <= 1 then 1 else 0 end) as first
    from ods_shipments where day in (${inDays})
    group by day, region
  `.execute(k);

  // On-time: arrivals inside their window over arrivals with a known window.
  const onTime = sql<{ day: string; region: string; judged: number | string; inside: number | string }>`
    select day, region, count(*) as judged, sum(on_time) as inside
    from ods_stops where day in (${inDays}) and on_time is not null
    group by day, region
  `.execute(k);

  // Cases opened and still open, by kind (the case's own region, as when it was opened).
  const cases = sql<{
    day: string;
    region: string;
    kind: string;
    opened: number | string;
    open: number | string;
  }>`
    select day, region, kind, count(*) as opened,
      sum(case when resolved_at is null then 1 else 0 end) as open
    from ods_cases where day in (${inDays})
    group by day, region, kind
  `.execute(k);

  const [sc, ot, cs, etaD, accD, invD, resD] = await Promise.all([
    shipmentCounts,
    onTime,
    cases,
    distributions(db, 'ods_stops', 'eta_error_ms', days),
    distributions(db, 'ods_shipments', 'acceptance_ms', days),
    distributions(db, 'ods_shipments', 'invoice_cycle_ms', days),
    distributions(db, 'ods_cases', 'resolution_ms', days),
  ]);

  const out = new Map<string, KpiAggregate>();
  const at = (day: string, region: string): KpiAggregate => {
    const key = `${day}|${region}`;
    let a = out.get(key);
    if (!a) {
      a = {
        day,
        region,
        shipments: 0,
        onTime: { numerator: 0, denominator: 0 },
        firstAttempt: { numerator: 0, denominator: 0 },
        etaError: EMPTY,
        routeAcceptance: EMPTY,
        invoiceCycle: EMPTY,
        exceptions: [],
      };
      out.set(key, a);
    }
    return a;
  };
  for (const r of sc.rows)
    for (const region of [r.region, ALL_REGIONS]) {
      const a = at(r.day, region);
      a.shipments += num(r.shipments);
      a.firstAttempt.denominator += num(r.delivered);
      a.firstAttempt.numerator += num(r.first);
    }
  for (const r of ot.rows)
    for (const region of [r.region, ALL_REGIONS]) {
      const a = at(r.day, region);
      a.onTime.denominator += num(r.judged);
      a.onTime.numerator += num(r.inside);
    }
  for (const r of cs.rows)
    for (const region of [r.region, ALL_REGIONS]) {
      const a = at(r.day, region);
      const e = a.exceptions.find((x) => x.kind === r.kind);
      if (e) {
        e.opened += num(r.opened);
        e.open += num(r.open);
      } else a.exceptions.push({ kind: r.kind, opened: num(r.opened), open: num(r.open), resolution: EMPTY });
    }
  for (const a of out.values()) {
    const key = `${a.day}|${a.region}|`;
    a.etaError = etaD.get(key) ?? EMPTY;
    a.routeAcceptance = accD.get(key) ?? EMPTY;
    a.invoiceCycle = invD.get(key) ?? EMPTY;
    for (const e of a.exceptions) e.resolution = resD.get(`${key}${e.kind}`) ?? EMPTY;
    a.exceptions.sort((x, y) => (x.kind < y.kind ? -1 : x.kind > y.kind ? 1 : 0));
  }
  return [...out.values()];
}
