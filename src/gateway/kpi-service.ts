import { Gauge, type Registry } from 'prom-client';
import { groupBy, kpiSet, type KpiSet } from '../domain/kpis.js';
import type { Store } from '../storage/store.js';

/** KPIs of one day: the whole day and each region. */
export interface DayKpis {
  day: string;
  all: KpiSet;
  regions: (KpiSet & { region: string })[];
}

/** The day (YYYY-MM-DD) of an ISO instant, shifted by whole days. */
export function dayOf(iso: string, offsetDays = 0): string {
  return new Date(Date.parse(iso) + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

/** The days from `to - n + 1` to `to`, oldest first. */
export function lastDays(to: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => dayOf(`${to}T00:00:00Z`, i - n + 1));
}

/** Computes the KPIs of some days from the ODS, per day and per region and day. */
export async function kpisOfDays(store: Store, days: string[]): Promise<DayKpis[]> {
  const { shipments, stops, cases } = await store.ods.kpiInputs(days);
  const sByDay = groupBy(shipments, (s) => s.day);
  const stByDay = groupBy(stops, (s) => s.day);
  const cByDay = groupBy(cases, (c) => c.day);
  return days.map((day) => {
    const ds = sByDay.get(day) ?? [];
    const dst = stByDay.get(day) ?? [];
    const dc = cByDay.get(day) ?? [];
    const regions = [...new Set(ds.map((s) => s.region))].sort();
    return {
      day,
      all: kpiSet({ shipments: ds, stops: dst, cases: dc }),
      regions: regions.map((region) => ({
        region,
        ...kpiSet({
          shipments: ds.filter((s) => s.region === region),
          stops: dst.filter((s) => s.region === region),
          cases: dc.filter((c) => c.region === region),
        }),
      })),
    };
  });
}

/**
 * The business KPIs as Prometheus gauges, labelled by region and day, on the gateway's registry. They are
 * recomputed from the ODS just before each scrape (the days around the current simulated day).
 */
export class KpiMetrics {
  private readonly g: Record<string, Gauge<string>>;

  constructor(
    registry: Registry,
    private readonly store: Store,
    private readonly today: () => string,
  ) {
    const gauge = (name: string, help: string, labelNames: string[]) =>
      new Gauge({ name, help, labelNames, registers: [registry] });
    const rd = ['region', 'day'];
    this.g = {
      shipments: gauge('shipsync_kpi_shipments', 'Shipments in the ODS by region, delivery day and phase', [
        ...rd,
        'phase',
      ]),
      onTime: gauge(
        'shipsync_kpi_on_time_ratio',
        'Arrivals inside the delivery window over all arrivals',
        rd,
      ),
      arrivals: gauge('shipsync_kpi_arrivals', 'Arrivals with a known window (the on-time denominator)', rd),
      etaError: gauge(
        'shipsync_kpi_eta_error_minutes',
        'Absolute error of the last committed ETA against the arrival, by quantile',
        [...rd, 'quantile'],
      ),
      acceptance: gauge(
        'shipsync_kpi_route_acceptance_minutes',
        'Minutes from publication to dispatch to assignment, by quantile',
        [...rd, 'quantile'],
      ),
      firstAttempt: gauge(
        'shipsync_kpi_first_attempt_ratio',
        'Shipments delivered on the first attempt over delivered shipments',
        rd,
      ),
      invoiceCycle: gauge(
        'shipsync_kpi_invoice_cycle_minutes',
        'Minutes from delivery to the billing post, by quantile',
        [...rd, 'quantile'],
      ),
      exceptionsOpened: gauge('shipsync_kpi_exceptions_opened', 'Cases opened, by kind', [...rd, 'kind']),
      exceptionsOpen: gauge('shipsync_kpi_exceptions_open', 'Cases still open, by kind', [...rd, 'kind']),
      resolution: gauge(
        'shipsync_kpi_exception_resolution_minutes',
        'Resolution time of resolved cases, by kind and quantile',
        [...rd, 'kind', 'quantile'],
      ),
      deadLetters: gauge('shipsync_kpi_dead_letters_open', 'Open dead letters by source', ['source']),
    };
  }

  /** Recomputes every gauge from the ODS (yesterday, today and tomorrow of the simulated clock). */
  async refresh(): Promise<void> {
    const today = this.today();
    const days = [dayOf(`${today}T00:00:00Z`, -1), today, dayOf(`${today}T00:00:00Z`, 1)];
    const [kpis, counts, letters] = await Promise.all([
      kpisOfDays(this.store, days),
      this.store.ods.phaseCounts(days),
      this.store.ods.deadLetterCounts(),
    ]);
    for (const g of Object.values(this.g)) g.reset();
    for (const c of counts) this.g.shipments!.set({ region: c.region, day: c.day, phase: c.phase }, c.n);
    for (const d of kpis) {
      for (const k of d.regions) {
        const l = { region: k.region, day: d.day };
        if (k.onTime.rate !== null) this.g.onTime!.set(l, k.onTime.rate);
        this.g.arrivals!.set(l, k.onTime.denominator);
        if (k.firstAttempt.rate !== null) this.g.firstAttempt!.set(l, k.firstAttempt.rate);
        for (const [g, dist] of [
          [this.g.etaError!, k.etaErrorMinutes],
          [this.g.acceptance!, k.routeAcceptanceMinutes],
          [this.g.invoiceCycle!, k.invoiceCycleMinutes],
        ] as const) {
          if (dist.p50 !== null) g.set({ ...l, quantile: '0.5' }, dist.p50);
          if (dist.p90 !== null) g.set({ ...l, quantile: '0.9' }, dist.p90);
        }
        for (const e of k.exceptions) {
          this.g.exceptionsOpened!.set({ ...l, kind: e.kind }, e.opened);
          this.g.exceptionsOpen!.set({ ...l, kind: e.kind }, e.open);
          if (e.resolution.p50 !== null)
            this.g.resolution!.set({ ...l, kind: e.kind, quantile: '0.5' }, e.resolution.p50);
          if (e.resolution.p90 !== null)
            this.g.resolution!.set({ ...l, kind: e.kind, quantile: '0.9' }, e.resolution.p90);
        }
      }
    }
    for (const [source, n] of Object.entries(letters)) this.g.deadLetters!.set({ source }, n);
  }
}
