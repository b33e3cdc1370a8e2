import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import axios from 'axios';
import Database from 'better-sqlite3';
import getPort from 'get-port';
import { nextServiceWindow } from '../../src/domain/service-days.js';
import { realDuration, simAt } from '../../src/domain/clock.js';
import type { Order } from '../../src/domain/model.js';
import { configSchema, loadConfig, sandboxToken } from '../../src/platform/config.js';
import { QUEUE_LIMITS } from '../../src/workers/workers.js';
import {
  shipmentWorkflowId,
  statusQuery,
  type ShipmentResult,
} from '../../src/workflows/shipment/contract.js';
import { REGION_CODES } from '../../sandbox/index.js';
import { metricSum } from '../chaos/report.js';
import { operatorFor, playDay } from '../day/play.js';
import { reconcile } from '../reconcile.js';
import { stackGraceMinutes, startFullStack, type FullStack } from '../stack.js';
import { startTemporalForTests } from '../temporal/postgres.js';
import type { BenchOptions } from './args.js';
import { batchFigures, closedSummary, runBaseline } from './baseline.js';
import {
  allocatorOf,
  busySampler,
  cpuDelta,
  cpuSnapshot,
  gitCommit,
  machine,
  mapLimit,
  offeredLoad,
  mib,
  p50p99,
  procStatus,
  requestSnapshot,
  round,
  vendorBudgets,
  vendorRequestFigures,
  scheduleToStart,
  scrape,
  temporalCpu,
} from './measure.js';
import { printReport } from './report.js';
import {
  EVENT_MILESTONE,
  eventToMilestoneLatencies,
  medianShape,
  parseODataDate,
  peakRssBytes,
  percentile,
  rescheduleStages,
  shapeOf,
  type HistoryEventView,
  type RescheduleStages,
} from './stats.js';

/*
 * The full-stack bench: N shipments released through the ERP's push at rate R on the whole stack, measured
 * end to end, then the bare-Temporal baseline of the same shape on the same server; see docs/benchmarks.md.
 */

interface BenchTemporal {
  address?: string;
  pid?: number;
  stop(): Promise<void>;
}

/** For `postgres`, a Temporal server on PostgreSQL with throwaway databases; for `devserver`, nothing (the stack starts one). */
async function temporalFor(o: BenchOptions, say: (l: string) => void): Promise<BenchTemporal> {
  if (o.backend === 'devserver') return { stop: async () => undefined };
  const t = await startTemporalForTests('postgres', say, undefined, undefined, {
    historyShards: o.historyShards,
  });
  return { address: t.address, stop: () => t.stop() };
}

/** The deliveries the bench reschedules: an even spread of the given share. */
function chosenForReschedule(i: number, share: number): boolean {
  return share > 0 && Math.floor((i + 1) * share) > Math.floor(i * share);
}

/**
 * Where the answered reschedules' time went (p50/p99 per stage, ms), from their shipments' histories; the
 * stage before the workflow accepted the update is the round trip less the accepted-to-answered time.
 */
async function rescheduleStageFigures(client: FullStack['client'], roundTrips: ReadonlyMap<string, number>) {
  const read = await mapLimit([...roundTrips], 5, async ([id, ms]) => {
    const history = await client.workflow.getHandle(id).fetchHistory();
    const stages = rescheduleStages(history.events ?? []);
    return stages && { ...stages, beforeAccepted: Math.max(0, Math.round(ms - stages.acceptedToAnswered)) };
  });
  const found = read.filter((s): s is RescheduleStages & { beforeAccepted: number } => s !== undefined);
  const keys = [
    'beforeAccepted',
    'acceptedToScheduled',
    'scheduledToStarted',
    'startedToCompleted',
    'completedToAnswered',
    'acceptedToAnswered',
  ] as const;
  const figures = keys.map((k) => [k, p50p99(found.flatMap((s) => s[k] ?? []))] as const);
  return Object.fromEntries(figures.filter(([, f]) => f.samples > 0));
}

