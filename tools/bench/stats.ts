import { taskQueues } from '../../src/workflows/task-queues.js';
import type { BaselineShape } from './workflows/contract.js';

/*
 * Pure statistics of the bench: Prometheus histograms, percentiles, history shapes, event-to-milestone
 * pairing.
 */

/** One cumulative Prometheus histogram bucket: observations at or below `le`. */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * Sums the cumulative buckets of one histogram over all its label sets (task queues, namespaces...) from
 * Prometheus text exposition.
 */
export function histogramBuckets(text: string, name: string): Bucket[] {
  const sums = new Map<number, number>();
  const re = new RegExp(`^${name}_bucket\\{([^}]*)\\}\\s+(\\S+)`);
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const le = /(?:^|,)le="([^"]+)"/.exec(m[1] ?? '')?.[1];
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    sums.set(bound, (sums.get(bound) ?? 0) + Number(m[2]));
  }
  return [...sums.entries()].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/** The values of one label (e.g. `task_queue`) that a histogram's buckets carry. */
export function histogramLabelValues(text: string, name: string, label: string): string[] {
  const values = new Set<string>();
  const re = new RegExp(`^${name}_bucket\\{[^}]*\\b${label}="([^"]*)"`);
  for (const line of text.split('\n')) {
    const v = re.exec(line)?.[1];
    if (v !== undefined) values.add(v);
  }
  return [...values].sort();
}

/** Only the exposition lines whose labels include `label="value"`. */
export function linesWithLabel(text: string, label: string, value: string): string {
  return text
    .split('\n')
    .filter((l) => l.includes(`${label}="${value}"`))
    .join('\n');
}

/**
 * The q-quantile estimated from cumulative buckets as PromQL's histogram_quantile does: linear
 * interpolation inside the bucket holding the rank; the highest finite bound when it falls in +Inf.
 * Undefined when there are no observations.
 */
export function histogramQuantile(buckets: Bucket[], q: number): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total <= 0 || q < 0 || q > 1) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      if (b.count === prevCount) return b.le;
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.count - prevCount);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}

/** The q-quantile of raw samples by nearest rank (the smallest value with at least q of the samples at or below it). */
export function percentile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Milliseconds of an OData V2 `/Date(1700000000000+0000)/` value (or an ISO string); NaN otherwise. */
export function parseODataDate(value: string): number {
  const m = /^\/Date\((-?\d+)([+-]\d{4})?\)\/$/.exec(value);
  return m ? Number(m[1]) : Date.parse(value);
}

/** Peak resident set size in bytes from the text of `/proc/<pid>/status` (VmHWM), or undefined. */
export function peakRssBytes(status: string): number | undefined {
  const kb = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)?.[1];
  return kb === undefined ? undefined : Number(kb) * 1024;
}

/** The minimal view of a history event the shape count needs. */
export interface HistoryEventView {
  activityTaskScheduledEventAttributes?: { taskQueue?: { name?: string | null } | null } | null;
  workflowExecutionSignaledEventAttributes?: unknown;
  timerStartedEventAttributes?: unknown;
}

/** Counts a history's activities (by task queue of the given prefix), signals and timers. */
export function shapeOf(events: readonly HistoryEventView[], prefix = ''): BaselineShape {
  const q = taskQueues(prefix);
  const shape: BaselineShape = {
    activities: { shipments: 0, erp: 0, dispatch: 0, crm: 0 },
    signals: 0,
    timers: 0,
  };
  for (const e of events) {
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const name = scheduled.taskQueue?.name ?? q.shipments;
      const key = (['erp', 'dispatch', 'crm'] as const).find((k) => q[k] === name) ?? 'shipments';
      shape.activities[key]++;
    }
    if (e.workflowExecutionSignaledEventAttributes) shape.signals++;
    if (e.timerStartedEventAttributes) shape.timers++;
  }
  return shape;
}

/** The per-field median of several shapes, so one unusual shipment does not set the baseline. */
export function medianShape(shapes: readonly BaselineShape[]): BaselineShape {
  const med = (pick: (s: BaselineShape) => number) => Math.round(percentile(shapes.map(pick), 0.5) ?? 0);
  return {
    activities: {
      shipments: med((s) => s.activities.shipments),
      erp: med((s) => s.activities.erp),
      dispatch: med((s) => s.activities.dispatch),
      crm: med((s) => s.activities.crm),
    },
    signals: med((s) => s.signals),
    timers: med((s) => s.timers),
  };
}

/** Which ERP milestone a dispatch event causes. */
export const EVENT_MILESTONE: Readonly<Record<string, string>> = {
  'route.assigned.v1': 'PLANNED',
  'stop.started.v1': 'DISPATCHED',
  'delivery.completed.v1': 'DELIVERED',
  'delivery.failed.v1': 'FAILED_ATTEMPT',
};

