import { Gauge, type Registry } from 'prom-client';
import { kpiSet, type Distribution, type KpiSet, type Rate } from '../domain/kpis.js';
import { ALL_REGIONS, kpiAggregates, type KpiAggregate, type MsDistribution } from '../storage/ods-kpis.js';
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

const minutes = (ms: number | null) => (ms === null ? null : ms / 60_000);

function distributionOf(d: MsDistribution): Distribution {
  return { count: d.count, p50: minutes(d.p50Ms), p90: minutes(d.p90Ms), mean: minutes(d.meanMs) };
}

function rateOf(r: { numerator: number; denominator: number }): Rate {
  return { ...r, rate: r.denominator ? r.numerator / r.denominator : null };
}

function kpiSetOf(a: KpiAggregate | undefined): KpiSet {
  if (!a) return kpiSet({ shipments: [], stops: [], cases: [] });
  return {
    shipments: a.shipments,
    onTime: rateOf(a.onTime),
    etaErrorMinutes: distributionOf(a.etaError),
    routeAcceptanceMinutes: distributionOf(a.routeAcceptance),
    firstAttempt: rateOf(a.firstAttempt),
    invoiceCycleMinutes: distributionOf(a.invoiceCycle),
    exceptions: a.exceptions.map((e) => ({
      kind: e.kind,
      opened: e.opened,
      open: e.open,
      resolution: distributionOf(e.resolution),
    })),
  };
}

/**
 * Computes the KPIs of some days from the ODS, per day and per region and day. The database aggregates
 * (counts, sums and percentiles per day and region, see `src/storage/ods-kpis.ts`): a request reads a few
 * rows per region and day whatever the number of shipments. The figures equal `kpiSet` over the same rows.
 */
export async function kpisOfDays(store: Store, days: string[]): Promise<DayKpis[]> {
  const rows = await kpiAggregates(store.db, days);
  const byKey = new Map(rows.map((r) => [`${r.day}|${r.region}`, r]));
  return days.map((day) => {
    // The regions of the day are those with shipments that day, as in the read model's rows.
    const regions = rows
      .filter((r) => r.day === day && r.region !== ALL_REGIONS && r.shipments > 0)
      .map((r) => r.region)
      .sort();
    return {
      day,
      all: kpiSetOf(byKey.get(`${day}|${ALL_REGIONS}`)),
      regions: regions.map((region) => ({ region, ...kpiSetOf(byKey.get(`${day}|${region}`)) })),
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
