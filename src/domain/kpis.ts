/**
 * Business KPIs of the operations console, computed from read-model rows. Pure functions over plain
 * records (times are ISO-8601 instants); grouping by region and day is the caller's choice of rows.
 */

/** A delivery attempt as the KPIs see it. */
export interface KpiStop {
  windowStart: string | null;
  windowEnd: string | null;
  /** The last ETA committed before the driver arrived. */
  plannedEta: string | null;
  arrivedAt: string | null;
  completedAt?: string | null;
}

/** A shipment as the KPIs see it. */
export interface KpiShipment {
  attempts: number;
  outcome: string | null;
  phase: string;
  publishedAt: string | null;
  assignedAt: string | null;
  deliveredAt: string | null;
  billedAt: string | null;
}

/** A case as the KPIs see it. */
export interface KpiCase {
  kind: string;
  openedAt: string;
  resolvedAt: string | null;
}

/** A duration distribution in minutes; null values when there is nothing to measure. */
export interface Distribution {
  count: number;
  p50: number | null;
  p90: number | null;
  mean: number | null;
}

/** A rate: part of a whole, with the ratio (null when the whole is 0). */
export interface Rate {
  numerator: number;
  denominator: number;
  rate: number | null;
}

const ms = (iso: string) => Date.parse(iso);
const minutesBetween = (from: string, to: string) => (ms(to) - ms(from)) / 60_000;

/** The nearest-rank percentile (0 < p ≤ 100) of numbers; null for none. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? null;
}

/** p50, p90 and mean of a list of minutes. */
export function distribution(values: readonly number[]): Distribution {
  return {
    count: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    mean: values.length ? values.reduce((a, b) => a + b, 0) / values.length : null,
  };
}

function rate(numerator: number, denominator: number): Rate {
  return { numerator, denominator, rate: denominator ? numerator / denominator : null };
}

/** True when an arrival fell inside its delivery window (both ends included). */
export function insideWindow(stop: KpiStop): boolean | null {
  if (!stop.arrivedAt || !stop.windowStart || !stop.windowEnd) return null;
  const t = ms(stop.arrivedAt);
  return t >= ms(stop.windowStart) && t <= ms(stop.windowEnd);
}

/** On-time rate: arrivals inside the window over all arrivals with a known window. */
export function onTimeRate(stops: readonly KpiStop[]): Rate {
  const judged = stops.map(insideWindow).filter((v): v is boolean => v !== null);
  return rate(judged.filter(Boolean).length, judged.length);
}

/** ETA accuracy: absolute minutes between the last committed ETA and the actual arrival. */
export function etaError(stops: readonly KpiStop[]): Distribution {
  return distribution(
    stops
      .filter((s) => s.arrivedAt && s.plannedEta)
      .map((s) => Math.abs(minutesBetween(s.plannedEta!, s.arrivedAt!))),
  );
}

/** Route acceptance time: minutes from publication to dispatch to the driver's assignment. */
export function routeAcceptance(shipments: readonly KpiShipment[]): Distribution {
  return distribution(
    shipments
      .filter((s) => s.publishedAt && s.assignedAt)
      .map((s) => Math.max(0, minutesBetween(s.publishedAt!, s.assignedAt!))),
  );
}

/** First-attempt delivery rate: shipments delivered on attempt 1 over all delivered shipments. */
export function firstAttemptRate(shipments: readonly KpiShipment[]): Rate {
  const delivered = shipments.filter((s) => s.outcome === 'delivered' || s.deliveredAt);
  return rate(delivered.filter((s) => s.attempts <= 1).length, delivered.length);
}

/** Invoice cycle time: minutes from delivery to the billing post. */
export function invoiceCycle(shipments: readonly KpiShipment[]): Distribution {
  return distribution(
    shipments
      .filter((s) => s.deliveredAt && s.billedAt)
      .map((s) => Math.max(0, minutesBetween(s.deliveredAt!, s.billedAt!))),
  );
}

/** Exceptions of one kind: opened, still open, and resolution time of the resolved ones. */
export interface ExceptionStats {
  kind: string;
  opened: number;
  open: number;
  resolution: Distribution;
}

/** Exceptions opened and their resolution time, by kind (kinds sorted by name). */
export function exceptionsByKind(cases: readonly KpiCase[]): ExceptionStats[] {
  const kinds = [...new Set(cases.map((c) => c.kind))].sort();
  return kinds.map((kind) => {
    const of = cases.filter((c) => c.kind === kind);
    return {
      kind,
      opened: of.length,
      open: of.filter((c) => !c.resolvedAt).length,
      resolution: distribution(
        of.filter((c) => c.resolvedAt).map((c) => Math.max(0, minutesBetween(c.openedAt, c.resolvedAt!))),
      ),
    };
  });
}

/** Minutes a case has been open at `now`. */
export function caseAgeMinutes(c: KpiCase, now: string): number {
  return Math.max(0, minutesBetween(c.openedAt, c.resolvedAt ?? now));
}

/** How long an exception kind may stay open before it breaches its SLA, in minutes. */
export const EXCEPTION_SLA_MINUTES: Record<string, number> = {
  failed_attempt: 240,
  delay: 120,
  damage: 480,
  address_mismatch: 240,
  missing_pod: 240,
  no_assignment: 60,
};

/** SLA state of a case: ok, at risk (past 75 % of its SLA) or breached. */
export function slaState(c: KpiCase, now: string): 'ok' | 'at_risk' | 'breached' {
  const sla = EXCEPTION_SLA_MINUTES[c.kind] ?? 240;
  const age = caseAgeMinutes(c, now);
  return age > sla ? 'breached' : age > sla * 0.75 ? 'at_risk' : 'ok';
}

/** Every KPI of one group of rows (one region and day, or a whole day). */
export interface KpiSet {
  shipments: number;
  onTime: Rate;
  etaErrorMinutes: Distribution;
  routeAcceptanceMinutes: Distribution;
  firstAttempt: Rate;
  invoiceCycleMinutes: Distribution;
  exceptions: ExceptionStats[];
}

/** All KPIs of one group of rows. */
export function kpiSet(rows: {
  shipments: readonly KpiShipment[];
  stops: readonly KpiStop[];
  cases: readonly KpiCase[];
}): KpiSet {
  return {
    shipments: rows.shipments.length,
    onTime: onTimeRate(rows.stops),
    etaErrorMinutes: etaError(rows.stops),
    routeAcceptanceMinutes: routeAcceptance(rows.shipments),
    firstAttempt: firstAttemptRate(rows.shipments),
    invoiceCycleMinutes: invoiceCycle(rows.shipments),
    exceptions: exceptionsByKind(rows.cases),
  };
}

/** Groups rows by a key; keys in first-seen order. */
export function groupBy<T>(rows: readonly T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const k = key(r);
    const list = out.get(k);
    if (list) list.push(r);
    else out.set(k, [r]);
  }
  return out;
}