/**
 * Latencies (ms) from the gateway's receipt of a dispatch event to the ERP's write of the milestone it
 * caused: per shipment and event type, each event (in receipt order) pairs with the earliest not yet
 * paired milestone of the matching code written at or after it. Events that caused no milestone (a stale
 * or out-of-order one) pair with nothing when no later milestone is left.
 */
export function eventToMilestoneLatencies(
  events: readonly { shipmentId: string; type: string; receivedAtMs: number }[],
  milestones: ReadonlyMap<string, readonly { milestone: string; receivedAtMs: number }[]>,
): { type: string; ms: number }[] {
  const out: { type: string; ms: number }[] = [];
  const used = new Set<string>();
  const sortedEvents = [...events].sort((a, b) => a.receivedAtMs - b.receivedAtMs);
  for (const e of sortedEvents) {
    const code = EVENT_MILESTONE[e.type];
    const list = milestones.get(e.shipmentId);
    if (!code || !list) continue;
    let best = -1;
    for (const [i, m] of list.entries()) {
      if (m.milestone !== code || used.has(`${e.shipmentId}#${i}`) || m.receivedAtMs < e.receivedAtMs)
        continue;
      if (best < 0 || m.receivedAtMs < (list[best]?.receivedAtMs ?? Infinity)) best = i;
    }
    if (best < 0) continue;
    used.add(`${e.shipmentId}#${best}`);
    out.push({ type: e.type, ms: (list[best]?.receivedAtMs ?? 0) - e.receivedAtMs });
  }
  return out;
}

/** The fields of a history event the reschedule's stages read. */
export interface StageEventView {
  eventId?: number | { toNumber(): number } | null;
  eventTime?: { seconds?: number | { toNumber(): number } | null; nanos?: number | null } | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  activityTaskStartedEventAttributes?: { scheduledEventId?: number | { toNumber(): number } | null } | null;
  activityTaskCompletedEventAttributes?: { scheduledEventId?: number | { toNumber(): number } | null } | null;
  workflowExecutionUpdateAcceptedEventAttributes?: {
    acceptedRequest?: { input?: { name?: string | null } | null } | null;
  } | null;
  workflowExecutionUpdateCompletedEventAttributes?: {
    acceptedEventId?: number | { toNumber(): number } | null;
  } | null;
}

/**
 * Where a reschedule's time went once the workflow accepted it (ms), read from the shipment's history. One
 * that moved no dispatch task (asked before planning), or moved it in a local activity inside the workflow
 * task that accepted it (patch reschedule-local-dispatch), has only `acceptedToAnswered`.
 */
export interface RescheduleStages {
  /** Accepted until dispatch's reschedule activity was scheduled (waiting for the shipment's lock). */
  acceptedToScheduled?: number;
  /** Scheduled until a worker started it (the activity task queue). */
  scheduledToStarted?: number;
  /** Started until it completed (the dispatch pacer and the vendor's answer). */
  startedToCompleted?: number;
  /** Completed until the update completed (the workflow task that answers). */
  completedToAnswered?: number;
  /** Accepted until answered. */
  acceptedToAnswered: number;
}

const num = (v: number | { toNumber(): number } | null | undefined): number | undefined =>
  v === null || v === undefined ? undefined : typeof v === 'number' ? v : v.toNumber();

/**
 * The stages of the first reschedule update in a history, or undefined when it holds none that completed.
 * One answered without a dispatch activity after it (asked before planning) has only its total.
 */
export function rescheduleStages(
  events: readonly StageEventView[],
  updateName = 'reschedule',
  activity = 'dispatchRescheduleTask',
): RescheduleStages | undefined {
  const at = (e: StageEventView) => (num(e.eventTime?.seconds) ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
  const accepted = events.find(
    (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === updateName,
  );
  if (!accepted) return undefined;
  const acceptedId = num(accepted.eventId);
  const answered = events.find(
    (e) => num(e.workflowExecutionUpdateCompletedEventAttributes?.acceptedEventId) === acceptedId,
  );
  if (!answered) return undefined;
  const after = events.filter((e) => (num(e.eventId) ?? 0) > (acceptedId ?? 0));
  const scheduled = after.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity,
  );
  if (!scheduled) return { acceptedToAnswered: Math.round(at(answered) - at(accepted)) };
  const scheduledId = num(scheduled.eventId);
  const started = after.find(
    (e) => num(e.activityTaskStartedEventAttributes?.scheduledEventId) === scheduledId,
  );
  const completed = after.find(
    (e) => num(e.activityTaskCompletedEventAttributes?.scheduledEventId) === scheduledId,
  );
  if (!started || !completed) return undefined;
  const r = (ms: number) => Math.round(ms);
  return {
    acceptedToScheduled: r(at(scheduled) - at(accepted)),
    // A started event is written with the completion, but its time is the start's.
    scheduledToStarted: r(at(started) - at(scheduled)),
    startedToCompleted: r(at(completed) - at(started)),
    completedToAnswered: r(at(answered) - at(completed)),
    acceptedToAnswered: r(at(answered) - at(accepted)),
  };
}
