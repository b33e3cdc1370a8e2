import { execFileSync } from 'node:child_process';
import type { ChaosBackend } from './args.js';
import type { EventAccounting } from './events.js';
import { type DISPATCH_WEBHOOK_FAULTS, type FaultRecord, type Recovery } from './plan.js';
import type { SentMalformed } from './malformed.js';

/** The campaign's JSON summary. */
export interface ChaosSummary {
  ok: boolean;
  date: string;
  commit: string;
  options: {
    shipments: number;
    seed: number;
    scale: number;
    backend: ChaosBackend;
    gateways: number;
    workers: number;
  };
  realSeconds: number;
  simulated: { from: string; to: string };
  dispatchWebhookFaults: typeof DISPATCH_WEBHOOK_FAULTS;
  faults: FaultRecord[];
  counts: Record<string, number | Record<string, number>>;
  /** What became of every webhook the sandboxes sent. */
  events?: EventAccounting;
  malformed: SentMalformed[];
  invariants: { name: string; pass: boolean; detail: string }[];
  /** Shipments that did not close, with what their status and dispatch tasks show. */
  stuck: Record<string, string>;
  mismatches: string[];
}

/** The short commit hash of the working tree, or `unknown`. */
export function commitOf(): string {
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

/** One line about a fault's recovery: serving again, and the inbox backlog back where it was. */
export function recoveryText(r: Recovery | undefined): string {
  if (!r) return '';
  const parts: string[] = [];
  if (r.servingAfterSeconds !== undefined) parts.push(`serving again after ${r.servingAfterSeconds} s`);
  else if (r.backlogBefore !== undefined) parts.push('NOT serving again in time');
  if (r.backlogBefore !== undefined)
    parts.push(
      r.backlogDrainedAfterSeconds !== undefined
        ? `inbox backlog ${r.backlogBefore} → peak ${r.backlogPeak ?? '?'} → back at or below ${r.backlogBefore} after ${r.backlogDrainedAfterSeconds} s`
        : `inbox backlog ${r.backlogBefore} → peak ${r.backlogPeak ?? '?'}, NOT back in time`,
    );
  if (r.note) parts.push(r.note);
  return parts.join('; ');
}

/** The summary trimmed to what a benchmark record keeps: options, counts, events, invariants, the fault timeline with recovery times. */
export function trimmedSummary(s: ChaosSummary) {
  return {
    ok: s.ok,
    date: s.date,
    commit: s.commit,
    options: s.options,
    realSeconds: s.realSeconds,
    simulated: s.simulated,
    counts: s.counts,
    ...(s.events ? { events: { ...s.events, examples: s.events.examples.length } } : {}),
    invariants: s.invariants.map(({ name, pass }) => ({ name, pass })),
    faults: s.faults.map((f) => ({
      at: `+${f.offsetSeconds} s`,
      kind: f.kind,
      ...(f.recovery
        ? {
            servingAfterSeconds: f.recovery.servingAfterSeconds ?? null,
            backlog: `${f.recovery.backlogBefore ?? '?'} → ${f.recovery.backlogPeak ?? '?'}`,
            backlogDrainedAfterSeconds: f.recovery.backlogDrainedAfterSeconds ?? null,
          }
        : {}),
    })),
  };
}

/** Prints the campaign's summary for a person. */
export function printSummary(s: ChaosSummary) {
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out('');
  out(
    `chaos campaign: ${s.options.shipments} shipments, seed ${s.options.seed}, scale ×${s.options.scale}, ${s.options.backend}, ${s.options.gateways} gateway(s), ${s.options.workers} worker(s), ${s.realSeconds} s real, simulated ${s.simulated.from} → ${s.simulated.to}`,
  );
  out('faults:');
  for (const f of s.faults) {
    out(`  +${f.offsetSeconds} s  ${f.kind}  ${f.detail}`);
    if (f.recovery) out(`      recovery: ${recoveryText(f.recovery)}`);
  }
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
  if (s.events) {
    const e = s.events;
    out('events:');
    out(
      `  ${e.webhooks} webhooks sent by the sandboxes, ${e.acknowledged} acknowledged with a 2xx: ${e.reachedShipment} reached their shipment (${e.signalsRedelivered} after more than one signal attempt), ${e.late} late, ${e.ignored} ignored, ${e.telemetry} telemetry, ${e.deadLetters} dead letters`,
    );
    out(
      `  events lost: ${e.lost}; given up by the sender: ${e.abandoned}; duplicate deliveries absorbed: ${e.duplicatesAbsorbed}; failed deliveries retried: ${e.failedAttemptsRetried} (${e.deliveredAfterRetry} webhooks arrived after a retry)`,
    );
    for (const x of e.examples)
      out(`  lost: ${x.source} #${x.seq} ${x.url}${x.eventId ? ` ${x.eventId}` : ''}: ${x.why}`);
  }
  out('invariants:');
  for (const i of s.invariants) out(`  ${i.pass ? 'PASS' : 'FAIL'}  ${i.name}: ${i.detail}`);
  for (const [id, why] of Object.entries(s.stuck).slice(0, 50)) out(`  open: ${id}: ${why}`);
  out(s.ok ? 'all invariants hold' : 'some invariants do not hold');
}
