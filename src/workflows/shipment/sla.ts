import { ActivityFailure, log } from '@temporalio/workflow';
import type { CaseSlaLimits } from './contract.js';
import { CASE_SLA_KINDS, DEFAULT_CASE_SLAS, type CaseSlaKind } from './messages.js';
import type { ShipmentRun, Woken } from './run.js';
import * as playbook from './playbooks.js';
import { failureCode } from './side-effects.js';
import { slaEscalationsUnique } from './patches.js';
import { applyPlay, type CaseEntry, type ShipmentState, type SlaClock, type SlaKind } from './state.js';

/** Escalations a breach of the parked SLA repeats at most; later rounds still wake but open nothing. */
const MAX_ROUNDS = 5;
/** SLA breaches kept for the status query. */
const MAX_BREACHES_KEPT = 20;

/** How an SLA wait ended: as a wait does, or with its second limit passed (the caller applies the default). */
export type SlaWoken = Woken | 'default';

/** The first and second limit of an SLA, in simulated minutes from the start of the wait. */
interface Limits {
  escalate: number;
  /** Apply the default at this limit; with `repeat`, escalate again every this many minutes instead. */
  then: number;
  repeat?: boolean;
}

function limitsOf(run: ShipmentRun, kind: SlaKind): Limits {
  const st = run.settings;
  if (kind === 'approval')
    return { escalate: st.approvalSlaMinutes ?? 240, then: st.approvalDefaultMinutes ?? 1440 };
  if (kind === 'missing_pod')
    return { escalate: st.missingPodSlaMinutes ?? 240, then: st.missingPodDefaultMinutes ?? 1440 };
  return { escalate: st.parkedSlaMinutes ?? 240, then: st.parkedRepeatMinutes ?? 1440, repeat: true };
}

/**
 * Waits until `ready` holds under the SLA of `kind`: at its first limit the shipment escalates (an urgent
 * case, `sla_breached`), at the second it returns 'default' (parked work: escalates again every interval).
 * The clock lives in the state, so a wait that wakes early or continues as new keeps its deadlines.
 */
export async function waitWithSla(run: ShipmentRun, kind: SlaKind, ready: () => boolean): Promise<SlaWoken> {
  const { s } = run;
  const sla = (s.sla ??= {});
  const clock = (sla[kind] ??= startClock(run, kind));
  for (;;) {
    const limits = limitsOf(run, kind);
    const minutes =
      clock.rounds === 0
        ? limits.escalate
        : limits.repeat
          ? limits.escalate + clock.rounds * limits.then
          : Math.max(limits.then, limits.escalate);
    const deadline = new Date(Date.parse(clock.since) + minutes * 60_000).toISOString();
    const woken = await run.wait(ready, run.until(deadline));
    if (woken !== 'timeout') return woken;
    if (clock.rounds > 0 && !limits.repeat) return 'default';
    clock.rounds++;
    if (clock.rounds <= MAX_ROUNDS) {
      applyPlay(s, playbook.slaEscalation(s, kind, clock.rounds, clock.since, clock.seq));
      s.slaBreaches = [
        ...(s.slaBreaches ?? []).map((b) => (b.kind === kind ? { ...b, open: false } : b)),
        { kind, at: run.nowIso(), round: clock.rounds, open: true },
      ].slice(-MAX_BREACHES_KEPT);
    }
    // The escalation goes out before the wait goes on.
    run.publishStatus();
    await run.effects.flush();
  }
}

/**
 * A new clock for a wait of `kind`. From the second clock of a kind on (runs with the patch) it carries its
 * number, so its escalations' case keys differ from an earlier wait's.
 */
function startClock(run: ShipmentRun, kind: SlaKind): SlaClock {
  const { s } = run;
  const clock: SlaClock = { since: run.nowIso(), rounds: 0, attempt: s.attempt };
  // Runs from before the count know an earlier clock of the kind only by its breach, the case that matters.
  const started = s.slaClocksStarted?.[kind] ?? (s.slaBreaches?.some((b) => b.kind === kind) ? 1 : 0);
  if (started > 0 && slaEscalationsUnique()) clock.seq = started + 1;
  s.slaClocksStarted = { ...s.slaClocksStarted, [kind]: started + 1 };
  return clock;
}

/**
 * Ends the SLA of `kind`: its breach (if any) is marked with how it ended and its escalation cases are
 * closed; the next wait of that kind starts a fresh clock.
 */
