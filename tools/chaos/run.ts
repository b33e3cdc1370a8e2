import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { realDuration, simAt } from '../../src/domain/clock.js';
import { loadConfig, secret } from '../../src/platform/config.js';
import { operatorFor, playDay, progressLine, releaseDay } from '../day/play.js';
import { startFullStack, type FullStack } from '../stack.js';
import type { ChaosOptions } from './args.js';
import { checkInvariants } from './invariants.js';
import { buildMalformedWebhooks, MALFORMED_EXPECTATION, type SentMalformed } from './malformed.js';
import { observe, waitForInbox, waitForPoller } from './observe.js';
import { CAMPAIGN, DISPATCH_WEBHOOK_FAULTS, type FaultRecord } from './plan.js';
import { commitOf, metricSum, printSummary, type ChaosSummary } from './report.js';

/** Runs the whole campaign; returns the exit code (0 only when every invariant holds). */
export async function runChaos(opts: ChaosOptions): Promise<number> {
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const startedAt = Date.now();
  const config = loadConfig();
  const stack = await startFullStack({
    dataDir: resolve(config.SHIPSYNC_DATA_DIR, 'chaos'),
    scale: opts.scale,
    seed: opts.seed,
    say,
    simulator: { enabled: true, failureRate: 0.1, delayRate: 0.1, damageRate: 0.03 },
    rescheduleRate: 0.1,
    faults: { dispatch: { ...DISPATCH_WEBHOOK_FAULTS } },
  });
  const faults: FaultRecord[] = [];
  const offset = (t = Date.now()) => Math.round((t - stack.clock.anchorRealMs) / 100) / 10;
  const record = (kind: FaultRecord['kind'], detail: string, t = Date.now()) => {
    faults.push({ kind, at: new Date(t).toISOString(), offsetSeconds: offset(t), detail });
    say(`fault +${offset(t)} s: ${kind} ${detail}`);
  };
  record(
    'dispatch-webhook-faults',
    `whole run: ${DISPATCH_WEBHOOK_FAULTS.webhookDuplicateRate * 100}% of webhooks sent ×${DISPATCH_WEBHOOK_FAULTS.webhookDuplicateCopies}, ${DISPATCH_WEBHOOK_FAULTS.webhookReorderRate * 100}% held back behind a later one`,
  );
  try {
    return await campaign(stack, opts, { say, record, offset, startedAt, faults });
  } finally {
    await stack.stop();
  }
}

interface CampaignCtx {
  say: (line: string) => void;
  record: (kind: FaultRecord['kind'], detail: string, t?: number) => void;
  offset: (t?: number) => number;
  startedAt: number;
  faults: FaultRecord[];
}

