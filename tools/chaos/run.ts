import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import axios from 'axios';
import { realDuration, simAt } from '../../src/domain/clock.js';
import { loadConfig, secret } from '../../src/platform/config.js';
import { openStore, SQLITE_FILE_NAME, type Store } from '../../src/storage/store.js';
import { shipmentsQuery } from '../../src/workflows/shipment/search-attributes.js';
import { taskQueues } from '../../src/workflows/task-queues.js';
import { operatorFor, playDay, progressLine, releaseDay, type DayOperator } from '../day/play.js';
import { startFullStack, type FullStack } from '../stack.js';
import type { ChaosOptions } from './args.js';
import { accountEvents, type EventAccounting, type InboxFate } from './events.js';
import {
  inboxBacklog,
  watchBacklog,
  type BacklogWatch,
  pollersInclude,
  readiness,
  restartPostgres,
  secondsSince,
  secondsUntil,
  storeAnswers,
} from './faults.js';
import { checkInvariants, type InvariantResult } from './invariants.js';
import { buildMalformedWebhooks, MALFORMED_EXPECTATION, type SentMalformed } from './malformed.js';
import { observe, waitForInbox } from './observe.js';
import {
  CAMPAIGN,
  DISPATCH_WEBHOOK_FAULTS,
  faultPlan,
  usesPostgres,
  webhooksFlowing,
  type FaultRecord,
  type PlannedFault,
  type Recovery,
} from './plan.js';
import { commitOf, metricSum, printSummary, type ChaosSummary } from './report.js';

/** How long a recovery is watched for before it is reported as not reached. */
const RECOVERY_TIMEOUT_MS = 300_000;

/**
 * Real milliseconds from the stack's start to simulated 04:00: long enough for every process to boot (each
 * worker bundles the workflows; the PostgreSQL-backed server starts slower than the dev server), so the
 * fault plan and the day begin together. One gateway and one worker on the dev server keep today's 25 s.
 */
export function startDelayFor(t: Pick<ChaosOptions, 'backend' | 'gateways' | 'workers'>): number {
  return 25_000 + 20_000 * (t.gateways - 1 + t.workers - 1) + (t.backend === 'postgres' ? 15_000 : 0);
}

/**
 * Running shipments of the campaign whose delivery day has not ended at the simulated time `simMs` (visibility's
 * `DeliveryDate` is the day's start): a reattempt planned for a later service day.
 */
async function withDayAhead(stack: FullStack, simMs: number): Promise<number> {
  const dayEndedBefore = new Date(simMs - 24 * 3600_000).toISOString();
  const { count } = await stack.client.workflow.count(
    shipmentsQuery(undefined, `ExecutionStatus = 'Running'`, `DeliveryDate > '${dayEndedBefore}'`),
  );
  return count;
}

/** Runs the whole campaign; returns the exit code (0 only when every invariant holds). */
export async function runChaos(opts: ChaosOptions): Promise<number> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const startedAt = Date.now();
  // The commit of the code that runs: taken at the start, as the tree may move on during a long campaign.
  const commit = commitOf();
  const config = loadConfig();
  const dataDir = resolve(config.SHIPSYNC_DATA_DIR, 'chaos');
  const stack = await startFullStack({
    dataDir,
    scale: opts.scale,
    seed: opts.seed,
    say,
    backend: opts.backend,
    gateways: opts.gateways,
    workers: opts.workers,
    childLogDir: dataDir,
    prebuildWorkflowBundle: true,
    startDelayMs: startDelayFor(opts),
    simulator: { enabled: true, failureRate: 0.1, delayRate: 0.1, damageRate: 0.03 },
    rescheduleRate: 0.1,
    faults: { dispatch: { ...DISPATCH_WEBHOOK_FAULTS } },
  });
  say(`process logs: ${dataDir}/*.log`);
  if (Date.now() > stack.clock.anchorRealMs)
    say(
      `the stack took ${Math.round((Date.now() - stack.clock.anchorRealMs) / 1000)} s longer to start than planned: the day and the fault plan have begun`,
    );
  // The campaign reads the inbox itself, so a dead gateway does not blind it.
  let store: Store | undefined;
  const faults: FaultRecord[] = [];
  const offset = (t = Date.now()) => Math.round((t - stack.clock.anchorRealMs) / 100) / 10;
  const record = (kind: FaultRecord['kind'], detail: string, t = Date.now(), recovery?: Recovery) => {
    const f: FaultRecord = { kind, at: new Date(t).toISOString(), offsetSeconds: offset(t), detail };
    if (recovery) f.recovery = recovery;
    faults.push(f);
    say(`fault +${offset(t)} s: ${kind} ${detail}`);
    return f;
  };
  record(
    'dispatch-webhook-faults',
    `whole run: ${DISPATCH_WEBHOOK_FAULTS.webhookDuplicateRate * 100}% of webhooks sent ×${DISPATCH_WEBHOOK_FAULTS.webhookDuplicateCopies}, ${DISPATCH_WEBHOOK_FAULTS.webhookReorderRate * 100}% held back behind a later one`,
  );
  try {
    store = await openStore(
      stack.databaseUrl
        ? { backend: 'postgres', url: stack.databaseUrl, poolSize: 2 }
        : { backend: 'sqlite', file: join(dataDir, SQLITE_FILE_NAME) },
    );
    return await campaign(stack, store, opts, { say, record, offset, startedAt, faults, commit });
  } finally {
    await store?.close().catch(() => undefined);
    await stack.stop();
  }
}

