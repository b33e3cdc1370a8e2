import type { ShipmentResult } from '../../src/workflows/shipment/contract.js';
import { milestoneSequenceProblem, type Reconciliation } from '../reconcile.js';
import type { EventAccounting } from './events.js';
import { MALFORMED_EXPECTATION, type SentMalformed } from './malformed.js';

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
  /** What became of every webhook the sandboxes sent; when present, a seventh check wants none lost. */
  events?: EventAccounting;
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

/** The ERP delivery id of a shipment's workflow id. */
export function deliveryOf(workflowId: string): string {
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

/** The events-lost check: every acknowledged webhook accounted for, and none given up by its sender. */
export function eventsLostCheck(e: EventAccounting): InvariantResult {
  const problems = e.examples.map(
    (x) => `${x.source} webhook #${x.seq} to ${x.url}${x.eventId ? ` (${x.eventId})` : ''}: ${x.why}`,
  );
  const more = e.lost + e.abandoned - e.examples.length;
  if (more > 0) problems.push(`and ${more} more`);
  if (problems.length === 0 && e.lost + e.abandoned > 0)
    problems.push(`${e.lost} lost, ${e.abandoned} given up`);
  return invariant(
    'no event lost',
    problems,
    `${e.acknowledged} webhooks acknowledged with a 2xx: ${e.reachedShipment} reached their shipment, ${e.late} late, ${e.ignored} ignored, ${e.telemetry} telemetry, ${e.deadLetters} dead letters, 0 lost; ${e.duplicatesAbsorbed} duplicate deliveries absorbed; 0 given up by the sender (${e.deliveredAfterRetry} arrived after a retry)`,
  );
}

/**
 * The campaign's six invariants (seven when the events are accounted, see `eventsLostCheck`): every shipment terminal; one ERP billing document per billed shipment;
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
  if (o.events) out.push(eventsLostCheck(o.events));
  return out;
}
