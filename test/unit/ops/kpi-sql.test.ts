import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kpiSet, type KpiCase, type KpiShipment, type KpiStop } from '../../../src/domain/kpis.js';
import { kpisOfDays } from '../../../src/gateway/kpi-service.js';
import { BACKENDS, type TestDatabase } from '../storage/backends.js';
import { SeededRandom } from '../../../sandbox/common/rng.js';

const DAYS = ['2026-12-01', '2026-12-02'];
const REGIONS = ['CHI', 'NYC', 'DAL'];
const KINDS = ['failed_attempt', 'delay', 'missing_pod'];

const iso = (ms: number) => new Date(ms).toISOString();

/** Rounds every number to 6 decimals: a mean is a sum divided in another order by the database. */
const rounded = (v: unknown): unknown =>
  JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' ? Math.round(x * 1e6) / 1e6 : x)));

/** Rows of a few hundred shipments over two days, with every optional time sometimes missing. */
function rows(seed: number) {
  const seeded = new SeededRandom(seed);
  const r = () => seeded.next();
  const shipments: (KpiShipment & { id: string; day: string; region: string })[] = [];
  const stops: (KpiStop & { id: string; attempt: number })[] = [];
  const cases: (KpiCase & { id: string; key: string; region: string })[] = [];
  for (let i = 0; i < 300; i++) {
    const day = DAYS[i % DAYS.length]!;
    const region = REGIONS[Math.floor(r() * REGIONS.length)]!;
    const base = Date.parse(`${day}T08:00:00Z`) + Math.floor(r() * 8) * 3_600_000;
    const maybe = (p: number, ms: number) => (r() < p ? iso(ms) : null);
    const id = `shipment-K${String(i).padStart(6, '0')}`;
    const deliveredAt = maybe(0.6, base + r() * 3 * 3_600_000);
    shipments.push({
      id,
      day,
      region,
      attempts: 1 + Math.floor(r() * 3),
      outcome: deliveredAt ? 'delivered' : r() < 0.1 ? 'returned' : null,
      phase: deliveredAt ? 'closed' : 'planned',
      publishedAt: maybe(0.9, base - 3 * 3_600_000),
      assignedAt: maybe(0.8, base - 3 * 3_600_000 + (r() - 0.1) * 3_600_000),
      deliveredAt,
      billedAt: deliveredAt ? maybe(0.7, Date.parse(deliveredAt) + r() * 7_200_000) : null,
    });
    for (let attempt = 1; attempt <= 1 + Math.floor(r() * 2); attempt++) {
      // Arrivals sometimes exactly on a window's end, written with and without milliseconds.
      const arrivedMs = r() < 0.1 ? base + 7_200_000 : base + (r() * 2.6 - 0.3) * 3_600_000;
      stops.push({
        id,
        attempt,
        windowStart: r() < 0.95 ? iso(base) : null,
        windowEnd: r() < 0.95 ? iso(base + 7_200_000).replace('.000Z', 'Z') : null,
        plannedEta: maybe(0.9, base + r() * 7_200_000),
        arrivedAt: r() < 0.7 ? iso(Math.round(arrivedMs)) : null,
      });
    }
    if (r() < 0.4) {
      const opened = base + r() * 3_600_000;
      cases.push({
        id,
        key: `${id}:${i}`,
        region: r() < 0.9 ? region : 'ATL',
        kind: KINDS[Math.floor(r() * KINDS.length)]!,
        openedAt: iso(opened),
        resolvedAt: maybe(0.6, opened + (r() - 0.05) * 4 * 3_600_000),
      });
    }
  }
  return { shipments, stops, cases };
}

