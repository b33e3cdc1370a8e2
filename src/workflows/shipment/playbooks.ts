import { serviceDays } from '../lazy.js';
import type { ExceptionKind, TimeWindow } from '../../domain/model.js';
import type { ShipmentSettings } from './contract.js';
import type { Action, AttemptProgress, ShipmentState } from './state.js';

/**
 * The exception playbooks, all in one place. Each is a pure function of the shipment's state: it returns the
 * side effects to queue and where the shipment goes next; the workflow applies it. Action order matters
 * within a lane (ERP, CRM) and is part of the recorded histories.
 */
export interface Play {
  actions: Action[];
  /** Progress flags the play sets, so it runs once per attempt. */
  progress?: Partial<AttemptProgress>;
  /** After the play: publish another attempt with `window`, or return the goods to the depot. */
  next?: 'reattempt' | 'return';
  window?: TimeWindow;
  /** The plan revision the play's revised planned milestone carries (the shipment's count moves to it). */
  plannedRevision?: number;
}

type Priority = Extract<Action, { kind: 'openCase' }>['priority'];

const attemptNo = (s: ShipmentState) => Math.max(1, s.attempt);

function openCase(
  s: ShipmentState,
  exception: ExceptionKind,
  priority: Priority,
  subject: string,
  description: string,
): Action {
  return { kind: 'openCase', exception, attempt: attemptNo(s), priority, subject, description };
}

function notify(s: ShipmentState, topic: string, message: string): Action {
  return { kind: 'notify', topic, attempt: attemptNo(s), message };
}

function returned(s: ShipmentState, at: string): Action {
  return { kind: 'milestone', milestone: 'returned', attempt: attemptNo(s), occurredAt: at };
}

/** The customer notice that announces the current window and ETA, with the plan machine-readable. */
export function planNotice(s: ShipmentState, topic: string, verb: 'is planned for' | 'moved to'): Action {
  return {
    kind: 'notify',
    topic,
    attempt: s.attempt,
    message: `Your delivery ${verb} ${s.window.start} to ${s.window.end}${s.eta ? `, estimated arrival ${s.eta}` : ''}.`,
    plan: s.eta ? { eta: s.eta, window: s.window } : undefined,
  };
}

/** Late driver: a proactive notice and an ERP delayed milestone past the notice threshold; a case when severe. */
export function delay(s: ShipmentState, delayMinutes: number, at: string, settings: ShipmentSettings): Play {
  const p = s.progress;
  const play: Play = { actions: [], progress: {} };
  const late = Math.round(delayMinutes);
  if (delayMinutes > settings.delayNoticeMinutes && !p.delayNoticed) {
    play.progress = { ...play.progress, delayNoticed: true };
    play.actions.push(
      { kind: 'milestone', milestone: 'delayed', attempt: s.attempt, occurredAt: at, eta: s.eta },
      {
        kind: 'notify',
        topic: 'delayed',
        attempt: s.attempt,
        message: `Your delivery is running about ${late} minutes late${s.eta ? `; new estimated arrival ${s.eta}` : ''}.`,
      },
    );
  }
  if (delayMinutes > settings.severeDelayMinutes && !p.severeDelayCase) {
    play.progress = { ...play.progress, severeDelayCase: true };
    play.actions.push({
      kind: 'openCase',
      exception: 'delay',
      attempt: s.attempt,
      priority: 'high',
      subject: `Severe delay on delivery ${s.order.deliveryId}`,
      description: `The driver is about ${late} minutes past the window ${s.window.start} – ${s.window.end}.`,
    });
  }
  return play;
}

/** Revised plans one attempt's ETA drift posts at most, so an ETA that keeps swinging cannot flood anyone. */
export const MAX_ETA_REVISIONS = 10;

/**
 * The ETA moved: once it crosses the drift threshold from the announced plan, or the window end, the ERP gets
 * a revised planned milestone (its commit date follows) and the customer a notice, once per crossing; going
 * back under re-arms the crossing. An ETA before the window opens counts as the window start. With `announce`
 * false (a delay notice just went out) it only notes where the ETA stands.
 */