export async function endSla(run: ShipmentRun, kind: SlaKind, ended: 'resolved' | 'default', note: string) {
  const { s } = run;
  if (!s.sla?.[kind]) return;
  delete s.sla[kind];
  let breached = false;
  s.slaBreaches = s.slaBreaches?.map((b) => {
    if (b.kind !== kind || !b.open) return b;
    breached = true;
    return { ...b, open: false, ended };
  });
  if (!breached) return;
  const refs = new Set(s.cases.filter((c) => c.open && c.ref?.startsWith(`${kind}-`)).map((c) => c.caseId));
  if (refs.size > 0) await run.effects.closeCasesWhere((c) => refs.has(c.caseId), note);
  run.publishStatus();
}

/** The resolution SLA of an open case (case-sla runs), or undefined for kinds without one. */
function caseLimits(run: ShipmentRun, c: CaseEntry): CaseSlaLimits | undefined {
  if (!c.open || !c.openedAt || c.slaEnded) return undefined;
  if (!(CASE_SLA_KINDS as readonly string[]).includes(c.kind)) return undefined;
  const kind = c.kind as CaseSlaKind;
  return run.settings.caseSlaMinutes?.[kind] ?? DEFAULT_CASE_SLAS[kind];
}

/** When an open case's SLA next falls due (simulated epoch ms): its escalation, then its default. */
function caseDueAt(run: ShipmentRun, c: CaseEntry): number | undefined {
  const limits = caseLimits(run, c);
  if (!limits || !c.openedAt) return undefined;
  return Date.parse(c.openedAt) + (c.escalated ? limits.default : limits.escalate) * 60_000;
}

/** Real milliseconds until the next open case's SLA falls due (at least 1), or undefined when none runs. */
export function nextCaseDue(run: ShipmentRun): number | undefined {
  const due = run.s.cases.map((c) => caseDueAt(run, c)).filter((t): t is number => t !== undefined);
  if (due.length === 0) return undefined;
  return run.until(new Date(Math.min(...due)).toISOString());
}

/** Whether a case whose SLA was breached has been closed while its breach is still open. */
export function breachResolved(s: ShipmentState): boolean {
  return (s.slaBreaches ?? []).some(
    (b) => b.open && b.caseId && !s.cases.some((c) => c.caseId === b.caseId && c.open),
  );
}

/**
 * Applies the resolution SLAs of the open cases (case-sla runs): a case past its first limit gets urgent
 * priority and the team an urgent `sla_breached` case; past the second it is closed with its kind's default.
 * A breached case closed meanwhile (by an agent, or by the shipment) ends its breach as resolved.
 */
export async function reviewCases(run: ShipmentRun) {
  const { s } = run;
  let changed = false;
  for (const breach of [...(s.slaBreaches ?? [])]) {
    if (!breach.open || !breach.caseId) continue;
    if (s.cases.some((x) => x.caseId === breach.caseId && x.open)) continue;
    const what = breach.kind.replace(/_/g, ' ');
    await endCaseBreach(run, breach.caseId, 'resolved', `The ${what} case was resolved.`);
    changed = true;
  }
  const now = run.simNow();
  for (const c of [...s.cases]) {
    const due = caseDueAt(run, c);
    const limits = caseLimits(run, c);
    if (due === undefined || !limits || due > now) continue;
    changed = true;
    if (!c.escalated) {
      c.escalated = true;
      applyPlay(s, playbook.caseSlaEscalation(s, c, limits.escalate));
      s.slaBreaches = [
        ...(s.slaBreaches ?? []),
        { kind: c.kind, caseId: c.caseId, at: run.nowIso(), round: 1, open: true },
      ].slice(-MAX_BREACHES_KEPT);
      continue;
    }
    c.slaEnded = true;
    const note = `Closed by sla-default after ${limits.default} minutes open: ${playbook.CASE_SLA_DEFAULTS[c.kind] ?? 'no one resolved it'}.`;
    await closeQuietly(run, (x) => x.caseId === c.caseId, note);
    await endCaseBreach(run, c.caseId, 'default', note);
  }
  if (!changed) return;
  run.publishStatus();
  await run.effects.flush();
}

/** Ends the breach of one case's SLA and closes the team's escalation case for it. */
async function endCaseBreach(run: ShipmentRun, caseId: string, ended: 'resolved' | 'default', note: string) {
  const { s } = run;
  s.slaBreaches = s.slaBreaches?.map((b) =>
    b.caseId === caseId && b.open ? { ...b, open: false, ended } : b,
  );
  const ref = `case-${caseId}-`;
  await closeQuietly(run, (x) => !!x.ref?.startsWith(ref), note);
}

/** Closes cases; one the CRM refuses to close stays as it is (its SLA is over either way). */
async function closeQuietly(run: ShipmentRun, which: (c: CaseEntry) => boolean, note: string) {
  try {
    await run.effects.closeCasesWhere(which, note);
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    log.warn('case could not be closed by its SLA', { code: failureCode(err), error: err.message });
  }
}
