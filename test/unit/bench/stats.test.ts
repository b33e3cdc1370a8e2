import { describe, expect, it } from 'vitest';
import { parseBenchArgs, parseCounts } from '../../../tools/bench/args.js';
import {
  eventToMilestoneLatencies,
  histogramBuckets,
  histogramLabelValues,
  histogramQuantile,
  linesWithLabel,
  parseODataDate,
  peakRssBytes,
  percentile,
  rescheduleStages,
  shapeOf,
  type StageEventView,
} from '../../../tools/bench/stats.js';
import { offeredLoad } from '../../../tools/bench/measure.js';
import { baselinePlan } from '../../../tools/bench/workflows/contract.js';
import { reconciliationDates } from '../../../tools/reconcile.js';
import type { Order } from '../../../src/domain/model.js';
import type { ShipmentResult } from '../../../src/workflows/shipment/contract.js';

const EXPOSITION = `# HELP temporal_activity_schedule_to_start_latency x
# TYPE temporal_activity_schedule_to_start_latency histogram
temporal_activity_schedule_to_start_latency_bucket{namespace="default",task_queue="erp",le="50"} 60
temporal_activity_schedule_to_start_latency_bucket{namespace="default",task_queue="erp",le="100"} 80
temporal_activity_schedule_to_start_latency_bucket{namespace="default",task_queue="erp",le="+Inf"} 80
temporal_activity_schedule_to_start_latency_bucket{namespace="default",task_queue="crm",le="50"} 20
temporal_activity_schedule_to_start_latency_bucket{namespace="default",task_queue="crm",le="100"} 20
temporal_activity_schedule_to_start_latency_bucket{namespace="default",task_queue="crm",le="+Inf"} 20
temporal_activity_schedule_to_start_latency_sum{namespace="default",task_queue="crm"} 300
temporal_workflow_task_schedule_to_start_latency_bucket{le="50"} 999
`;