async function campaign(stack: FullStack, opts: ChaosOptions, ctx: CampaignCtx): Promise<number> {
  const { clock, erp, dispatch, crm } = stack;
  const { say, record } = ctx;
  const config = loadConfig();
  const orders = await releaseDay(
    stack,
    { shipments: opts.shipments, seed: opts.seed, mismatchRate: 0.05 },
    say,
  );
  const operator = operatorFor(stack, orders, 'chaos');
  const { ids, results, closedWithoutResult } = operator;
  const api = operator.api;
  const malformed: SentMalformed[] = [];
  const counts = {
    workerKills: 0,
    workerSelfExits: 0,
    gatewaySelfExits: 0,
  };

  // Worker and gateway restarts are serialised with the watchdog so two never overlap.
  let busy = false;
  let campaignDone = false;
  const at = (seconds: number) => sleep(Math.max(0, clock.anchorRealMs + seconds * 1000 - Date.now()));
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
  const killWorker = async (n: number) => {
    while (busy) await sleep(100);
    busy = true;
    try {
      const t = Date.now();
      const killed = stack.worker().pid;
      await stack.restartWorker('SIGKILL');
      counts.workerKills++;
      const back = await waitForPoller(stack, stack.worker().pid, 120_000);
      record(
        'worker-kill',
        `#${n}: kill -9 pid ${killed ?? '?'}; new worker pid ${stack.worker().pid ?? '?'} ${back === undefined ? 'not polling after 120 s' : `polling after ${back} s`}`,
        t,
      );
    } finally {
      busy = false;
    }
  };

  const faultPlan = (async () => {
    await at(CAMPAIGN.malformedBatchAt);
    await sendMalformed(1);
    await at(CAMPAIGN.workerKillsAt[0]);
    await killWorker(1);
    await at(CAMPAIGN.erpOutage.at);
    erp.faults.update({ outageUntilMs: Date.now() + CAMPAIGN.erpOutage.seconds * 1000 });
    record('erp-outage', `every ERP API call answers 503 for ${CAMPAIGN.erpOutage.seconds} s`);
    await at(CAMPAIGN.workerKillsAt[1]);
    await killWorker(2);
    await at(CAMPAIGN.workerKillsAt[2]);
    await killWorker(3);
    await at(CAMPAIGN.temporalRestart.at);
    while (busy) await sleep(100);
    busy = true;
    try {
      const t = Date.now();
      const restart = stack.restartTemporal(CAMPAIGN.temporalRestart.downSeconds * 1000);
      // The second batch arrives while Temporal is down: accepted ones wait in the inbox.
      await sleep(1500);
      await sendMalformed(2);
      await restart;
      const up = Math.round((Date.now() - t) / 100) / 10;
      const back = await waitForPoller(stack, stack.worker().pid, 120_000);
      record(
        'temporal-restart',
        `dev server stopped, down ${CAMPAIGN.temporalRestart.downSeconds} s, started again on the same SQLite store (serving after ${up} s; worker polling again after ${back ?? '>120'} s)`,
        t,
      );
    } finally {
      busy = false;
    }
    await at(CAMPAIGN.workerKillsAt[3]);
    await killWorker(4);
    await at(CAMPAIGN.crmStorm.at);
    crm.faults.update({ rateLimitStormUntilMs: Date.now() + CAMPAIGN.crmStorm.seconds * 1000 });
    record(
      'crm-429-storm',
      `every CRM API call answers 429 with Retry-After for ${CAMPAIGN.crmStorm.seconds} s`,
    );
    await at(CAMPAIGN.workerKillsAt[4]);
    await killWorker(5);
    campaignDone = true;
  })();
  let faultPlanError: unknown;
  void faultPlan.catch((err: unknown) => {
    faultPlanError = err;
    campaignDone = true;
    say(`fault plan stopped: ${err instanceof Error ? err.message : String(err)}`);
  });

  let lastState = '';
  let lastPrinted = 0;
  let lastChange = Date.now();
  // More than a simulated day without any change of phase: nothing more will happen on its own.
  const stallMs = Math.max(120_000, realDuration(clock, 26 * 3600_000));
  // Restarts a worker or gateway that exited by itself; serialised with the fault plan's restarts.
  const watchdog = async () => {
    if (busy) return;
    for (const [name, child, restart] of [
      ['worker', stack.worker(), () => stack.restartWorker('SIGKILL')],
      ['gateway', stack.gateway(), () => stack.restartGateway('SIGKILL')],
    ] as const) {
      if (child.exitCode === null && child.signalCode === null) continue;
      busy = true;
      try {
        record(
          name === 'worker' ? 'worker-exit' : 'gateway-exit',
          `the ${name} exited by itself (code ${child.exitCode ?? child.signalCode}); started again`,
        );
        if (name === 'worker') counts.workerSelfExits++;
        else counts.gatewaySelfExits++;
        await restart();
      } finally {
        busy = false;
      }
    }
  };
  await playDay(operator, {
    deadlineMs: stack.clock.anchorRealMs + opts.timeoutSeconds * 1000,
    everyMs: 1500,
    done: () => operator.allClosed && campaignDone,
    beforePass: watchdog,
    onError: (err) => {
      if (!/UNAVAILABLE|connect|deadline|ECONN/i.test(String(err)))
        say(`progress: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    },
    afterPass: (phases) => {
      const state = progressLine(clock, operator, phases);
      const stateWithoutTime = state.replace(/^sim \S+ \S+ {2}/, '');
      if (stateWithoutTime !== lastState) lastChange = Date.now();
      if (stateWithoutTime !== lastState || Date.now() - lastPrinted > 15_000) {
        say(`+${ctx.offset()} s  ${state}`);
        lastPrinted = Date.now();
      }
      lastState = stateWithoutTime;
      if (campaignDone && Date.now() - lastChange > stallMs) {
        say(
          `no shipment changed phase for ${Math.round(stallMs / 1000)} s (over a simulated day); stopping the wait`,
        );
        return true;
      }
    },
  });
  if (faultPlanError === undefined && !campaignDone)
    say('the deadline passed before the fault plan finished');

  say('gathering: draining webhooks and the inbox, reading ERP, dispatch, CRM and the dead letters');
  await Promise.race([Promise.all([dispatch.sender.drain(), crm.drain()]), sleep(30_000)]);
  await waitForInbox(api, 60_000);
  const observations = await observe(stack, { ids, orders, results, closedWithoutResult, malformed, api });
  const invariants = checkInvariants(observations);
  const metrics = String(
    (await api.get<string>('/metrics', { responseType: 'text' }).catch(() => ({ data: '' }))).data,
  );
  const outcomes: Record<string, number> = {};
  for (const r of results.values()) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
  const summary: ChaosSummary = {
    ok: invariants.every((i) => i.pass),
    date: new Date().toISOString(),
    commit: commitOf(),
    options: { shipments: opts.shipments, seed: opts.seed, scale: opts.scale },
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
      ...operator.counts,
      temporalRestarts: ctx.faults.filter((f) => f.kind === 'temporal-restart').length,
      dispatchWebhookDeliveries: dispatch.sender.log.length,
      gatewayDispatchAccepted: metricSum(metrics, 'shipsync_gateway_events_total', {
        source: 'dispatch',
        outcome: 'accepted',
      }),
      gatewayDispatchDuplicates: metricSum(metrics, 'shipsync_gateway_events_total', {
        source: 'dispatch',
        outcome: 'duplicate',
      }),
      gatewayDispatchTelemetry: metricSum(metrics, 'shipsync_gateway_events_total', {
        source: 'dispatch',
        outcome: 'telemetry',
      }),
      gatewayDispatchRejected: metricSum(metrics, 'shipsync_gateway_events_total', {
        source: 'dispatch',
        outcome: 'rejected',
      }),
      erpMilestones: [...observations.erpMilestones.values()].reduce((n, c) => n + c.length, 0),
      erpBillingDocuments: observations.billing.length,
      crmCases: [...observations.crmCaseKinds.values()].reduce((n, c) => n + c.length, 0),
      crmNotices: observations.reconciliation.notices,
      customerReschedules: crm.reschedules.length,
      dispatchTasks: observations.reconciliation.dispatchTasks,
      malformedSent: malformed.length,
      malformedForDeadLetters: malformed.filter((m) => MALFORMED_EXPECTATION[m.kind].deadLetter).length,
      deadLetters: observations.deadLetters.length,
    },
    malformed,
    invariants: invariants.map(({ name, pass, detail }) => ({ name, pass, detail })),
    stuck: Object.fromEntries(observations.stuck ?? []),
    mismatches: observations.reconciliation.mismatches.slice(0, 100),
  };
  if (opts.json) console.log(JSON.stringify(summary, null, 2));
  else printSummary(summary);
  return summary.ok ? 0 : 1;
}
