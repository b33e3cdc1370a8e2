import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import axios, { type AxiosInstance } from 'axios';
import { Command, CommanderError } from 'commander';
import { realDuration, simAt } from '../../src/domain/clock.js';
import type { Order } from '../../src/domain/model.js';
import { onfleetEventId } from '../../src/integrations/dispatch/mappers.js';
import { signOnfleetWebhook } from '../../src/integrations/dispatch/signature.js';
import { loadConfig } from '../../src/platform/config.js';
import { WEBHOOK_TRIGGERS } from '../../sandbox/dispatch/onfleet.js';
import {
  shipmentWorkflowId,
  statusQuery,
  taskQueues,
  type ShipmentResult,
} from '../../src/workflows/shipment/contract.js';
import { milestoneSequenceProblem, reconcile, type Reconciliation } from '../reconcile.js';
import { releaseNow, upsertReleaseSchedule } from '../../src/platform/release.js';
import { startFullStack, type FullStack } from '../stack.js';

/**
 * `npm run chaos -- [--shipments N] [--seed S] [--scale X] [--json]`
 * Plays the demo scenario under a fault campaign (worker SIGKILLs, a Temporal restart, an ERP outage, a
 * CRM 429 storm, duplicated and reordered dispatch webhooks, malformed webhooks) and then checks that
 * nothing was lost or duplicated. Exit 0 only when every invariant holds; 2 on bad input.
 */

/** Exit code for bad input: one line, no stack trace. */
const EXIT_BAD_INPUT = 2;

/** Bad command-line input. */
class BadInput extends Error {}

/** Options of one campaign. */
export interface ChaosOptions {
  shipments: number;
  seed: number;
  scale: number;
  json: boolean;
  /** Real seconds after simulated 04:00 to wait for every shipment to close. */
  timeoutSeconds: number;
}

/** One fault as it was injected. */
export interface FaultRecord {
  kind:
    | 'worker-kill'
    | 'worker-exit'
    | 'gateway-exit'
    | 'temporal-restart'
    | 'erp-outage'
    | 'crm-429-storm'
    | 'dispatch-webhook-faults'
    | 'malformed-webhooks';
  at: string;
  /** Real seconds after simulated 04:00 on the planning day (negative: before it). */
  offsetSeconds: number;
  detail: string;
}

/** Faults on the dispatch sandbox's webhooks for the whole run. */
export const DISPATCH_WEBHOOK_FAULTS = {
  webhookDuplicateRate: 0.3,
  webhookDuplicateCopies: 3,
  webhookReorderRate: 0.2,
} as const;

/** The timed part of the campaign, in real seconds after simulated 04:00 (the ERP and CRM windows last `seconds`). */
export const CAMPAIGN = {
  malformedBatchAt: 5,
  workerKillsAt: [20, 38, 56, 92, 110],
  erpOutage: { at: 30, seconds: 60 },
  temporalRestart: { at: 70, downSeconds: 5 },
  crmStorm: { at: 100, seconds: 20 },
} as const;

// --- malformed webhooks ----------------------------------------------------------------------------

/** How a malformed webhook is wrong, and so what the gateway must do with it. */
export type MalformedKind =
  'unknown-shipment' | 'schema-drift' | 'invalid-json' | 'bad-signature' | 'unsigned';

/** What the gateway must do with each kind: answer this status class and keep (or not) a dead letter. */
export const MALFORMED_EXPECTATION: Record<MalformedKind, { status: 200 | 400 | 401; deadLetter: boolean }> =
  {
    // Signed and readable: accepted into the inbox, then undeliverable (no such workflow), so dead-lettered.
    'unknown-shipment': { status: 200, deadLetter: true },
    // Signed but unreadable: refused with 400 and kept for inspection.
    'schema-drift': { status: 400, deadLetter: true },
    'invalid-json': { status: 400, deadLetter: true },
    // Not authenticated: refused with 401 and not kept.
    'bad-signature': { status: 401, deadLetter: false },
    unsigned: { status: 401, deadLetter: false },
  };

/** One malformed webhook to send: the exact body, its headers and how to find it among the dead letters. */
export interface MalformedWebhook {
  kind: MalformedKind;
  /** Unique text inside the body (and the Onfleet task id), fixed length so no marker contains another. */
  marker: string;
  body: string;
  headers: Record<string, string>;
  /** The canonical event id the gateway derives, for bodies it can read. */
  eventId?: string;
}