describe('bench statistics', () => {
  it('when buckets of several task queues are exposed then they are summed per bound', () => {
    expect(histogramBuckets(EXPOSITION, 'temporal_activity_schedule_to_start_latency')).toEqual([
      { le: 50, count: 80 },
      { le: 100, count: 100 },
      { le: Infinity, count: 100 },
    ]);
  });

  it('when the rank falls inside a bucket then the quantile is interpolated linearly in it', () => {
    const b = histogramBuckets(EXPOSITION, 'temporal_activity_schedule_to_start_latency');
    // p50: rank 50 of 80 in [0, 50] → 31.25; p90: rank 90, 10 of the 20 in (50, 100] → 75.
    expect(histogramQuantile(b, 0.5)).toBeCloseTo(31.25);
    expect(histogramQuantile(b, 0.9)).toBeCloseTo(75);
  });

  it('when the rank falls in the +Inf bucket then the highest finite bound is returned', () => {
    const b = [
      { le: 10, count: 1 },
      { le: Infinity, count: 10 },
    ];
    expect(histogramQuantile(b, 0.99)).toBe(10);
  });

  it('when there are no observations then no quantile is estimated', () => {
    expect(histogramQuantile([], 0.5)).toBeUndefined();
    expect(histogramQuantile([{ le: Infinity, count: 0 }], 0.5)).toBeUndefined();
  });

  it('when samples are given then the nearest-rank percentile is one of them', () => {
    const v = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(v, 0.5)).toBe(50);
    expect(percentile(v, 0.99)).toBe(99);
    expect(percentile(v, 1)).toBe(100);
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBeUndefined();
  });

  it('when an OData V2 date or an ISO instant is given then its epoch milliseconds are returned', () => {
    expect(parseODataDate('/Date(1767225600000+0000)/')).toBe(1767225600000);
    expect(parseODataDate('2026-01-01T00:00:00Z')).toBe(1767225600000);
    expect(parseODataDate('yesterday')).toBeNaN();
  });

  it('when /proc status text is given then VmHWM is read in bytes', () => {
    expect(peakRssBytes('Name:\tnode\nVmHWM:\t  204800 kB\nVmRSS:\t 100 kB\n')).toBe(204800 * 1024);
    expect(peakRssBytes('Name:\tnode\n')).toBeUndefined();
  });

  it('when a history is counted then activities are split by task queue and signals and timers counted', () => {
    const shape = shapeOf([
      { activityTaskScheduledEventAttributes: { taskQueue: { name: 'erp' } } },
      { activityTaskScheduledEventAttributes: { taskQueue: { name: 'erp' } } },
      { activityTaskScheduledEventAttributes: { taskQueue: { name: 'dispatch' } } },
      { activityTaskScheduledEventAttributes: { taskQueue: { name: 'shipments' } } },
      { workflowExecutionSignaledEventAttributes: {} },
      { timerStartedEventAttributes: {} },
      {},
    ]);
    expect(shape).toEqual({
      activities: { shipments: 1, erp: 2, dispatch: 1, crm: 0 },
      signals: 1,
      timers: 1,
    });
  });

  it('when a shape is planned then every activity, signal wait and timer appears exactly once', () => {
    const shape = { activities: { shipments: 2, erp: 5, dispatch: 2, crm: 3 }, signals: 4, timers: 3 };
    const plan = baselinePlan(shape);
    expect(plan).toHaveLength(5);
    const count = (q: string) => plan.flatMap((s) => s.activities).filter((a) => a === q).length;
    expect([count('shipments'), count('erp'), count('dispatch'), count('crm')]).toEqual([2, 5, 2, 3]);
    expect(plan.filter((s) => s.timer)).toHaveLength(3);
    expect(plan.at(-1)?.timer).toBe(false);
  });

  it('when events and milestones are paired then each milestone answers the earliest event before it once', () => {
    const milestones = new Map([
      [
        'shipment-1',
        [
          { milestone: 'PLANNED', receivedAtMs: 1_150 },
          { milestone: 'DELIVERED', receivedAtMs: 5_300 },
        ],
      ],
    ]);
    const pairs = eventToMilestoneLatencies(
      [
        { shipmentId: 'shipment-1', type: 'delivery.completed.v1', receivedAtMs: 5_000 },
        { shipmentId: 'shipment-1', type: 'route.assigned.v1', receivedAtMs: 1_000 },
        // A second route.assigned finds no later PLANNED milestone left, so it pairs with nothing.
        { shipmentId: 'shipment-1', type: 'route.assigned.v1', receivedAtMs: 1_100 },
        { shipmentId: 'shipment-1', type: 'stop.eta.v1', receivedAtMs: 2_000 },
      ],
      milestones,
    );
    expect(pairs).toEqual([
      { type: 'route.assigned.v1', ms: 150 },
      { type: 'delivery.completed.v1', ms: 300 },
    ]);
  });

  it('when a curve list is malformed then it is refused', () => {
    expect(parseCounts('1000,5000')).toEqual([1000, 5000]);
    expect(() => parseCounts('1000,x')).toThrow(/comma-separated/);
    expect(() => parseCounts('0')).toThrow(/comma-separated/);
  });

  it('when the curve drains a sample then the sample is read, and a sample without a curve is refused', () => {
    const curve = parseBenchArgs(['--curve', '1000,10000', '--drain-sample', '500', '--backend', 'postgres']);
    expect(curve).toMatchObject({ curve: [1000, 10000], drainSample: 500, backend: 'postgres' });
    expect(parseBenchArgs([]).drainSample).toBeUndefined();
    expect(() => parseBenchArgs(['--drain-sample', '500'])).toThrow(/needs --curve/);
    expect(() => parseBenchArgs(['--curve', '1000', '--drain-sample', '0'])).toThrow(/--drain-sample/);
    expect(() => parseBenchArgs(['--backend', 'mysql'])).toThrow(/mysql/);
  });

  it('when history shards are given then they go to the PostgreSQL server, 4 unless given, and the dev server refuses them', () => {
    expect(parseBenchArgs(['--backend', 'postgres']).historyShards).toBe(4);
    expect(parseBenchArgs(['--backend', 'postgres', '--history-shards', '8']).historyShards).toBe(8);
    expect(() => parseBenchArgs(['--history-shards', '8'])).toThrow(
      /--history-shards needs --backend postgres/,
    );
    expect(() => parseBenchArgs(['--backend', 'postgres', '--history-shards', '0'])).toThrow(
      /--history-shards must be an integer from 1 to 64/,
    );
  });
});

