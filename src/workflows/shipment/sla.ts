import type { ShipmentRun, Woken } from './run.js';
import * as playbook from './playbooks.js';
import { applyPlay, type SlaKind } from './state.js';

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
  const clock = (sla[kind] ??= { since: run.nowIso(), rounds: 0, attempt: s.attempt });
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
      applyPlay(s, playbook.slaEscalation(s, kind, clock.rounds, clock.since));
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