describe.each(BACKENDS)('KPIs aggregated by the database on $name', ({ open }) => {
  let t: TestDatabase;
  beforeEach(async () => {
    t = await open();
  });
  afterEach(async () => {
    await t.dispose();
  });

  it('when a day has hundreds of shipments then every figure equals the pure KPI functions over its rows', async () => {
    const data = rows(7);
    const db = t.store.db.kysely;
    await db
      .insertInto('ods_shipments')
      .values(
        data.shipments.map((s) => ({
          shipment_id: s.id,
          region: s.region,
          day: s.day,
          phase: s.phase,
          attempts: s.attempts,
          outcome: s.outcome,
          published_at: s.publishedAt,
          assigned_at: s.assignedAt,
          delivered_at: s.deliveredAt,
          billed_at: s.billedAt,
          charges: '[]',
          charges_total: 0,
          awaiting_approval: 0,
          approvals: '[]',
          workflow_status: 'RUNNING',
          updated_at: new Date().toISOString(),
        })),
      )
      .execute();
    await db
      .insertInto('ods_stops')
      .values(
        data.stops.map((s) => ({
          shipment_id: s.id,
          attempt: s.attempt,
          window_start: s.windowStart,
          window_end: s.windowEnd,
          planned_eta: s.plannedEta,
          arrived_at: s.arrivedAt,
        })),
      )
      .execute();
    await db
      .insertInto('ods_cases')
      .values(
        data.cases.map((c) => ({
          case_key: c.key,
          shipment_id: c.id,
          kind: c.kind,
          region: c.region,
          opened_at: c.openedAt,
          resolved_at: c.resolvedAt,
        })),
      )
      .execute();

    // Written directly, as a bulk load would: the derived KPI columns are computed afterwards.
    await t.store.ods.refreshKpiColumns();
    const got = await kpisOfDays(t.store, [...DAYS, '2026-12-03']);
    const dayOf = new Map(data.shipments.map((s) => [s.id, s]));
    for (const [i, day] of DAYS.entries()) {
      const ships = data.shipments.filter((s) => s.day === day);
      const st = data.stops.filter((s) => dayOf.get(s.id)!.day === day);
      const cs = data.cases.filter((c) => dayOf.get(c.id)!.day === day);
      expect(got[i]!.day).toBe(day);
      expect(rounded(got[i]!.all)).toEqual(rounded(kpiSet({ shipments: ships, stops: st, cases: cs })));
      const regions = [...new Set(ships.map((s) => s.region))].sort();
      expect(got[i]!.regions.map((r) => r.region)).toEqual(regions);
      for (const region of regions)
        expect(rounded(got[i]!.regions.find((r) => r.region === region))).toEqual(
          rounded({
            region,
            ...kpiSet({
              shipments: ships.filter((s) => s.region === region),
              stops: st.filter((s) => dayOf.get(s.id)!.region === region),
              cases: cs.filter((c) => c.region === region),
            }),
          }),
        );
    }
    // A day without shipments has every figure empty.
    expect(got[2]).toEqual({
      day: '2026-12-03',
      all: kpiSet({ shipments: [], stops: [], cases: [] }),
      regions: [],
    });
  });

  it('when hundreds of cases are open then pages of them come oldest first, each once, with counts by kind', async () => {
    const db = t.store.db.kysely;
    const base = Date.parse('2026-12-01T08:00:00.000Z');
    // 250 open cases, several opened at the same instant, and 50 resolved ones that no page shows.
    const rows = Array.from({ length: 300 }, (_, i) => ({
      case_key: `shipment-P${String(i).padStart(4, '0')}:${i}`,
      shipment_id: `shipment-P${String(i).padStart(4, '0')}`,
      case_id: String(i),
      kind: KINDS[i % KINDS.length]!,
      region: 'CHI',
      opened_at: iso(base + Math.floor(i / 3) * 60_000),
      resolved_at: i % 6 === 5 ? iso(base + 9 * 3_600_000) : null,
    }));
    await db.insertInto('ods_cases').values(rows).execute();
    const open = rows.filter((r) => r.resolved_at === null);
    const seen: string[] = [];
    let after: { openedAt: string; caseKey: string } | undefined;
    for (;;) {
      const page = await t.store.ods.openCasesPage({ limit: 100, ...(after ? { after } : {}) });
      seen.push(...page.map((c) => c.caseKey));
      if (page.length < 100) break;
      after = { openedAt: page.at(-1)!.openedAt, caseKey: page.at(-1)!.caseKey };
    }
    const expected = [...open]
      .sort((a, b) => a.opened_at.localeCompare(b.opened_at) || a.case_key.localeCompare(b.case_key))
      .map((r) => r.case_key);
    expect(seen).toEqual(expected);
    // Breached: opened before its kind's cutoff (here one hour after the first case for every kind).
    const cutoff = iso(base + 3_600_000);
    const counts = await t.store.ods.openCaseCounts(
      Object.fromEntries(KINDS.map((k) => [k, cutoff])),
      cutoff,
    );
    expect(counts).toEqual(
      [...KINDS].sort().map((kind) => ({
        kind,
        open: open.filter((r) => r.kind === kind).length,
        breached: open.filter((r) => r.kind === kind && r.opened_at < cutoff).length,
      })),
    );
  });
});