/** A malformed webhook after it was sent. */
export interface SentMalformed {
  kind: MalformedKind;
  marker: string;
  eventId?: string;
  status: number | 'error';
  code?: string;
  sentAt: string;
}

/** The shipment id of an unknown-shipment webhook: a well-formed id no ERP delivery has. */
export function unknownShipmentId(seed: number, n: number): string {
  return shipmentWorkflowId(`CHAOS-${Math.abs(seed) % 10_000}-${String(n).padStart(2, '0')}`);
}

/** A signed-looking Onfleet payload for a task of a shipment, as the dispatch sandbox sends them. */
function onfleetPayload(
  trigger: 'taskArrival' | 'taskCompleted',
  taskId: string,
  shipmentId: string,
  time: number,
) {
  const location: [number, number] = [-87.6298, 41.8781];
  return {
    actionContext: { type: 'WORKER', id: 'chaosWorker0000000000000' },
    adminId: null,
    data: {
      task: {
        id: taskId,
        worker: 'chaosWorker0000000000000',
        completeAfter: time - 3_600_000,
        completeBefore: time + 3_600_000,
        destination: { location },
        metadata: [
          { name: 'shipmentId', type: 'string', value: shipmentId, visibility: ['api'] },
          { name: 'attempt', type: 'number', value: 1, visibility: ['api'] },
        ],
        ...(trigger === 'taskCompleted'
          ? {
              completionDetails: {
                success: true,
                time,
                lastLocation: location,
                signatureUploadId: `sig${taskId}`,
                photoUploadIds: [`pho${taskId}`],
                notes: '',
              },
            }
          : {}),
      },
    },
    taskId,
    time,
    triggerId: WEBHOOK_TRIGGERS[trigger],
    triggerName: trigger,
    workerId: 'chaosWorker0000000000000',
  };
}

/**
 * The malformed webhooks of one batch: per batch two signed events for unknown shipments, two signed
 * bodies with schema drift, one signed body that is not JSON, one body under a wrong signature and one
 * without a signature. `first` numbers the markers so batches never share one.
 */
export function buildMalformedWebhooks(opts: {
  secret: string;
  seed: number;
  first: number;
  timeMs: number;
}): MalformedWebhook[] {
  const out: MalformedWebhook[] = [];
  let n = opts.first;
  const next = () =>
    `chaosmark${String(Math.abs(opts.seed) % 10_000).padStart(4, '0')}x${String(n++).padStart(3, '0')}`;
  const signed = (body: string) => ({
    'content-type': 'application/json',
    'x-onfleet-signature': signOnfleetWebhook(opts.secret, body),
    'user-agent': 'Onfleet-Sandbox/2',
  });
  for (const trigger of ['taskArrival', 'taskCompleted'] as const) {
    const marker = next();
    const time = opts.timeMs + out.length;
    const body = JSON.stringify(onfleetPayload(trigger, marker, unknownShipmentId(opts.seed, n), time));
    out.push({
      kind: 'unknown-shipment',
      marker,
      body,
      headers: signed(body),
      eventId: onfleetEventId(trigger, marker, time),
    });
  }
  {
    // A vendor that starts sending the event time as an ISO string instead of epoch milliseconds.
    const marker = next();
    const p = onfleetPayload('taskArrival', marker, unknownShipmentId(opts.seed, n), opts.timeMs);
    const body = JSON.stringify({ ...p, time: new Date(opts.timeMs).toISOString() });
    out.push({ kind: 'schema-drift', marker, body, headers: signed(body) });
  }
  {
    // A task whose metadata lost the attempt number shipsync put there.
    const marker = next();
    const p = onfleetPayload('taskCompleted', marker, unknownShipmentId(opts.seed, n), opts.timeMs);
    const task = { ...p.data.task, metadata: p.data.task.metadata.filter((m) => m.name !== 'attempt') };
    const body = JSON.stringify({ ...p, data: { task } });
    out.push({ kind: 'schema-drift', marker, body, headers: signed(body) });
  }
  {
    const marker = next();
    const body = `{"triggerName":"taskArrival","taskId":"${marker}","time":${opts.timeMs},"data":{"task":`;
    out.push({ kind: 'invalid-json', marker, body, headers: signed(body) });
  }
  {
    const marker = next();
    const body = JSON.stringify(
      onfleetPayload('taskCompleted', marker, unknownShipmentId(opts.seed, n), opts.timeMs),
    );
    out.push({
      kind: 'bad-signature',
      marker,
      body,
      headers: { ...signed(body), 'x-onfleet-signature': signOnfleetWebhook(`${opts.secret}-forged`, body) },
    });
  }
  {
    const marker = next();
    const body = JSON.stringify(
      onfleetPayload('taskArrival', marker, unknownShipmentId(opts.seed, n), opts.timeMs),
    );
    out.push({ kind: 'unsigned', marker, body, headers: { 'content-type': 'application/json' } });
  }
  return out;
}