interface CampaignCtx {
  say: (line: string) => void;
  record: (kind: FaultRecord['kind'], detail: string, t?: number, recovery?: Recovery) => FaultRecord;
  offset: (t?: number) => number;
  startedAt: number;
  faults: FaultRecord[];
  commit: string;
}

const alive = (c: ChildProcess) => c.exitCode === null && c.signalCode === null;

async function campaign(
  stack: FullStack,
  store: Store,
  opts: ChaosOptions,
  ctx: CampaignCtx,
): Promise<number> {
  const { clock, erp, dispatch, crm } = stack;
  const { say, record } = ctx;
  const config = loadConfig();
  const queue = taskQueues().shipments;
  // The malformed webhooks go to the first gateway, as the operator's calls do.
  const api = axios.create({ baseURL: stack.gatewayUrl, validateStatus: () => true, timeout: 10_000 });
  // The operator exists once the day's deliveries are released; until then nothing has closed.
  const current: { operator?: DayOperator } = {};
  const closedCount = () => current.operator?.results.size ?? 0;
  const malformed: SentMalformed[] = [];
  const counts = {
    workerKills: 0,
    workerSelfExits: 0,
    gatewayKills: 0,
    gatewaySelfExits: 0,
    postgresRestarts: 0,
  };
  const recoveries: Promise<void>[] = [];
  const plan = faultPlan(opts);

  // Process and service faults are serialised with the watchdog so two never overlap.
  let busy = false;
  let campaignDone = false;
  const exclusive = async <T>(fn: () => Promise<T>): Promise<T> => {
    while (busy) await sleep(100);
    busy = true;
    try {
      return await fn();
    } finally {
      busy = false;
    }
  };
  const at = (seconds: number) => sleep(Math.max(0, clock.anchorRealMs + seconds * 1000 - Date.now()));
  /**
   * Starts watching the inbox backlog at a fault's start; `drained(fault)` (once the affected part serves
   * again) lets the watch end in the background and fill in the fault's recovery.
   */
  const watchFrom = (t0: number, before: number | undefined) => {
    const watch = watchBacklog(store, t0, before, RECOVERY_TIMEOUT_MS);
    return (fault: FaultRecord) => watchDrain(fault, watch, before);
  };
  const watchDrain = (fault: FaultRecord, watch: BacklogWatch, before: number | undefined) => {
    watch.served();
    recoveries.push(
      watch.result.then((drain) => {
        fault.recovery = { ...fault.recovery, ...drain };
        say(
          `recovered +${ctx.offset()} s: ${fault.kind} at +${fault.offsetSeconds} s: inbox backlog ${before ?? '?'} → peak ${drain.backlogPeak ?? '?'}, ${drain.backlogDrainedAfterSeconds === undefined ? `not back within ${RECOVERY_TIMEOUT_MS / 1000} s` : `back after ${drain.backlogDrainedAfterSeconds} s`}`,
        );
      }),
    );
  };
  const allWorkerPids = () => stack.workers().map((w) => w.pid);

  const sendMalformed = async (batch: number) => {
    const built = buildMalformedWebhooks({
      secret: secret(config, 'SHIPSYNC_DISPATCH_WEBHOOK_SECRET'),
      seed: opts.seed,
      first: batch * 10,
      timeMs: simAt(clock, Date.now()),
    });
    for (const m of built) {
      const sentAt = new Date().toISOString();
      try {
        const res = await api.post<{ code?: string }>('/webhooks/dispatch', m.body, {
          headers: m.headers,
          transformRequest: [(d: unknown) => d],
        });
        malformed.push({
          kind: m.kind,
          marker: m.marker,
          ...(m.eventId ? { eventId: m.eventId } : {}),
          status: res.status,
          ...(res.data?.code ? { code: res.data.code } : {}),
          sentAt,
        });
      } catch {
        malformed.push({
          kind: m.kind,
          marker: m.marker,
          ...(m.eventId ? { eventId: m.eventId } : {}),
          status: 'error',
          sentAt,
        });
      }
    }
    const kept = built.filter((m) => MALFORMED_EXPECTATION[m.kind].deadLetter).length;
    record(
      'malformed-webhooks',
      `batch ${batch}: ${built.length} sent (${kept} to be dead-lettered: ${built.map((m) => m.kind).join(', ')})`,
    );
  };

  const killWorker = (n: number, index: number) =>
    exclusive(async () => {
      const t = Date.now();
      const before = await inboxBacklog(store);
      const drained = watchFrom(t, before);
      const killed = stack.workers()[index]?.pid;
      await stack.restartWorker('SIGKILL', index);
      counts.workerKills++;
      const pid = stack.workers()[index]?.pid;
      const serving = await secondsUntil(t, () => pollersInclude(stack, queue, [pid]), 120_000);
      const which = opts.workers > 1 ? `worker ${index + 1}` : 'worker';
      const f = record(
        'worker-kill',
        `#${n}: kill -9 of ${which} (pid ${killed ?? '?'}), started again at once; new pid ${pid ?? '?'} ${serving === undefined ? 'not polling after 120 s' : `polling after ${serving} s`}`,
        t,
        { ...(serving !== undefined ? { servingAfterSeconds: serving } : {}), backlogBefore: before },
      );
      drained(f);
    });

  const workerDown = (index: number, downSeconds: number) =>
    exclusive(async () => {
      const t = Date.now();
      const before = await inboxBacklog(store);
      const drained = watchFrom(t, before);
      const killed = stack.workers()[index]?.pid;
      const others = stack.workers().filter((_, i) => i !== index);
      const closedBefore = closedCount();
      const restarted = stack.restartWorker('SIGKILL', index, downSeconds * 1000);
      // While it is down the others must keep polling and shipments keep closing.
      await sleep(Math.max(0, downSeconds * 1000 - 2_000));
      const othersPolling = await pollersInclude(
        stack,
        queue,
        others.map((w) => w.pid),
      ).catch(() => false);
      const closedWhileDown = closedCount() - closedBefore;
      await restarted;
      counts.workerKills++;
      const pid = stack.workers()[index]?.pid;
      const serving = await secondsUntil(t, () => pollersInclude(stack, queue, [pid]), 120_000);
      const f = record(
        'worker-down',
        `kill -9 of worker ${index + 1} of ${opts.workers} (pid ${killed ?? '?'}), down ${downSeconds} s, started again as pid ${pid ?? '?'}; ${serving === undefined ? 'not polling after 120 s' : `polling ${serving} s after the kill`}`,
        t,
        {
          ...(serving !== undefined ? { servingAfterSeconds: serving } : {}),
          backlogBefore: before,
          note: `while it was down the other worker(s) ${othersPolling ? 'kept polling' : 'were NOT seen polling'} and ${closedWhileDown} shipment(s) closed`,
        },
      );
      drained(f);
    });

  const gatewayKill = async (index: number, downSeconds: number) => {
    // Killed while dispatch webhooks flow, so the other gateway is seen taking them (bounded wait).
    const waitFrom = Date.now();
    const { trafficWaitSeconds } = CAMPAIGN.gatewayKill;
    let flowing = webhooksFlowing(dispatch.sender.log, Date.now());
    while (!flowing && secondsSince(waitFrom) < trafficWaitSeconds) {
      await sleep(250);
      flowing = webhooksFlowing(dispatch.sender.log, Date.now());
    }
    const waited = secondsSince(waitFrom);
    await exclusive(async () => {
      const t = Date.now();
      const before = await inboxBacklog(store);
      const drained = watchFrom(t, before);
      const url = stack.gatewayUrls[index] ?? '';
      const killed = stack.gateways()[index]?.pid;
      await stack.restartGateway('SIGKILL', index, downSeconds * 1000);
      counts.gatewayKills++;
      const serving = await secondsUntil(t, async () => (await readiness(url))?.status === 200, 120_000);
      const tDown = new Date(t).toISOString();
      const tUp = new Date().toISOString();
      const inWindow = (a: { at: string }) => a.at >= tDown && a.at <= tUp;
      const toOthers = dispatch.sender.log.filter(
        (a) =>
          a.url.startsWith(url) === false && inWindow(a) && typeof a.status === 'number' && a.status < 300,
      ).length;
      const failedToDead = dispatch.sender.log.filter(
        (a) => a.url.startsWith(url) && inWindow(a) && a.status === 'error',
      ).length;
      const f = record(
        'gateway-kill',
        `kill -9 of gateway ${index + 1} of ${opts.gateways} (pid ${killed ?? '?'}, ${url}), down ${downSeconds} s, started again on the same port and inbox; ${serving === undefined ? 'not ready after 120 s' : `ready ${serving} s after the kill`}`,
        t,
        {
          ...(serving !== undefined ? { servingAfterSeconds: serving } : {}),
          backlogBefore: before,
          note: `${flowing ? `killed under webhook traffic (waited ${waited} s for it)` : `no webhook traffic after ${waited} s of waiting; killed anyway`}; meanwhile the other gateway(s) acknowledged ${toOthers} dispatch webhook deliveries, and ${failedToDead} deliveries to the dead gateway failed and were retried by the sender`,
        },
      );
      drained(f);
    });
  };

  const temporalRestart = (downSeconds: number, malformedBatch: number) =>
    exclusive(async () => {
      const t = Date.now();
      const before = await inboxBacklog(store);
      const drained = watchFrom(t, before);
      const restart = stack.restartTemporal(downSeconds * 1000);
      // A malformed batch arrives while Temporal is down: accepted ones wait in the inbox.
      await sleep(1500);
      await sendMalformed(malformedBatch);
      await restart;
      const up = secondsSince(t);
      const serving = await secondsUntil(
        t,
        async () => {
          await stack.client.workflowService.getSystemInfo({});
          return true;
        },
        120_000,
      );
      const workersBack = await secondsUntil(t, () => pollersInclude(stack, queue, allWorkerPids()), 120_000);
      const what =
        opts.backend === 'postgres' ? 'Temporal server (PostgreSQL) stopped' : 'dev server stopped';
      const f = record(
        'temporal-restart',
        `${what}, down ${downSeconds} s, started again on the same ${opts.backend === 'postgres' ? 'databases' : 'SQLite store'} (started after ${up} s, answering after ${serving ?? '>120'} s; ${opts.workers > 1 ? `all ${opts.workers} workers` : 'worker'} polling again after ${workersBack ?? '>120'} s)`,
        t,
        {
          ...(workersBack !== undefined ? { servingAfterSeconds: workersBack } : {}),
          backlogBefore: before,
        },
      );
      drained(f);
    });

  const postgresRestart = () =>
    exclusive(async () => {
      const t = Date.now();
      const before = await inboxBacklog(store);
      const drained = watchFrom(t, before);
      const command = await restartPostgres();
      counts.postgresRestarts++;
      const restarted = secondsSince(t);
      const pgBack = await secondsUntil(t, () => storeAnswers(store), 120_000);
      const gatewaysBack = await secondsUntil(
        t,
        async () => {
          const all = await Promise.all(stack.gatewayUrls.map((u) => readiness(u)));
          return all.every((r) => r?.status === 200);
        },
        120_000,
      );
      const temporalBack =
        opts.backend === 'postgres'
          ? await secondsUntil(t, () => pollersInclude(stack, queue, allWorkerPids()), 120_000)
          : undefined;
      const parts = [
        `\`${command}\` returned after ${restarted} s`,
        `PostgreSQL answering after ${pgBack ?? '>120'} s`,
        `${opts.gateways > 1 ? 'every gateway' : 'the gateway'} ready (inbox reachable) after ${gatewaysBack ?? '>120'} s`,
        ...(opts.backend === 'postgres'
          ? [`Temporal serving its workers' polls again after ${temporalBack ?? '>120'} s`]
          : []),
      ];
      const servingTimes = [pgBack, gatewaysBack, ...(opts.backend === 'postgres' ? [temporalBack] : [])];
      const serving = servingTimes.some((s) => s === undefined)
        ? undefined
        : Math.max(...servingTimes.map((s) => s ?? 0));
      const f = record('postgres-restart', parts.join('; '), t, {
        ...(serving !== undefined ? { servingAfterSeconds: serving } : {}),
        backlogBefore: before,
      });
      drained(f);
    });

  const runStep = async (step: PlannedFault) => {
    switch (step.kind) {
      case 'malformed-webhooks':
        return sendMalformed(step.batch);
      case 'worker-kill':
        return killWorker(step.n, step.worker);
      case 'worker-down':
        return workerDown(step.worker, step.downSeconds);
      case 'gateway-kill':
        return gatewayKill(step.gateway, step.downSeconds);
      case 'erp-outage':
        erp.faults.update({ outageUntilMs: Date.now() + step.seconds * 1000 });
        record('erp-outage', `every ERP API call answers 503 for ${step.seconds} s`);
        return;
      case 'crm-429-storm':
        crm.faults.update({ rateLimitStormUntilMs: Date.now() + step.seconds * 1000 });
        record('crm-429-storm', `every CRM API call answers 429 with Retry-After for ${step.seconds} s`);
        return;
      case 'temporal-restart':
        return temporalRestart(step.downSeconds, step.malformedBatch);
      case 'postgres-restart':
        return postgresRestart();
    }
  };

  const faultPlanRun = (async () => {
    for (const step of plan) {
      await at(step.at);
      await runStep(step);
    }
    campaignDone = true;
  })();
  let faultPlanError: unknown;
  void faultPlanRun.catch((err: unknown) => {
    faultPlanError = err;
    campaignDone = true;
    say(`fault plan stopped: ${err instanceof Error ? err.message : String(err)}`);
  });

  // The fault plan keeps its times from simulated 04:00 while the day's release pass runs.
  const orders = await releaseDay(
    stack,
    { shipments: opts.shipments, seed: opts.seed, mismatchRate: 0.05 },
    say,
  );
  const day = operatorFor(stack, orders, 'chaos');
  current.operator = day;
  const { ids, results, closedWithoutResult } = day;

  let lastState = '';
  let lastPrinted = 0;
  let lastChange = Date.now();
  // More than a simulated day without any change of phase: nothing more will happen on its own.
  const stallMs = Math.max(120_000, realDuration(clock, 26 * 3600_000));
  // Restarts a worker or gateway that exited by itself; serialised with the fault plan's restarts.
  const watchdog = async () => {
    if (busy) return;
    const processes = [
      ...stack.workers().map((child, i) => ['worker', i, child] as const),
      ...stack.gateways().map((child, i) => ['gateway', i, child] as const),
    ];
    for (const [name, index, child] of processes) {
      if (alive(child)) continue;
      await exclusive(async () => {
        const label = (name === 'worker' ? opts.workers : opts.gateways) > 1 ? `${name} ${index + 1}` : name;
        record(
          name === 'worker' ? 'worker-exit' : 'gateway-exit',
          `the ${label} exited by itself (${child.signalCode ?? `code ${child.exitCode}`}); started again`,
        );
        if (name === 'worker') {
          counts.workerSelfExits++;
          await stack.restartWorker('SIGKILL', index);
        } else {
          counts.gatewaySelfExits++;
          await stack.restartGateway('SIGKILL', index);
        }
      });
    }
  };
  // The watchdog runs on its own clock too: a pass over 1,000 shipments can take minutes under load, and a
  // process that died meanwhile (a gateway the CRM's agents call, say) must not wait for it to end.
  let watching: Promise<void> = Promise.resolve();
  const watchTimer = setInterval(() => {
    watching = watching.then(watchdog).catch(() => undefined);
  }, 3000);
  try {
    await playDay(day, {
      deadlineMs: stack.clock.anchorRealMs + opts.timeoutSeconds * 1000,
      everyMs: 1500,
      done: () => day.allClosed && campaignDone,
      onError: (err) => {
        if (!/UNAVAILABLE|connect|deadline|ECONN/i.test(String(err)))
          say(`progress: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      },
      afterPass: async (phases) => {
        const state = progressLine(clock, day, phases);
        const stateWithoutTime = state.replace(/^sim \S+ \S+ {2}/, '');
        if (stateWithoutTime !== lastState) lastChange = Date.now();
        if (stateWithoutTime !== lastState || Date.now() - lastPrinted > 15_000) {
          say(`+${ctx.offset()} s  ${state}`);
          lastPrinted = Date.now();
        }
        lastState = stateWithoutTime;
        if (campaignDone && Date.now() - lastChange > stallMs) {
          // A reattempt on the customer's next service day can lie days ahead (a weekend, two service days
          // a week): those shipments are waiting, not stuck, and the wait goes on (within --timeout).
          const ahead = await withDayAhead(stack, simAt(clock, Date.now())).catch(() => 0);
          if (ahead > 0) {
            say(`+${ctx.offset()} s  ${ahead} open shipment(s) wait for a later delivery day; waiting on`);
            lastChange = Date.now();
            return;
          }
          say(
            `no shipment changed phase for ${Math.round(stallMs / 1000)} s (over a simulated day); stopping the wait`,
          );
          return true;
        }
      },
    });
  } finally {
    clearInterval(watchTimer);
  }
  await watching;
  if (faultPlanError === undefined && !campaignDone)
    say('the deadline passed before the fault plan finished');

  say('gathering: draining webhooks and the inbox, reading ERP, dispatch, CRM and the dead letters');
  await Promise.race([
    Promise.all([dispatch.sender.drain(), erp.drainReleasePushes(), crm.drain()]),
    sleep(60_000),
  ]);
  await waitForInbox(api, 60_000);
  await Promise.all(recoveries);
  const observations = await observe(stack, { ids, orders, results, closedWithoutResult, malformed, api });
  const events = await accountStack(stack, store);
  // A customer's reschedule that never got an answer from the gateway API is lost the same way.
  for (const r of crm.reschedules.filter((x) => !x.response)) {
    events.abandoned++;
    if (events.examples.length < 20)
      events.examples.push({
        source: 'crm',
        seq: r.n,
        url: `reschedule API, ${r.shipmentId}`,
        why: `customer reschedule never answered after ${r.attempts} attempts (${r.error ?? 'no answer'})`,
      });
  }
  observations.events = events;
  const invariants = checkInvariants(observations);
  const metricsTexts = await Promise.all(
    stack.gatewayUrls.map(async (u) =>
      String(
        (
          await axios
            .get<string>(`${u}/metrics`, { responseType: 'text', timeout: 10_000 })
            .catch(() => ({ data: '' }))
        ).data,
      ),
    ),
  );
  const metric = (labels: Record<string, string>) =>
    metricsTexts.reduce((n, text) => n + metricSum(text, 'shipsync_gateway_events_total', labels), 0);
  const outcomes: Record<string, number> = {};
  for (const r of results.values()) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
  const summary: ChaosSummary = {
    ok: invariants.every((i) => i.pass),
    date: new Date().toISOString(),
    commit: ctx.commit,
    options: {
      shipments: opts.shipments,
      seed: opts.seed,
      scale: opts.scale,
      backend: opts.backend,
      gateways: opts.gateways,
      workers: opts.workers,
    },
    realSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
    simulated: {
      from: new Date(clock.anchorSimMs).toISOString(),
      to: new Date(simAt(clock, Date.now())).toISOString(),
    },
    dispatchWebhookFaults: DISPATCH_WEBHOOK_FAULTS,
    faults: [...ctx.faults].sort((a, b) => a.offsetSeconds - b.offsetSeconds),
    counts: {
      shipments: ids.length,
      closed: results.size,
      outcomes,
      ...counts,
      ...day.counts,
      temporalRestarts: ctx.faults.filter((f) => f.kind === 'temporal-restart').length,
      dispatchWebhookDeliveries: dispatch.sender.log.length,
      gatewayDispatchAccepted: metric({ source: 'dispatch', outcome: 'accepted' }),
      gatewayDispatchDuplicates: metric({ source: 'dispatch', outcome: 'duplicate' }),
      gatewayDispatchTelemetry: metric({ source: 'dispatch', outcome: 'telemetry' }),
      gatewayDispatchRejected: metric({ source: 'dispatch', outcome: 'rejected' }),
      erpMilestones: [...observations.erpMilestones.values()].reduce((n, c) => n + c.length, 0),
      erpBillingDocuments: observations.billing.length,
      crmCases: [...observations.crmCaseKinds.values()].reduce((n, c) => n + c.length, 0),
      crmNotices: observations.reconciliation.notices,
      customerReschedules: crm.reschedules.length,
      customerReschedulesUnanswered: crm.reschedules.filter((r) => !r.response).length,
      dispatchTasks: observations.reconciliation.dispatchTasks,
      malformedSent: malformed.length,
      malformedForDeadLetters: malformed.filter((m) => MALFORMED_EXPECTATION[m.kind].deadLetter).length,
      deadLetters: observations.deadLetters.length,
    },
    events,
    malformed,
    invariants: invariants.map(({ name, pass, detail }) => ({ name, pass, detail })),
    stuck: Object.fromEntries(observations.stuck ?? []),
    mismatches: observations.reconciliation.mismatches.slice(0, 100),
  };
  if (!usesPostgres(opts)) delete summary.counts.postgresRestarts;
  if (!summary.ok) await keepHistories(stack, invariants, ctx.say);
  if (opts.json) console.log(JSON.stringify(summary, null, 2));
  else printSummary(summary);
  return summary.ok ? 0 : 1;
}

/**
 * Writes the workflow histories (every run) of the shipments a failed invariant names to
 * `<data dir>/histories/`, before the stack and its databases go, so the failure can be read afterwards.
 */
async function keepHistories(stack: FullStack, invariants: InvariantResult[], say: (line: string) => void) {
  const named = new Set<string>();
  for (const i of invariants.filter((x) => !x.pass))
    for (const p of i.problems) for (const m of p.matchAll(/shipment-[A-Za-z0-9-]+/g)) named.add(m[0]);
  const ids = [...named].slice(0, 20);
  if (ids.length === 0) return;
  const dir = resolve(loadConfig().SHIPSYNC_DATA_DIR, 'chaos-histories');
  mkdirSync(dir, { recursive: true });
  for (const id of ids) {
    try {
      const runs = [];
      for await (const wf of stack.client.workflow.list({ query: `WorkflowId = '${id}'` }))
        runs.push({ runId: wf.runId, startTime: wf.startTime, status: wf.status.name });
      runs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
      const histories = [];
      for (const r of runs)
        histories.push({ ...r, history: await stack.client.workflow.getHandle(id, r.runId).fetchHistory() });
      writeFileSync(join(dir, `${id}.json`), JSON.stringify(histories, null, 1));
    } catch (err) {
      say(`could not keep the history of ${id}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  say(`histories of ${ids.length} shipment(s) named by a failed invariant kept in ${dir}`);
}

/** Reads every inbox row's fate and accounts for the webhooks the dispatch and ERP sandboxes sent. */
async function accountStack(stack: FullStack, store: Store): Promise<EventAccounting> {
  const rows = await store.db.kysely
    .selectFrom('inbox')
    .select(['event_id', 'status', 'outcome', 'attempts'])
    .execute();
  const inbox = new Map<string, InboxFate>(
    rows.map((r) => [r.event_id, { status: r.status, outcome: r.outcome, attempts: Number(r.attempts) }]),
  );
  return accountEvents(
    [
      { source: 'dispatch', log: stack.dispatch.sender.log, abandoned: stack.dispatch.sender.abandoned },
      ...(stack.erp.releasePushes
        ? [{ source: 'erp', log: stack.erp.releasePushes.log, abandoned: stack.erp.releasePushes.abandoned }]
        : []),
    ],
    inbox,
  );
}