export function etaDrift(s: ShipmentState, at: string, settings: ShipmentSettings, announce: boolean): Play {
  const p = s.progress;
  if (!s.eta || p.rank < 1) return { actions: [] };
  if (!p.planEta) return { actions: [], progress: { planEta: s.eta } };
  // A driver early for the window waits for it to open: the customer is served at the window start at the soonest.
  const opens = Date.parse(s.window.start);
  const eta = Math.max(Date.parse(s.eta), opens);
  const drifted = Math.abs(eta - Math.max(Date.parse(p.planEta), opens)) > settings.etaDriftMinutes * 60_000;
  const pastWindow = eta > Date.parse(s.window.end);
  const crossed = (drifted && !p.etaDrifted) || (pastWindow && !p.etaPastWindow);
  const progress: Partial<AttemptProgress> = { etaDrifted: drifted, etaPastWindow: pastWindow };
  const revisions = p.etaRevisions ?? 0;
  if (!crossed || !announce || revisions >= MAX_ETA_REVISIONS) return { actions: [], progress };
  const revision = s.plannedRevision + 1;
  const arrival = new Date(eta).toISOString();
  const { start, end } = s.window;
  const message = pastWindow
    ? `Your delivery is running late: estimated arrival ${arrival}, after your window ${start} to ${end}.`
    : `The estimated arrival of your delivery moved to ${arrival} (window ${start} to ${end}).`;
  return {
    actions: [
      { kind: 'milestone', milestone: 'planned', attempt: s.attempt, occurredAt: at, eta: arrival, revision },
      {
        kind: 'notify',
        topic: `eta-r${revision}`,
        attempt: s.attempt,
        message,
        plan: { eta: arrival, window: s.window },
      },
    ],
    progress: { ...progress, etaRevisions: revisions + 1 },
    plannedRevision: revision,
  };
}

/** What a customer reads for each reason a reschedule is refused; other reasons are quoted as they are. */
const REFUSALS: Record<string, string> = {
  RESCHEDULE_TOO_LATE: 'your delivery is already on its way or done, so its window can no longer change',
  RESCHEDULE_WINDOW_IN_PAST: 'the window you asked for has already begun',
  RESCHEDULE_NOT_SERVICE_DAY: 'we do not deliver to your address on that day',
  RESCHEDULE_WINDOW_INVALID: 'a delivery window must end after it starts and span at most 12 hours',
};

/**
 * A reschedule the customer asked for on their ticket was refused: a public reply on that ticket with the
 * reason, in words and as its code.
 */
export function refusedReschedule(
  s: ShipmentState,
  request: { ticketId: string; window: TimeWindow },
  refusal: { code: string; message: string },
  ref: string,
): Action {
  const reason = REFUSALS[refusal.code] ?? refusal.message;
  const { start, end } = request.window;
  return {
    kind: 'reply',
    ticketId: request.ticketId,
    ref,
    message:
      `We could not move delivery ${s.order.deliveryId} to ${start} – ${end}: ${reason}. ` +
      `Your delivery keeps its window ${s.window.start} – ${s.window.end}. (Reason code ${refusal.code}.)`,
  };
}

/** The address could not be confirmed: hold the shipment, open a case, tell the customer. */
export function addressHold(s: ShipmentState, reason: string): Play {
  return {
    actions: [
      openCase(
        s,
        'address_mismatch',
        'high',
        `Address to confirm for delivery ${s.order.deliveryId}`,
        reason,
      ),
      notify(s, 'address-hold', 'We could not confirm your delivery address; our team will contact you.'),
    ],
  };
}

/** Nobody corrected the address in time: the goods return to the depot. */
export function addressHoldExpired(s: ShipmentState, at: string): Play {
  const message = 'We could not confirm your address in time; your goods are returning to our depot.';
  return { actions: [notify(s, 'returning', message), returned(s, at)], next: 'return' };
}

/** No driver assigned by the planning cutoff plus its grace: an urgent case. */
export function noAssignment(s: ShipmentState, deadline: string): Play {
  const subject = `No driver assigned to delivery ${s.order.deliveryId}`;
  return { actions: [openCase(s, 'no_assignment', 'urgent', subject, `Not assigned by ${deadline}.`)] };
}

/** No proof of delivery long after the window: a case, once per attempt. */
export function missingPod(s: ShipmentState, settings: ShipmentSettings): Play {
  const subject = `No proof of delivery for ${s.order.deliveryId}`;
  const description = `No POD ${settings.missingPodMinutes} minutes after the window.`;
  return {
    actions: [openCase(s, 'missing_pod', 'high', subject, description)],
    progress: { missingPodCase: true },
  };
}

/**
 * A failed attempt: its ERP milestone (unless already queued) and a case; damaged goods go back to the depot;
 * otherwise another attempt on the next service day until the attempts run out, then the goods return.
 */