// --- invariants ------------------------------------------------------------------------------------

/** A dead letter as the admin API shows it, with its payload. */
export interface DeadLetterRecord {
  id: number;
  stage: string;
  eventId: string | null;
  shipmentId: string | null;
  code: string;
  reason: string;
  payload: string;
}

/** Everything the invariants look at, gathered once at the end of the run. */
export interface ChaosObservations {
  /** Every seeded shipment's workflow id. */
  shipmentIds: string[];
  /** Results of the workflows that completed. */
  results: Map<string, ShipmentResult>;
  /** Workflows that closed without a result (failed, terminated, timed out), by id: their status. */
  closedWithoutResult: Map<string, string>;
  /** ERP milestone codes (`CODE#attempt`) per workflow id, in posting order. */
  erpMilestones: Map<string, string[]>;
  /** ERP billing document requests. */
  billing: { billingDocumentRequest: string; deliveryId: string }[];
  /** Case kinds the CRM holds per workflow id. */
  crmCaseKinds: Map<string, (string | null)[]>;
  reconciliation: Reconciliation;
  deadLetters: DeadLetterRecord[];
  malformed: SentMalformed[];
  /** Why each shipment that did not close is stuck, as far as its status and its dispatch tasks tell. */
  stuck?: Map<string, string>;
}

/** One checked invariant. */
export interface InvariantResult {
  name: string;
  pass: boolean;
  detail: string;
  problems: string[];
}

/** At most `n` problems, then how many more there were. */
function firstOf(problems: string[], n = 10): string {
  return problems.length <= n
    ? problems.join('; ')
    : `${problems.slice(0, n).join('; ')}; and ${problems.length - n} more`;
}

function invariant(name: string, problems: string[], okDetail: string): InvariantResult {
  return {
    name,
    pass: problems.length === 0,
    detail: problems.length === 0 ? okDetail : firstOf(problems),
    problems,
  };
}

/** The delivery id of a workflow id. */
function deliveryOf(workflowId: string): string {
  return workflowId.replace(/^shipment-/, '');
}

/** What is wrong with the milestones of a shipment that has not closed: a repeat, two outcomes, or a posting after BILLED. */
export function prefixProblem(codes: string[]): string | undefined {
  if (codes.slice(0, -1).some((c) => c.startsWith('BILLED'))) return 'has milestones after BILLED';
  const terminal = codes.filter((c) => c.startsWith('DELIVERED') || c.startsWith('RETURNED'));
  if (terminal.length > 1) return `has ${terminal.length} DELIVERED/RETURNED milestones`;
  const seen = new Set<string>();
  for (const c of codes) {
    if (!c.startsWith('PLANNED') && seen.has(c)) return `repeats ${c}`;
    seen.add(c);
  }
  return undefined;
}

/** Which sent malformed webhooks the dead-letter store holds, which it lacks, and which letters nobody sent. */
export function matchDeadLetters(sent: SentMalformed[], letters: DeadLetterRecord[]) {
  const matches = (m: SentMalformed, l: DeadLetterRecord) =>
    (m.eventId !== undefined && l.eventId === m.eventId) || l.payload.includes(m.marker);
  const expected = sent.filter((m) => MALFORMED_EXPECTATION[m.kind].deadLetter);
  const rejected = sent.filter((m) => !MALFORMED_EXPECTATION[m.kind].deadLetter);
  const missing = expected.filter((m) => !letters.some((l) => matches(m, l)));
  const twice = expected.filter((m) => letters.filter((l) => matches(m, l)).length > 1);
  const keptRejected = rejected.filter((m) => letters.some((l) => matches(m, l)));
  const unexpected = letters.filter((l) => !expected.some((m) => matches(m, l)));
  const wrongStatus = sent.filter((m) => {
    const want = MALFORMED_EXPECTATION[m.kind].status;
    if (m.status === 'error') return true;
    return want === 200 ? m.status < 200 || m.status >= 300 : m.status !== want;
  });
  return { expected, rejected, missing, twice, keptRejected, unexpected, wrongStatus };
}

