import { execFileSync } from 'node:child_process';
import { type DISPATCH_WEBHOOK_FAULTS, type FaultRecord } from './plan.js';
import type { SentMalformed } from './malformed.js';

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

/** Prints the campaign's summary for a person. */
export function printSummary(s: ChaosSummary) {
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