export function failedAttempt(
  s: ShipmentState,
  settings: ShipmentSettings,
  at: string,
  timeZone: string,
): Play {
  const reason = s.progress.failureReason ?? 'unknown';
  const actions: Action[] = [];
  if (!s.progress.outcomeQueued) {
    actions.push({ kind: 'milestone', milestone: 'failed_attempt', attempt: s.attempt, occurredAt: at });
  }
  const id = s.order.deliveryId;
  if (reason === 'damaged') {
    const description = 'The driver reported damage; the goods return to the depot.';
    const message =
      'Your goods were damaged in transit and are returning to our depot; our team will contact you.';
    actions.push(
      openCase(s, 'damage', 'urgent', `Goods damaged on delivery ${id}`, description),
      notify(s, 'damage', message),
      returned(s, at),
    );
    return { actions, next: 'return' };
  }
  const description =
    reason === 'not_assigned'
      ? 'No driver was assigned before the window closed.'
      : `Driver reported: ${reason}.`;
  actions.push(
    openCase(s, 'failed_attempt', 'normal', `Delivery attempt ${s.attempt} failed for ${id}`, description),
  );
  if (s.attempt < settings.maxAttempts) {
    const window = serviceDays().nextServiceWindow(s.window, s.order.serviceDays, timeZone);
    const missed = reason.replace(/_/g, ' ');
    actions.push(
      notify(
        s,
        'reattempt',
        `We missed you (${missed}). We will try again on ${window.start} to ${window.end}.`,
      ),
    );
    return { actions, next: 'reattempt', window };
  }
  const message = `We could not deliver after ${s.attempt} attempts; your goods are returning to our depot.`;
  actions.push(notify(s, 'returning', message), returned(s, at));
  return { actions, next: 'return' };
}

/** What each SLA wait is waiting for, for the escalation case. */
const SLA_WAITS: Record<string, string> = {
  approval: 'charges waiting for finance approval',
  missing_pod: 'no proof of delivery after the missing-POD case',
  parked: 'side effects a vendor rejected, waiting for an operator',
};

/** A wait passed its SLA: an urgent case for the team, one per escalation round. */
export function slaEscalation(
  s: ShipmentState,
  kind: string,
  round: number,
  since: string,
  /** The clock's number from the second wait of this kind on: part of the case's ref, so of its key. */
  seq?: number,
): Play {
  const what = SLA_WAITS[kind] ?? kind;
  const again = round > 1 ? ` (escalation ${round})` : '';
  const action = openCase(
    s,
    'sla_breached',
    'urgent',
    `SLA passed on delivery ${s.order.deliveryId}: ${what}${again}`,
    `Waiting since ${since}: ${what}.`,
  );
  return { actions: [{ ...action, ref: seq ? `${kind}-w${seq}-${round}` : `${kind}-${round}` } as Action] };
}

/** What happens to an open case of each kind at the second limit of its resolution SLA. */
export const CASE_SLA_DEFAULTS: Record<string, string> = {
  failed_attempt: "the playbook's decision (another attempt or the return) stands",
  delay: "the delivery's outcome settles the delay",
  damage: "the goods return to the depot; the damage stays on the shipment's record",
  address_mismatch: 'the address hold runs to its own deadline, then the goods return',
  no_assignment: 'an attempt still unassigned at its window end is lost and the playbook decides',
};

/**
 * An open case passed the first limit of its resolution SLA: its priority is raised to urgent and the team
 * gets an urgent `sla_breached` case naming it.
 */
export function caseSlaEscalation(
  s: ShipmentState,
  c: { caseId: string; kind: ExceptionKind; openedAt?: string },
  minutes: number,
): Play {
  const what = `${c.kind.replace(/_/g, ' ')} case ${c.caseId}`;
  const escalation = openCase(
    s,
    'sla_breached',
    'urgent',
    `SLA passed on delivery ${s.order.deliveryId}: ${what} unresolved`,
    `The ${what} has been open since ${c.openedAt ?? 'its opening'}, past its ${minutes}-minute resolution SLA. ` +
      `If it stays open, ${CASE_SLA_DEFAULTS[c.kind] ?? 'it is closed'}.`,
  );
  return {
    actions: [
      {
        kind: 'raisePriority',
        caseId: c.caseId,
        priority: 'urgent',
        note: `Open past its ${minutes}-minute resolution SLA: priority raised to urgent.`,
      },
      { ...escalation, ref: `case-${c.caseId}-1` } as Action,
    ],
  };
}