/**
 * The campaign's six invariants: every shipment terminal; one ERP billing document per billed shipment;
 * a valid ERP milestone sequence per shipment; a CRM case for every failed attempt; reconciliation clean;
 * the dead-letter store holding exactly the malformed webhooks meant for it.
 */
export function checkInvariants(o: ChaosObservations): InvariantResult[] {
  const out: InvariantResult[] = [];

  const notTerminal = o.shipmentIds
    .filter((id) => !o.results.has(id))
    .map((id) => {
      const closed = o.closedWithoutResult.get(id);
      if (closed) return `${id} closed ${closed} without a result`;
      const why = o.stuck?.get(id);
      return `${id} still open${why ? ` (${why})` : ''}`;
    });
  const outcomes: Record<string, number> = {};
  for (const r of o.results.values()) outcomes[r.outcome] = (outcomes[r.outcome] ?? 0) + 1;
  out.push(
    invariant(
      'every shipment terminal',
      notTerminal,
      `${o.results.size}/${o.shipmentIds.length} workflows completed with a result (${Object.entries(outcomes)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')})`,
    ),
  );

  const billingProblems: string[] = [];
  const docsByDelivery = new Map<string, string[]>();
  for (const b of o.billing)
    docsByDelivery.set(b.deliveryId, [...(docsByDelivery.get(b.deliveryId) ?? []), b.billingDocumentRequest]);
  const known = new Set(o.shipmentIds.map(deliveryOf));
  let billed = 0;
  for (const id of o.shipmentIds) {
    const result = o.results.get(id);
    const docs = docsByDelivery.get(deliveryOf(id)) ?? [];
    if (result?.billingDocumentId) {
      billed++;
      if (docs.length !== 1) billingProblems.push(`${id}: ${docs.length} ERP billing documents`);
      else if (docs[0] !== result.billingDocumentId)
        billingProblems.push(
          `${id}: ERP holds ${docs[0]} but the workflow reported ${result.billingDocumentId}`,
        );
    } else if (docs.length > 0)
      billingProblems.push(`${id}: ${docs.length} ERP billing document(s) but the workflow reported none`);
  }
  for (const [delivery, docs] of docsByDelivery)
    if (!known.has(delivery))
      billingProblems.push(`delivery ${delivery}: ${docs.length} billing document(s) for no seeded shipment`);
  if (o.reconciliation.duplicateErpEffects > 0)
    billingProblems.push(`${o.reconciliation.duplicateErpEffects} ERP effect(s) applied more than once`);
  out.push(
    invariant(
      'ERP billing postings = billed shipments, none twice',
      billingProblems,
      `${o.billing.length} billing documents for ${billed} billed shipments; 0 ERP effects applied twice`,
    ),
  );

  const sequenceProblems: string[] = [];
  let milestones = 0;
  for (const id of o.shipmentIds) {
    const codes = o.erpMilestones.get(id) ?? [];
    milestones += codes.length;
    // An open shipment is checked as a valid beginning; that it never closed is the first invariant's finding.
    const problem = o.results.has(id) ? milestoneSequenceProblem(codes) : prefixProblem(codes);
    if (problem) sequenceProblems.push(`${id}: ${problem} (${codes.join(' ')})`);
  }
  const open = o.shipmentIds.length - o.results.size;
  out.push(
    invariant(
      'ERP milestone sequence valid per shipment',
      sequenceProblems,
      `${milestones} ERP milestones over ${o.shipmentIds.length} shipments, every sequence valid${open > 0 ? ` (${open} open shipment(s) checked as a beginning only)` : ''}`,
    ),
  );

  const caseProblems: string[] = [];
  let failures = 0;
  for (const id of o.shipmentIds) {
    const failed = (o.erpMilestones.get(id) ?? []).filter((c) => c.startsWith('FAILED_ATTEMPT')).length;
    failures += failed;
    const cases = (o.crmCaseKinds.get(id) ?? []).filter(
      (k) => k === 'failed_attempt' || k === 'damage',
    ).length;
    if (cases < failed) caseProblems.push(`${id}: ${failed} failed attempt(s) but ${cases} failure case(s)`);
  }
  out.push(
    invariant(
      'every failed attempt has a CRM case',
      caseProblems,
      `${failures} failed attempts, each with a CRM case`,
    ),
  );

  const recon = invariant(
    'reconciliation clean',
    o.reconciliation.mismatches,
    `${o.reconciliation.checked} shipments reconciled across ERP, dispatch and CRM: 0 mismatches, 0 duplicate effects`,
  );
  const notClosed = o.reconciliation.mismatches.filter((m) => m.endsWith(': not closed'));
  if (notClosed.length > 0) {
    const others = o.reconciliation.mismatches.filter((m) => !m.endsWith(': not closed'));
    recon.detail = `${o.reconciliation.mismatches.length} mismatch(es): ${notClosed.length} not closed (see the first invariant), ${others.length} other${others.length > 0 ? `: ${firstOf(others)}` : ''}`;
  }
  out.push(recon);

  const dl = matchDeadLetters(o.malformed, o.deadLetters);
  const dlProblems = [
    ...dl.missing.map((m) => `${m.kind} ${m.marker} missing from the dead letters`),
    ...dl.twice.map((m) => `${m.kind} ${m.marker} held more than once`),
    ...dl.keptRejected.map((m) => `${m.kind} ${m.marker} was refused but kept`),
    ...dl.unexpected.map(
      (l) =>
        `unexpected dead letter ${l.id} (${l.stage}, ${l.code}${l.shipmentId ? `, ${l.shipmentId}` : ''}): ${l.reason.slice(0, 120)}`,
    ),
    ...dl.wrongStatus.map(
      (m) => `${m.kind} ${m.marker} answered ${m.status}, expected ${MALFORMED_EXPECTATION[m.kind].status}`,
    ),
  ];
  out.push(
    invariant(
      'dead letters = the malformed webhooks sent',
      dlProblems,
      `${o.deadLetters.length} dead letters = the ${dl.expected.length} malformed webhooks meant for them; the ${dl.rejected.length} refused with 401 are not kept`,
    ),
  );
  return out;
}