describe('reschedule stages', () => {
  const t = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });
  const history = (update = 'reschedule'): StageEventView[] => [
    {
      eventId: 5,
      eventTime: t(1_000),
      activityTaskScheduledEventAttributes: { activityType: { name: 'dispatchRescheduleTask' } },
    },
    {
      eventId: 10,
      eventTime: t(10_000),
      workflowExecutionUpdateAcceptedEventAttributes: { acceptedRequest: { input: { name: update } } },
    },
    {
      eventId: 11,
      eventTime: t(10_040),
      activityTaskScheduledEventAttributes: { activityType: { name: 'dispatchRescheduleTask' } },
    },
    { eventId: 13, eventTime: t(10_100), activityTaskStartedEventAttributes: { scheduledEventId: 11 } },
    { eventId: 14, eventTime: t(10_900), activityTaskCompletedEventAttributes: { scheduledEventId: 11 } },
    {
      eventId: 18,
      eventTime: t(11_150),
      workflowExecutionUpdateCompletedEventAttributes: { acceptedEventId: 10 },
    },
  ];

  it('when a reschedule moved a dispatch task then each stage is the time between its own events', () => {
    expect(rescheduleStages(history())).toEqual({
      acceptedToScheduled: 40,
      scheduledToStarted: 60,
      startedToCompleted: 800,
      completedToAnswered: 250,
      acceptedToAnswered: 1_150,
    });
  });

  it('when the reschedule moved no dispatch task then only the total is there', () => {
    const unplanned = history().filter((e) => (e.eventId as number) < 11 || (e.eventId as number) === 18);
    expect(rescheduleStages(unplanned)).toEqual({ acceptedToAnswered: 1_150 });
  });

  it('when the history holds no reschedule, or one not yet answered, then there are no stages', () => {
    expect(rescheduleStages(history('approveCharges'))).toBeUndefined();
    expect(rescheduleStages(history().slice(0, -1))).toBeUndefined();
  });
});

describe('bench per-queue breakdown', () => {
  it('when buckets carry task queues then each queue can be estimated on its own', () => {
    const name = 'temporal_activity_schedule_to_start_latency';
    expect(histogramLabelValues(EXPOSITION, name, 'task_queue')).toEqual(['crm', 'erp']);
    const crm = histogramBuckets(linesWithLabel(EXPOSITION, 'task_queue', 'crm'), name);
    expect(crm.at(-1)?.count).toBe(20);
    expect(histogramQuantile(crm, 0.99)).toBeCloseTo(49.5);
  });
});

describe('the days the final reconciliation covers', () => {
  it('when a shipment closed after the planned date and its reattempt days then its milestones add their day', () => {
    const order = { plannedDate: '2026-12-02' } as Order;
    const late = {
      milestones: [
        { milestone: 'planned', attempt: 1, at: '2026-12-02T06:00:00.000Z' },
        { milestone: 'delivered', attempt: 2, at: '2026-12-08T16:31:00.000Z' },
      ],
    } as Pick<ShipmentResult, 'milestones'>;
    expect(reconciliationDates([order])).toEqual([
      '2026-12-02',
      '2026-12-03',
      '2026-12-04',
      '2026-12-05',
      '2026-12-06',
    ]);
    expect(reconciliationDates([order], [late]).at(-1)).toBe('2026-12-08');
    expect(reconciliationDates([order], [late])).toHaveLength(6);
  });
});

describe('the offered load against the machine', () => {
  it('when a shipment costs more CPU than the cores can give at the start rate then the demand is above 1', () => {
    const load = offeredLoad(2, 12, { stack: 0.45, bench: 0.05, baseline: 0.2 });
    expect(load.coresAsked).toBe(6);
    expect(load.demandOverCores).toBe(3);
    expect(load.sustainableStartsPerSecond).toBe(4);
    expect(load.baselineCoresAsked).toBe(2.4);
    expect(load.baselineDemandOverCores).toBe(1.2);
    expect(load.baselineSustainableStartsPerSecond).toBe(10);
  });

  it('when the rate is within what the cores give then the demand is below 1, and no baseline adds no baseline figures', () => {
    const load = offeredLoad(4, 3, { stack: 0.5 });
    expect(load.demandOverCores).toBe(0.38);
    expect(load.sustainableStartsPerSecond).toBe(8);
    expect(load).not.toHaveProperty('baselineCoresAsked');
  });
});
