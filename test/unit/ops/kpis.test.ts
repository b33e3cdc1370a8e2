import { describe, expect, it } from 'vitest';
import {
  etaError,
  exceptionsByKind,
  firstAttemptRate,
  insideWindow,
  invoiceCycle,
  kpiSet,
  onTimeRate,
  percentile,
  routeAcceptance,
  slaState,
  type KpiShipment,
  type KpiStop,
} from '../../../src/domain/kpis.js';

const at = (hhmm: string) => `2026-12-01T${hhmm}:00.000Z`;
const window = { windowStart: at('09:00'), windowEnd: at('11:00') };
const stop = (arrived: string | null, eta: string | null = null): KpiStop => ({
  ...window,
  arrivedAt: arrived ? at(arrived) : null,
  plannedEta: eta ? at(eta) : null,
});
const shipment = (over: Partial<KpiShipment> = {}): KpiShipment => ({
  attempts: 1,
  outcome: null,
  phase: 'planned',
  publishedAt: null,
  assignedAt: null,
  deliveredAt: null,
  billedAt: null,
  ...over,
});

describe('on-time rate', () => {
  it('when 7 of 10 arrivals fall inside the window then the rate is 70 %', () => {
    const inside = ['09:00', '09:30', '10:00', '10:15', '10:30', '10:45', '11:00'];
    const outside = ['08:59', '11:01', '12:30'];
    const r = onTimeRate([...inside, ...outside].map((t) => stop(t)));
    expect(r).toEqual({ numerator: 7, denominator: 10, rate: 0.7 });
  });

  it('when a stop has not arrived yet then it is not judged', () => {
    expect(onTimeRate([stop('10:00'), stop(null)])).toEqual({ numerator: 1, denominator: 1, rate: 1 });
    expect(insideWindow(stop(null))).toBeNull();
    expect(onTimeRate([]).rate).toBeNull();
  });
});

describe('ETA accuracy', () => {
  it('when arrivals miss their last ETA by 0..9 minutes then p50 is 4 and p90 is 8 (nearest rank)', () => {
    const stops = Array.from({ length: 10 }, (_, i) => stop(`10:${String(i).padStart(2, '0')}`, '10:00'));
    const d = etaError(stops);
    expect(d).toMatchObject({ count: 10, p50: 4, p90: 8 });
    expect(d.mean).toBeCloseTo(4.5);
  });

  it('when an arrival is early then its error counts as an absolute value', () => {
    expect(etaError([stop('09:40', '10:00')]).p50).toBe(20);
  });

  it('percentile of nothing is null, of one value is that value', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([7], 90)).toBe(7);
  });
});

describe('route acceptance, first attempt and invoice cycle', () => {
  it('when three shipments are assigned 10, 20 and 60 minutes after publication then p50 is 20 and p90 is 60', () => {
    const d = routeAcceptance([
      shipment({ publishedAt: at('06:00'), assignedAt: at('06:10') }),
      shipment({ publishedAt: at('06:00'), assignedAt: at('06:20') }),
      shipment({ publishedAt: at('06:00'), assignedAt: at('07:00') }),
      shipment({ publishedAt: at('06:00') }),
    ]);
    expect(d).toMatchObject({ count: 3, p50: 20, p90: 60, mean: 30 });
  });

  it('when 3 of 4 delivered shipments needed one attempt then the first-attempt rate is 75 %', () => {
    const r = firstAttemptRate([
      shipment({ outcome: 'delivered', attempts: 1 }),
      shipment({ outcome: 'delivered', attempts: 1 }),
      shipment({ deliveredAt: at('10:00'), attempts: 1 }),
      shipment({ outcome: 'delivered', attempts: 2 }),
      shipment({ outcome: 'returned', attempts: 2 }),
    ]);
    expect(r).toEqual({ numerator: 3, denominator: 4, rate: 0.75 });
  });

  it('when billing follows delivery by 30 and 90 minutes then the invoice cycle p50 is 30 and p90 is 90', () => {
    const d = invoiceCycle([
      shipment({ deliveredAt: at('10:00'), billedAt: at('10:30') }),
      shipment({ deliveredAt: at('10:00'), billedAt: at('11:30') }),
      shipment({ deliveredAt: at('10:00') }),
    ]);
    expect(d).toMatchObject({ count: 2, p50: 30, p90: 90, mean: 60 });
  });
});

describe('exceptions', () => {
  it('when cases of two kinds open and some resolve then each kind counts opened, open and resolution time', () => {
    const stats = exceptionsByKind([
      { kind: 'delay', openedAt: at('10:00'), resolvedAt: at('10:30') },
      { kind: 'delay', openedAt: at('10:00'), resolvedAt: at('12:00') },
      { kind: 'delay', openedAt: at('11:00'), resolvedAt: null },
      { kind: 'damage', openedAt: at('09:00'), resolvedAt: null },
    ]);
    expect(stats).toEqual([
      { kind: 'damage', opened: 1, open: 1, resolution: { count: 0, p50: null, p90: null, mean: null } },
      { kind: 'delay', opened: 3, open: 1, resolution: { count: 2, p50: 30, p90: 120, mean: 75 } },
    ]);
  });

  it('when a delay case is 100 minutes old then it is at risk, at 121 minutes it is breached', () => {
    const c = { kind: 'delay', openedAt: at('10:00'), resolvedAt: null };
    expect(slaState(c, at('10:30'))).toBe('ok');
    expect(slaState(c, at('11:40'))).toBe('at_risk');
    expect(slaState(c, at('12:01'))).toBe('breached');
  });
});

describe('a KPI set', () => {
  it('when a day has 10 shipments then every KPI is computed from the same rows', () => {
    const shipments = Array.from({ length: 10 }, (_, i) =>
      shipment({ outcome: i < 8 ? 'delivered' : null, attempts: i < 6 ? 1 : 2 }),
    );
    const stops = Array.from({ length: 10 }, (_, i) => stop(i < 7 ? '10:00' : '12:00', '10:00'));
    const k = kpiSet({ shipments, stops, cases: [] });
    expect(k.shipments).toBe(10);
    expect(k.onTime.rate).toBe(0.7);
    expect(k.firstAttempt).toEqual({ numerator: 6, denominator: 8, rate: 0.75 });
    expect(k.etaErrorMinutes).toMatchObject({ p50: 0, p90: 120 });
    expect(k.exceptions).toEqual([]);
  });
});