// --- the run ---------------------------------------------------------------------------------------

const gazetteer = createRequire(import.meta.url)('zipcodes') as {
  lookupByName(city: string, state: string): { zip: string }[];
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** The campaign's JSON summary. */
export interface ChaosSummary {
  ok: boolean;
  date: string;
  commit: string;
  options: { shipments: number; seed: number; scale: number };
  realSeconds: number;
  simulated: { from: string; to: string };
  dispatchWebhookFaults: typeof DISPATCH_WEBHOOK_FAULTS;
  faults: FaultRecord[];
  counts: Record<string, number | Record<string, number>>;
  malformed: SentMalformed[];
  invariants: { name: string; pass: boolean; detail: string }[];
  /** Shipments that did not close, with what their status and dispatch tasks show. */
  stuck: Record<string, string>;
  mismatches: string[];
}

function commitOf(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

/** Sum of a Prometheus counter's samples whose labels include all of `labels`. */
export function metricSum(text: string, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return sum;
}

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
  const { client, clock, date, erp, dispatch, crm } = stack;
  const { say, record } = ctx;
  const config = loadConfig({ SHIPSYNC_TEMPORAL_ADDRESS: stack.temporalAddress });
  const api = axios.create({ baseURL: stack.gatewayUrl, validateStatus: () => true, timeout: 10_000 });
  await sleep(clock.anchorRealMs - Date.now());
  const orders = erp.seed(opts.shipments, { date, seed: opts.seed, mismatchRate: 0.05 });
  await upsertReleaseSchedule(client, config, config.SHIPSYNC_RELEASE_INTERVAL_MINUTES);
  const pass = await releaseNow(client, config);
  say(
    `ERP: ${orders.length} deliveries released for ${date}; release pass started ${pass.started}, ${pass.attached} already started by the push webhook`,
  );

  const ids = orders.map((o) => shipmentWorkflowId(o.deliveryId));
  const byId = new Map(orders.map((o) => [shipmentWorkflowId(o.deliveryId), o]));
  const results = new Map<string, ShipmentResult>();
  const closedWithoutResult = new Map<string, string>();
  const malformed: SentMalformed[] = [];
  const counts = {
    workerKills: 0,
    workerSelfExits: 0,
    gatewaySelfExits: 0,
    addressCorrections: 0,
    approvals: 0,
  };

  // Worker and gateway restarts are serialised with the watchdog so two never overlap.
  let busy = false;
  let campaignDone = false;
  const at = (seconds: number) => sleep(clock.anchorRealMs + seconds * 1000 - Date.now());
  const sendMalformed = async (batch: number) => {
    const built = buildMalformedWebhooks({
      secret: config.SHIPSYNC_DISPATCH_WEBHOOK_SECRET,
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

  const handled = new Set<string>();
  const deadline = stack.clock.anchorRealMs + opts.timeoutSeconds * 1000;
  let lastState = '';
  let lastPrinted = 0;
  let lastChange = Date.now();
  // More than a simulated day without any change of phase: nothing more will happen on its own.
  const stallMs = Math.max(120_000, realDuration(clock, 26 * 3600_000));
  while ((results.size + closedWithoutResult.size < ids.length || !campaignDone) && Date.now() < deadline) {
    if (campaignDone && Date.now() - lastChange > stallMs) {
      say(
        `no shipment changed phase for ${Math.round(stallMs / 1000)} s (over a simulated day); stopping the wait`,
      );
      break;
    }
    await sleep(1500);
    if (!busy) {
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
    }
    const phases: Record<string, number> = {};
    try {
      for await (const wf of client.workflow.list({ query: `WorkflowType = 'ShipmentWorkflow'` })) {
        const status = wf.status.name;
        if (status === 'CONTINUED_AS_NEW') continue;
        if (status === 'COMPLETED') {
          if (!results.has(wf.workflowId))
            results.set(
              wf.workflowId,
              (await client.workflow.getHandle(wf.workflowId).result()) as ShipmentResult,
            );
          continue;
        }
        if (status !== 'RUNNING') {
          closedWithoutResult.set(wf.workflowId, status);
          continue;
        }
        const phase =
          (wf.searchAttributes as Record<string, string[] | undefined>).ShipmentStatus?.[0] ?? 'released';
        phases[phase] = (phases[phase] ?? 0) + 1;
        const key = `${wf.workflowId}:${phase}`;
        if (handled.has(key)) continue;
        // A slow or failed call is tried again on the next pass; it must not cut this pass short.
        if (phase === 'on_hold') {
          const res = await correctAddress(api, byId.get(wf.workflowId)).catch(() => 'retry' as const);
          if (res === 'done') counts.addressCorrections++;
          if (res !== 'retry') handled.add(key);
        } else if (phase === 'awaiting_approval') {
          const status = await api
            .post(
              `/v1/shipments/${wf.workflowId}/charges/approval`,
              { approvedBy: 'finance-chaos', approve: true },
              {
                headers: {
                  authorization: 'Bearer dev-finance',
                  'idempotency-key': `chaos-approve-${wf.workflowId}`,
                },
              },
            )
            .then(
              (r) => r.status,
              () => 503,
            );
          if (status < 300) counts.approvals++;
          if (status < 500 && status !== 429) handled.add(key);
        }
      }
    } catch (err) {
      phases['temporal-unreachable'] = 1;
      if (!/UNAVAILABLE|connect|deadline|ECONN/i.test(String(err)))
        say(`progress: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    }
    const sim = new Date(simAt(clock, Date.now())).toISOString().slice(0, 16).replace('T', ' ');
    const state = `closed ${results.size}/${ids.length}  ${Object.entries(phases)
      .map(([k, v]) => `${k} ${v}`)
      .join('  ')}`;
    if (state !== lastState) lastChange = Date.now();
    if (state !== lastState || Date.now() - lastPrinted > 15_000) {
      say(`+${ctx.offset()} s  sim ${sim}  ${state}`);
      lastPrinted = Date.now();
    }
    lastState = state;
  }
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

/** Plays the agent as the demo does: every other held shipment gets its ZIP corrected from its city. */
async function correctAddress(
  api: AxiosInstance,
  order: Order | undefined,
): Promise<'done' | 'skipped' | 'retry'> {
  if (!order || Number(order.deliveryId.replace(/\D/g, '').slice(-1)) % 2 === 1) return 'skipped';
  const zip = gazetteer.lookupByName(order.address.city, order.address.state)[0]?.zip;
  if (!zip) return 'skipped';
  const workflowId = shipmentWorkflowId(order.deliveryId);
  const res = await api.post(
    `/v1/shipments/${workflowId}/address`,
    { address: { ...order.address, postalCode: zip }, correctedBy: 'chaos-agent' },
    { headers: { authorization: 'Bearer dev-agent', 'idempotency-key': `chaos-address-${workflowId}` } },
  );
  if (res.status >= 500 || res.status === 429) return 'retry';
  return res.status < 300 ? 'done' : 'skipped';
}

/** Seconds until the worker process `pid` polls the workflow task queue, or undefined after the timeout. */
async function waitForPoller(
  stack: FullStack,
  pid: number | undefined,
  timeoutMs: number,
): Promise<number | undefined> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    try {
      const res = await stack.client.workflowService.describeTaskQueue({
        namespace: 'default',
        taskQueue: { name: taskQueues().shipments },
        taskQueueType: 1,
      });
      if ((res.pollers ?? []).some((p) => p.identity?.startsWith(`${pid}@`)))
        return Math.round((Date.now() - started) / 100) / 10;
    } catch {
      // Temporal is still coming back: ask again.
    }
    await sleep(250);
  }
  return undefined;
}

/** Waits until the gateway's inbox has nothing left to deliver (or the timeout passes). */
async function waitForInbox(api: AxiosInstance, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const res = await api.get<{ backlog?: number }>('/readyz').catch(() => undefined);
    if (res?.status === 200 && res.data.backlog === 0) return;
    await sleep(500);
  }
}

async function observe(
  stack: FullStack,
  o: {
    ids: string[];
    orders: Order[];
    results: Map<string, ShipmentResult>;
    closedWithoutResult: Map<string, string>;
    malformed: SentMalformed[];
    api: AxiosInstance;
  },
): Promise<ChaosObservations> {
  const get = async <T>(url: string, params?: Record<string, string>) =>
    (await axios.get<T>(url, { params, timeout: 30_000 })).data;
  const reconciliation = await reconcile({
    erpUrl: stack.erp.url,
    dispatchUrl: stack.dispatch.url,
    crmUrl: stack.crm.url,
    orders: o.orders,
    results: o.results,
  });
  const erpMilestones = new Map<string, string[]>();
  const crmCaseKinds = new Map<string, (string | null)[]>();
  for (const id of o.ids) {
    const { milestones } = await get<{ milestones: { milestone: string; attempt: number }[] }>(
      `${stack.erp.url}/__sandbox/deliveries/${deliveryOf(id)}/milestones`,
    );
    erpMilestones.set(
      id,
      milestones.map((m) => `${m.milestone}#${Number(m.attempt)}`),
    );
  }
  const { cases } = await get<{ cases: { externalId: string | null; kind: string | null }[] }>(
    `${stack.crm.url}/__sandbox/cases`,
  );
  for (const c of cases)
    if (c.externalId) crmCaseKinds.set(c.externalId, [...(crmCaseKinds.get(c.externalId) ?? []), c.kind]);
  const { billingRequests } = await get<{
    billingRequests: { billingDocumentRequest: string; deliveryId: string }[];
  }>(`${stack.erp.url}/__sandbox/billing`);

  const stuck = new Map<string, string>();
  for (const id of o.ids.filter((x) => !o.results.has(x) && !o.closedWithoutResult.has(x))) {
    const status = await stack.client.workflow
      .getHandle(id)
      .query(statusQuery)
      .catch(() => undefined);
    const { tasks } = await get<{
      tasks: { state: number; worker: string | null; metadata: { name: string; value: unknown }[] }[];
    }>(`${stack.dispatch.url}/__sandbox/tasks`, { shipmentId: id });
    const states = ['unassigned', 'assigned', 'active', 'completed'];
    const taskText = tasks
      .map(
        (t) =>
          `attempt ${JSON.stringify(t.metadata.find((m) => m.name === 'attempt')?.value ?? '?')} ${states[t.state] ?? t.state}${t.worker ? '' : ' (no driver)'}`,
      )
      .join(', ');
    stuck.set(
      id,
      `workflow phase ${status?.phase ?? 'unknown'} (dispatch events applied ${status?.eventsApplied ?? '?'}, ignored ${status?.eventsIgnored ?? '?'}); dispatch task ${taskText || 'none'}; open cases ${status?.openCases.map((c) => c.kind).join(', ') || 'none'}`,
    );
  }

  const admin = { authorization: 'Bearer dev-admin' };
  const summaries: { id: number }[] = [];
  let before: number | undefined;
  for (;;) {
    const res = await o.api.get<{ deadLetters: { id: number }[]; nextBefore?: number }>('/v1/dead-letters', {
      headers: admin,
      params: { limit: 500, ...(before ? { before } : {}) },
    });
    if (res.status !== 200) throw new Error(`GET /v1/dead-letters answered ${res.status}`);
    summaries.push(...res.data.deadLetters);
    if (!res.data.nextBefore || summaries.length >= 5000) break;
    before = res.data.nextBefore;
  }
  const deadLetters: DeadLetterRecord[] = [];
  for (const s of summaries.slice(0, 1000)) {
    const res = await o.api.get<DeadLetterRecord>(`/v1/dead-letters/${s.id}`, { headers: admin });
    if (res.status === 200) deadLetters.push(res.data);
  }
  return {
    shipmentIds: o.ids,
    results: o.results,
    closedWithoutResult: o.closedWithoutResult,
    erpMilestones,
    billing: billingRequests,
    crmCaseKinds,
    reconciliation,
    deadLetters,
    malformed: o.malformed,
    stuck,
  };
}

function printSummary(s: ChaosSummary) {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out('');
  out(
    `chaos campaign: ${s.options.shipments} shipments, seed ${s.options.seed}, scale ×${s.options.scale}, ${s.realSeconds} s real, simulated ${s.simulated.from} → ${s.simulated.to}`,
  );
  out('faults:');
  for (const f of s.faults) out(`  +${f.offsetSeconds} s  ${f.kind}  ${f.detail}`);
  out('counts:');
  for (const [k, v] of Object.entries(s.counts))
    out(
      `  ${k}: ${
        typeof v === 'number'
          ? v
          : Object.entries(v)
              .map(([a, b]) => `${a} ${b}`)
              .join(', ')
      }`,
    );
  out('invariants:');
  for (const i of s.invariants) out(`  ${i.pass ? 'PASS' : 'FAIL'}  ${i.name}: ${i.detail}`);
  for (const [id, why] of Object.entries(s.stuck).slice(0, 50)) out(`  open: ${id}: ${why}`);
  out(s.ok ? 'all invariants hold' : 'some invariants do not hold');
}

/** The command line: parses options (exit 2 with one line on bad input) and runs the campaign. */
export function buildChaosCli(run: (opts: ChaosOptions) => Promise<number> = runChaos): Command {
  const integer = (name: string, min: number, max: number) => (v: string) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new BadInput(`${name} must be an integer from ${min} to ${max}`);
    return n;
  };
  const program = new Command('chaos')
    .description('play the demo under a fault campaign and check that nothing is lost or duplicated')
    .option('--shipments <n>', 'deliveries to seed', integer('--shipments', 1, 2000), 200)
    .option('--seed <n>', 'seed of every random choice', integer('--seed', 0, 2 ** 31 - 1), 7)
    .option(
      '--scale <x>',
      'simulated seconds per real second',
      (v: string) => {
        const n = Number(v);
        if (!/^\d+(\.\d+)?$/.test(v.trim()) || !(n >= 60 && n <= 5000))
          throw new BadInput('--scale must be a number from 60 to 5000');
        return n;
      },
      720,
    )
    .option(
      '--timeout <seconds>',
      'give up waiting for shipments this long after simulated 04:00',
      integer('--timeout', 150, 3600),
      660,
    )
    .option('--json', 'print the summary as JSON on stdout (progress stays on stderr)')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (s) => process.stdout.write(s) })
    .action(
      async (o: { shipments: number; seed: number; scale: number; timeout: number; json?: boolean }) => {
        process.exitCode = await run({
          shipments: o.shipments,
          seed: o.seed,
          scale: o.scale,
          json: o.json === true,
          timeoutSeconds: o.timeout,
        });
      },
    );
  return program;
}

/** Runs the command line; returns the exit code. */
export async function runChaosCli(
  argv: string[],
  run?: (opts: ChaosOptions) => Promise<number>,
): Promise<number> {
  try {
    await buildChaosCli(run).parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      process.stderr.write(`chaos: ${err.message.replace(/^error: /, '').split('\n')[0]}\n`);
      return EXIT_BAD_INPUT;
    }
    if (err instanceof BadInput) {
      process.stderr.write(`chaos: ${err.message}\n`);
      return EXIT_BAD_INPUT;
    }
    process.stderr.write(`chaos: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exit(await runChaosCli(process.argv.slice(2)));
}