/** Whole stack, N shipments released at rate R, then the baseline on the same server. Returns the exit code. */
export async function runFull(o: BenchOptions, say: (l: string) => void): Promise<number> {
  const config = loadConfig();
  const temporal = await temporalFor(o, say);
  const metricsPort = await getPort({ host: '127.0.0.1' });
  const dataDir = resolve(config.SHIPSYNC_DATA_DIR, 'bench');
  const releaseMs = (o.shipments / o.rate) * 1000;
  // Every shipment must be published (geocode + task: two activities on the dispatch queue, rate-limited) before the
  // region's planning cutoff, or it misses planning and escalates as unassigned; leave room for that backlog.
  const publishMs = ((o.shipments * 2) / QUEUE_LIMITS.dispatch.perSecond) * 1000;
  const leadMs = Math.ceil(20_000 + 1.5 * Math.max(releaseMs, publishMs));
  let stack: FullStack;
  try {
    stack = await startFullStack({
      dataDir,
      scale: o.scale,
      seed: o.seed,
      say,
      simulator: { enabled: true, failureRate: 0.05, delayRate: 0.1, damageRate: 0.02 },
      rescheduleRate: 0,
      showChildOutput: true,
      temporalAddress: temporal.address,
      // Boot, the release and the publishing backlog, all before simulated 04:00.
      startDelayMs: leadMs,
      env: { SHIPSYNC_WORKER_METRICS_PORT: String(metricsPort) },
      ...(o.cpuProfileDir ? { cpuProfileDir: resolve(o.cpuProfileDir) } : {}),
    });
  } catch (err) {
    await temporal.stop();
    throw err;
  }
  try {
    const { client, clock, date, erp, dispatch, crm } = stack;
    const cutoffReal = clock.anchorRealMs + (2 * 3600_000) / clock.scale;
    const pids = () => ({
      worker: stack.worker().pid,
      gateway: stack.gateway().pid,
      'temporal dev server': stack.server?.process.pid,
    });
    const cpu0 = cpuSnapshot(pids());
    const requests0 = {
      erp: requestSnapshot(erp.faults.requests),
      dispatch: requestSnapshot(dispatch.faults.requests),
      crm: requestSnapshot(crm.faults.requests),
    };
    const api = axios.create({ baseURL: stack.gatewayUrl, validateStatus: () => true, timeout: 30_000 });
    const orders: Order[] = [];
    const indexOf = new Map<string, number>();
    const rescheduled = new Set<string>();
    const rescheduleMs: number[] = [];
    const rescheduleMsOf = new Map<string, number>();
    const rescheduleStatuses: Record<string, number> = {};
    const inFlight = new Set<Promise<unknown>>();
    const track = (p: Promise<unknown>) => {
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    };
    const startedAt = Date.now();
    const busy = busySampler();
    const deadline = startedAt + o.timeoutSeconds * 1000;

    /** Reschedules chosen shipments once planned; approves charges waiting for finance. */
    // The gateway's inbox shows the moment a route assignment reached a shipment, before visibility catches up.
    let inboxDb: Database.Database | undefined;
    const reschedulePlanned = async () => {
      inboxDb ??= existsSync(resolve(dataDir, 'gateway.sqlite'))
        ? new Database(resolve(dataDir, 'gateway.sqlite'), { readonly: true, fileMustExist: true })
        : undefined;
      const assigned = (inboxDb
        ?.prepare(
          `select distinct shipment_id as workflowId from inbox where type = 'route.assigned.v1' and status = 'delivered'`,
        )
        .all() ?? []) as { workflowId: string }[];
      for (const wf of assigned) {
        const i = indexOf.get(wf.workflowId);
        const order = i === undefined ? undefined : orders[i];
        if (
          !order ||
          i === undefined ||
          rescheduled.has(wf.workflowId) ||
          !chosenForReschedule(i, o.rescheduleShare)
        )
          continue;
        rescheduled.add(wf.workflowId);
        const window = nextServiceWindow(order.requestedWindow, order.serviceDays);
        const t = performance.now();
        track(
          api
            .post(
              `/v1/shipments/${wf.workflowId}/reschedule`,
              { window, reason: 'customer asked for the next service day' },
              {
                headers: {
                  authorization: `Bearer ${sandboxToken('agent')}`,
                  'idempotency-key': `bench-reschedule-${wf.workflowId}`,
                },
              },
            )
            .then(
              (res) => {
                rescheduleStatuses[res.status] = (rescheduleStatuses[res.status] ?? 0) + 1;
                if (res.status !== 200) return;
                const ms = performance.now() - t;
                rescheduleMs.push(ms);
                rescheduleMsOf.set(wf.workflowId, ms);
              },
              () => {
                rescheduleStatuses.error = (rescheduleStatuses.error ?? 0) + 1;
              },
            ),
        );
      }
    };
    let watching = true;
    // Planned is a short phase on the compressed clock: watch for it on its own fast loop.
    const watcher = (async () => {
      while (watching) {
        await reschedulePlanned().catch((err: unknown) => say(`reschedule watch: ${String(err)}`));
        await sleep(200);
      }
    })();
    // Release: the ERP creates deliveries at rate R; its release push reaches the gateway, which starts each shipment.
    say(`releasing ${o.shipments} deliveries for ${date} at ${o.rate}/s through the ERP release push`);
    const tick = Math.max(20, Math.min(250, 1000 / o.rate));
    while (orders.length < o.shipments) {
      const due = Math.min(o.shipments, Math.floor(((Date.now() - startedAt) / 1000) * o.rate) + 1);
      while (due > orders.length) {
        // Round-robin over the regions: each dispatch team has drivers for about 200 stops a day.
        const region = REGION_CODES[orders.length % REGION_CODES.length] ?? 'CHI';
        for (const order of erp.seed(1, { date, mismatchRate: 0, regions: [region] })) {
          indexOf.set(shipmentWorkflowId(order.deliveryId), orders.length);
          orders.push(order);
        }
      }
      await sleep(tick);
    }
    const releaseSeconds = (Date.now() - startedAt) / 1000;
    if (Date.now() > cutoffReal)
      say(
        `warning: the release ended after the planning cutoff (simulated 06:00); late shipments wait for escalation`,
      );
    say(
      `released ${orders.length} in ${releaseSeconds.toFixed(1)} s; simulated 04:00 on ${date} in ${Math.max(0, Math.round((clock.anchorRealMs - Date.now()) / 1000))} s`,
    );

    // The operator plays finance for shipments whose charges wait for approval.
    const operator = operatorFor(stack, orders, 'bench');
    const closedQuery = `WorkflowType = 'ShipmentWorkflow' AND ExecutionStatus != 'Running'`;
    let closed = 0;
    let lastLine = '';
    await playDay(operator, {
      deadlineMs: deadline,
      everyMs: 500,
      mode: 'waiting',
      done: () => closed >= orders.length,
      onError: (err) => say(`approve: ${String(err)}`),
      afterPass: async () => {
        closed = (await client.workflow.count(closedQuery)).count;
        const sim = new Date(simAt(clock, Date.now())).toISOString().slice(0, 16).replace('T', ' ');
        const line = `sim ${sim}  closed ${closed}/${orders.length}  rescheduled ${rescheduleMs.length}  approved ${operator.counts.approvals}`;
        if (line !== lastLine) say(line);
        lastLine = line;
      },
    });
    watching = false;
    await watcher;
    inboxDb?.close();
    await Promise.allSettled([...inFlight]);

    // Measure before anything stops: peak RSS, CPU, metrics, backlog.
    const cpu1 = cpuSnapshot(pids());
    const machineBusy = busy.stop();
    const vendorSeconds = (Date.now() - startedAt) / 1000;
    // The budgets the stack's worker paces itself by (its environment is this process's, sandbox profile).
    const budgets = vendorBudgets(config);
    const vendorRequests = {
      erp: vendorRequestFigures(
        budgets.erp,
        requests0.erp,
        erp.faults.requests,
        orders.length,
        vendorSeconds,
      ),
      dispatch: vendorRequestFigures(
        budgets.dispatch,
        requests0.dispatch,
        dispatch.faults.requests,
        orders.length,
        vendorSeconds,
      ),
      crm: vendorRequestFigures(
        budgets.crm,
        requests0.crm,
        crm.faults.requests,
        orders.length,
        vendorSeconds,
      ),
      note: 'API requests each sandbox received from release to the last close (a bulk call counts once), per shipment released, and their share of the vendor budget over that time',
    };
    const workerStatus = procStatus(stack.worker().pid);
    const workerAllocator = allocatorOf(stack.worker().pid);
    const gatewayStatus = procStatus(stack.gateway().pid);
    const workerMetrics = await scrape(`http://127.0.0.1:${metricsPort}/metrics`);
    const gatewayMetrics = await scrape(`${stack.gatewayUrl}/metrics`);
    const backlog = Number(/^shipsync_inbox_backlog(?:\{[^}]*\})?\s+(\S+)/m.exec(gatewayMetrics)?.[1] ?? NaN);

    const ids = orders.map((x) => shipmentWorkflowId(x.deliveryId));
    const summary = await closedSummary(client, `WorkflowType = 'ShipmentWorkflow'`);
    const everything = await closedSummary(
      client,
      `ExecutionStatus != 'Running' OR ExecutionStatus = 'Running'`,
    );
    const results = new Map<string, ShipmentResult>();
    await mapLimit(ids, 20, async (id) => {
      try {
        results.set(id, await client.workflow.getHandle(id).result());
      } catch {
        // not closed or failed: reconciliation reports it
      }
    });
    // Dispatch events the shipments ignored, by reason and type (each keeps its latest few).
    const ignoredEvents: Record<string, number> = {};
    await mapLimit([...results.keys()], 10, async (id) => {
      const status = await client.workflow
        .getHandle(id)
        .query(statusQuery)
        .catch(() => undefined);
      for (const e of status?.ignoredEvents ?? []) {
        const key = `${e.reason} ${e.type}`;
        ignoredEvents[key] = (ignoredEvents[key] ?? 0) + 1;
      }
    });
    await crm.drain();
    const reconciliation = await reconcile({
      client: client,
      erpUrl: erp.url,
      dispatchUrl: dispatch.url,
      crmUrl: crm.url,
      orders,
      results,
    });

    // Event → ERP milestone: the gateway inbox's receipt time against the ERP's write time.
    const db = new Database(resolve(dataDir, 'gateway.sqlite'), { readonly: true, fileMustExist: true });
    const inbox = db
      .prepare(
        `select shipment_id as shipmentId, type, received_at as receivedAt, delivered_at as deliveredAt from inbox where source = 'dispatch' and shipment_id is not null`,
      )
      .all() as { shipmentId: string; type: string; receivedAt: string; deliveredAt: string | null }[];
    // The gateway's share of that latency: inbox receipt until the signal reached the workflow.
    const forwarded = inbox.filter((e) => e.deliveredAt);
    const forwardMs = forwarded.map((e) => Date.parse(e.deliveredAt ?? '') - Date.parse(e.receivedAt));
    const forwardByType: Record<string, ReturnType<typeof p50p99>> = {};
    for (const type of new Set(forwarded.map((e) => e.type))) {
      forwardByType[type] = p50p99(
        forwarded
          .filter((e) => e.type === type)
          .map((e) => Date.parse(e.deliveredAt ?? '') - Date.parse(e.receivedAt)),
      );
    }
    db.close();
    const milestones = new Map<string, { milestone: string; receivedAtMs: number }[]>();
    await mapLimit(orders, 16, async (order) => {
      const res = await axios.get<{ milestones: { milestone: string; receivedAt: string }[] }>(
        `${erp.url}/__sandbox/deliveries/${order.deliveryId}/milestones`,
      );
      const id = shipmentWorkflowId(order.deliveryId);
      milestones.set(
        id,
        res.data.milestones
          // A rescheduled shipment's extra planned milestone comes from the reschedule, not from an event.
          .filter((m) => !(rescheduled.has(id) && m.milestone === 'PLANNED'))
          .map((m) => ({ milestone: m.milestone, receivedAtMs: parseODataDate(m.receivedAt) })),
      );
    });
    const pairs = eventToMilestoneLatencies(
      inbox.map((e) => ({ shipmentId: e.shipmentId, type: e.type, receivedAtMs: Date.parse(e.receivedAt) })),
      milestones,
    );
    // The planning day's assignments against the no-assignment deadline (cutoff + grace): who was late.
    const graceMs = realDuration(clock, stackGraceMinutes(clock.scale) * 60_000);
    const firstAssignments = forwarded.filter(
      (e) =>
        e.type === 'route.assigned.v1' &&
        Date.parse(e.receivedAt) < cutoffReal + realDuration(clock, 12 * 3600_000),
    );
    const afterCutoffMs = (at: string) => Date.parse(at) - cutoffReal;
    const assignments = {
      graceSeconds: round(graceMs / 1000, 1),
      count: firstAssignments.length,
      receivedAfterCutoffMs: p50p99(firstAssignments.map((e) => afterCutoffMs(e.receivedAt))),
      signalledAfterCutoffMs: p50p99(firstAssignments.map((e) => afterCutoffMs(e.deliveredAt ?? ''))),
      receivedAfterDeadline: firstAssignments.filter((e) => afterCutoffMs(e.receivedAt) > graceMs).length,
      signalledAfterDeadline: firstAssignments.filter((e) => afterCutoffMs(e.deliveredAt ?? '') > graceMs)
        .length,
    };
    const byType: Record<string, ReturnType<typeof p50p99>> = {};
    for (const type of Object.keys(EVENT_MILESTONE)) {
      const v = pairs.filter((p) => p.type === type).map((p) => p.ms);
      if (v.length > 0) byType[`${type} → ${EVENT_MILESTONE[type]}`] = p50p99(v);
    }

    // The typical shipment's shape, from real histories: delivered first time, not rescheduled.
    const typical = [...results.values()]
      .filter((r) => r.outcome === 'delivered' && r.attempts === 1 && !rescheduled.has(r.shipmentId))
      .slice(0, 15);
    const histories = await mapLimit(typical, 5, (r) =>
      client.workflow.getHandle(r.shipmentId).fetchHistory(),
    );
    const shape = medianShape(histories.map((h) => shapeOf((h.events ?? []) as HistoryEventView[])));
    const typicalEvents = percentile(
      histories.map((h) => h.events?.length ?? 0),
      0.5,
    );

    const stages = await rescheduleStageFigures(client, rescheduleMsOf);

    const outcomes: Record<string, number> = {};
    for (const r of results.values()) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
    const ours = batchFigures(orders.length, summary);
    const runSeconds = (Date.now() - startedAt) / 1000;
    say(`shipments done in ${runSeconds.toFixed(0)} s; now the baseline`);

    const baseline =
      summary.count > 0
        ? await runBaseline(client, stack.temporalAddress, shape, o, say, stack.server?.process.pid)
        : undefined;
    const cpu = cpuDelta(cpu0, cpu1);
    const oursCpuPerShipment =
      ((cpu.worker ?? 0) + (cpu.gateway ?? 0) + temporalCpu(cpu)) / Math.max(1, summary.count);
    const report = {
      date: new Date().toISOString(),
      commit: gitCommit(),
      machine: machine(),
      options: {
        shipments: o.shipments,
        rate: o.rate,
        backend: o.backend,
        scale: o.scale,
        seed: o.seed,
        rescheduleShare: o.rescheduleShare,
        ...(o.backend === 'postgres' ? { historyShards: o.historyShards } : {}),
      },
      shipments: {
        released: orders.length,
        closed: summary.count,
        outcomes,
        releaseSeconds: round(releaseSeconds, 1),
        startRateAchieved: round(orders.length / releaseSeconds),
        simulatedDayRealSeconds: round(86_400 / o.scale, 1),
      },
      throughput: {
        ...ours,
        note: 'closed shipments / (last close - first start), from Temporal visibility',
      },
      scheduleToStartMs: scheduleToStart(workerMetrics),
      // What the worker answered: workflow tasks, activity tasks and status queries (the read model's).
      workerTasksPerShipment: Object.fromEntries(
        (
          [
            ['workflowTasks', 'RespondWorkflowTaskCompleted'],
            ['activityTasks', 'RespondActivityTaskCompleted'],
            ['queries', 'RespondQueryTaskCompleted'],
          ] as const
        ).map(([k, operation]) => [
          k,
          round(metricSum(workerMetrics, 'temporal_request', { operation }) / Math.max(1, orders.length)),
        ]),
      ),
      // Of the queries, what asked for them (the read model's triggers).
      odsStatusQueriesPerShipment: Object.fromEntries(
        ['event', 'api', 'sweep', 'watch', 'rebuild'].map((trigger) => [
          trigger,
          round(
            metricSum(gatewayMetrics, 'shipsync_ods_status_queries', { trigger }) /
              Math.max(1, orders.length),
          ),
        ]),
      ),
      eventToErpMilestoneMs: { all: p50p99(pairs.map((p) => p.ms)), byType },
      gatewayForwardMs: { ...p50p99(forwardMs), byType: forwardByType },
      planningDayAssignments: assignments,
      rescheduleRoundTripMs: { ...p50p99(rescheduleMs), statuses: rescheduleStatuses, stages },
      vendorRequests,
      peakRssMiB: { worker: mib(peakRssBytes(workerStatus)), gateway: mib(peakRssBytes(gatewayStatus)) },
      workerAllocator,
      // The worker's and the baseline worker's setting (both read the bench's environment).
      workflowStackTraces: configSchema.shape.SHIPSYNC_WORKFLOW_STACK_TRACES.parse(
        process.env.SHIPSYNC_WORKFLOW_STACK_TRACES,
      ),
      cpuSeconds: cpu,
      cpuSecondsPerShipment: {
        workerGatewayTemporal: round(oursCpuPerShipment, 3),
        sandboxesSimulatorDriver: round(
          (cpu['bench (sandboxes, simulator, driver)'] ?? 0) / Math.max(1, summary.count),
          3,
        ),
      },
      temporal: {
        stateTransitions: everything.transitions,
        stateTransitionsPerSecond: round(everything.transitions / ours.spanSeconds, 1),
        workflows: everything.count,
      },
      inboxBacklogAtEnd: Number.isFinite(backlog) ? backlog : undefined,
      forwardAttempts: Object.fromEntries(
        ['delivered', 'retry', 'late', 'ignored', 'dead'].map((outcome) => [
          outcome,
          metricSum(gatewayMetrics, 'shipsync_forward_attempts_total', { outcome }),
        ]),
      ),
      ignoredEvents,
      typicalShipment: { shape, historyEvents: typicalEvents, sampled: histories.length },
      reconciliation: {
        clean: reconciliation.mismatches.length === 0,
        ...reconciliation,
        mismatches: reconciliation.mismatches.slice(0, 20),
      },
      baseline: baseline && {
        ...baseline,
        oursOverBaseline: round(ours.completedPerSecond / baseline.completedPerSecond),
        oursOverBaselineByCpu: round((baseline.cpuSecondsPerRun ?? 0) / oursCpuPerShipment),
      },
      // How busy the machine was, second by second, from the first release to the last close.
      machineBusy: { ours: machineBusy, ...(baseline ? { baseline: baseline.machineBusy } : {}) },
      // The cores the start rate asks for at the measured cost, against the cores there are.
      offeredLoad: offeredLoad(machine().cpus, o.rate, {
        stack: oursCpuPerShipment,
        bench: (cpu['bench (sandboxes, simulator, driver)'] ?? 0) / Math.max(1, summary.count),
        ...(baseline?.cpuSecondsPerRun ? { baseline: baseline.cpuSecondsPerRun } : {}),
      }),
    };
    if (o.json) console.log(JSON.stringify(report, null, 2));
    else printReport(report);
    const ok =
      summary.count === orders.length &&
      reconciliation.mismatches.length === 0 &&
      !!baseline &&
      baseline.closed === baseline.runs;
    return ok ? 0 : 1;
  } finally {
    await stack.stop();
    await temporal.stop();
  }
}
