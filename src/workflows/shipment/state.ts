import type { DispatchEvent } from '../../domain/events.js';
import type {
  Charge,
  ExceptionKind,
  GeocodedAddress,
  Milestone,
  Order,
  ProofOfDelivery,
  ShipmentPhase,
  TimeWindow,
} from '../../domain/model.js';
import type {
  ApprovalRecord,
  MilestoneEntry,
  OperatorActionResult,
  SlaBreach,
  ShipmentOutcome,
  ShipmentSettings,
  ShipmentStatus,
} from './contract.js';
import { delay, etaDrift, planNotice, type Play } from './playbooks.js';

/** A side effect the workflow owes an external system, queued by the event reducer and run by the main loop. */
export type Action =
  | {
      kind: 'milestone';
      milestone: Milestone;
      attempt: number;
      occurredAt: string;
      eta?: string;
      revision?: number;
    }
  | { kind: 'goodsIssue' }
  | {
      kind: 'notify';
      topic: string;
      message: string;
      attempt: number;
      plan?: { eta: string; window: TimeWindow };
    }
  | {
      kind: 'openCase';
      exception: ExceptionKind;
      attempt: number;
      subject: string;
      description: string;
      priority: 'low' | 'normal' | 'high' | 'urgent';
      /** Tells apart cases of one kind and attempt (an SLA's escalation rounds); absent on the others. */
      ref?: string;
    }
  | {
      /** A public reply on a customer's own CRM ticket (a refused reschedule request, with the reason). */
      kind: 'reply';
      ticketId: string;
      message: string;
      /** Names the request answered, for the idempotency key. */
      ref: string;
    }
  | {
      /** A case passed its resolution SLA: its priority is raised, with an internal note why. */
      kind: 'raisePriority';
      caseId: string;
      priority: 'low' | 'normal' | 'high' | 'urgent';
      note: string;
    };

/** The billing post, when it is the side effect a vendor refused. */
export type BillingAction = { kind: 'billing' };

/** Pricing the charges, when the ERP's prices could not price them (a condition type without a record). */
export type PricingAction = { kind: 'pricing' };

/** What can be parked: a queued side effect, the billing post or the pricing. */
export type ParkableAction = Action | BillingAction | PricingAction;

/** A side effect a vendor rejected for good, kept with its error until an operator retries or skips it. */
export interface ParkedItem {
  /** `p1`, `p2`, ... in the order they were parked. */
  id: string;
  action: ParkableAction;
  /** The vendor's error code and message of the latest rejection. */
  code: string;
  message: string;
  /** Simulated time it was first parked. */
  parkedAt: string;
  /** How many times it was rejected (the first post and every retry). */
  rejections: number;
}

/** What an operator did with a parked item (kept for the status query). */
export interface ParkedResolution {
  id: string;
  kind: string;
  outcome: 'posted' | 'skipped';
  by: string;
  reason?: string;
  at: string;
}

/** Why a dispatch event changed nothing. */
export type IgnoreReason = 'other_attempt' | 'attempt_closed' | 'stale' | 'foreign_task' | 'unreadable';

/** A dispatch event the shipment ignored, for the status query. */
export interface IgnoredEvent {
  eventId: string;
  type: string;
  reason: IgnoreReason;
}

/** One CRM case the shipment opened. */
export interface CaseEntry {
  caseId: string;
  kind: ExceptionKind;
  attempt: number;
  open: boolean;
  /** The `ref` of the action that opened it (SLA escalations). */
  ref?: string;
  /** Simulated time it was opened (case-sla runs): its resolution SLA counts from here. */
  openedAt?: string;
  /** Its resolution SLA passed the first limit: the priority was raised and the team told. */
  escalated?: boolean;
  /** Its resolution SLA is over (its default was applied). */
  slaEnded?: boolean;
}

/** The waits that have an SLA (runs with the operator-actions-sla patch). */
export type SlaKind = 'approval' | 'missing_pod' | 'parked';

/** The clock of one SLA: when its wait began and how many times it escalated; carried across continue-as-new. */
export interface SlaClock {
  /** Simulated start of the wait. */
  since: string;
  rounds: number;
  /** The attempt a missing-POD clock belongs to. */
  attempt?: number;
  /**
   * Which clock of its kind this is, from the second on (runs with the sla-escalations-unique patch): its
   * escalations' cases get their own idempotency keys, apart from those of an earlier wait of that kind.
   */
  seq?: number;
}

/** Progress of the current delivery attempt, so late or duplicate events never move it backwards. */
export interface AttemptProgress {
  /** 0 published, 1 assigned, 2 started, 3 arrived, 4 finished. */
  rank: number;
  etaSequence: number;
  /** Sequence of the event that assigned the attempt, so an older unassignment cannot undo it. */
  assignedSequence: number;
  outcome?: 'completed' | 'failed';
  failureReason?: string;
  delayNoticed: boolean;
  severeDelayCase: boolean;
  missingPodCase: boolean;
  /** The attempt's delivered or failed-attempt milestone is queued already (lanes: ahead of the playbook). */
  outcomeQueued?: boolean;
  /** The ETA of the plan last announced (assignment, reschedule): ETA drift is measured from it. */
  planEta?: string;
  /** The ETA is beyond the drift threshold from `planEta`; a revised plan went out when it crossed. */
  etaDrifted?: boolean;
  /** The ETA is past the window end; a revised plan went out when it crossed. */
  etaPastWindow?: boolean;
  /** Revised plans this attempt's ETA drift posted (bounded). */
  etaRevisions?: number;
}

/** Everything a shipment remembers; carried whole across continue-as-new. */
export interface ShipmentState {
  shipmentId: string;
  order: Order;
  geo?: GeocodedAddress;
  phase: ShipmentPhase;
  window: TimeWindow;
  attempt: number;
  taskIds: Record<number, string>;
  progress: AttemptProgress;
  eta?: string;
  driverId?: string;
  routeId?: string;
  /** Ids of the current attempt's events already seen (bounded: see `settings.eventDedupWindow`). */
  seenEventIds: string[];
  /** The latest events that changed nothing, with the reason (bounded). */
  ignored?: IgnoredEvent[];
  /** A failed attempt's playbook chose another attempt that is not published yet (the window can move). */
  reattemptPending?: boolean;
  /** Simulated instant at which an address hold gives up (kept across continue-as-new). */
  holdUntil?: string;
  /** Events of an attempt whose task is not recorded yet; applied once it is. */
  pendingEvents: DispatchEvent[];
  eventsApplied: number;
  eventsIgnored: number;
  pod?: ProofOfDelivery;
  mileageKm: number;
  liftgateUsed: boolean;
  waitingMinutes: number;
  failures: { attempt: number; reason: string }[];
  milestones: MilestoneEntry[];
  plannedRevision: number;
  cases: CaseEntry[];
  /**
   * Customer notices begun, counted from the start of runs that count them; absent on a state carried from
   * a run that did not (its shipment may already have a notice ticket).
   */
  noticesBegun?: number;
  /** The shipment's notice ticket, as the last notice sent on it answered. */
  noticeThreadId?: string;
  todo: Action[];
  charges: Charge[];
  /** The version of the ERP prices the charges were priced with (runs with the erp-pricing patch). */
  pricingVersion?: string;
  awaitingApproval: boolean;
  /** Set once the charges are decided: the approving principal, or both joined with " & " (four-eyes). */
  approvedBy?: string;
  /** Finance decisions recorded so far (four-eyes runs); the first of two approvals waits here. */
  approvals?: ApprovalRecord[];
  /** Approvals the waiting charges need (four-eyes runs). */
  approvalsRequired?: number;
  billingDocumentId?: string;
  outcome?: ShipmentOutcome;
  noAssignmentEscalated: boolean;
  addressCorrected: boolean;
  /** Side effects a vendor rejected for good, waiting for an operator (runs with the parked-outbound patch). */
  parked?: ParkedItem[];
  /** The last parked item's number. */
  parkedSeq?: number;
  /** Parked items operators resolved, latest last (bounded). */
  parkedResolved?: ParkedResolution[];
  /** The billed milestone is queued (a run that continued as new while closing does not queue it twice). */
  billedQueued?: boolean;
  /** Set when an operator skipped the billing post: the shipment closes without a billing document. */
  billingSkipped?: string;
  /** The clocks of the SLA waits under way (runs with the operator-actions-sla patch). */
  sla?: Partial<Record<SlaKind, SlaClock>>;
  /** How many SLA clocks of each kind this shipment has started (runs with the sla-escalations-unique patch). */
  slaClocksStarted?: Partial<Record<SlaKind, number>>;
  /** SLAs passed, latest last (bounded). */
  slaBreaches?: SlaBreach[];
  /** A proof of delivery an operator recorded by hand. */
  manualPod?: { by: string; evidence: string; at: string };
  /** An operator cancelled the shipment or sent its goods back. */
  operatorAction?: { action: 'cancel' | 'force_return'; by: string; reason: string; at: string };
}

/** Whether an operator cancelled the shipment: the main loop compensates and closes it. */
export function isCancelled(s: ShipmentState): boolean {
  return s.operatorAction?.action === 'cancel';
}

/** What an operator action answers: where the shipment stands now. */
export function actionResult(s: ShipmentState): OperatorActionResult {
  return { shipmentId: s.shipmentId, phase: s.phase, ...(s.outcome ? { outcome: s.outcome } : {}) };
}

/** Queues an ERP milestone of the current attempt (or the given one). */
export function queueMilestone(
  s: ShipmentState,
  milestone: Milestone,
  occurredAt: string,
  extra: { attempt?: number; eta?: string; revision?: number } = {},
) {
  const { attempt = s.attempt, eta, revision } = extra;
  s.todo.push({ kind: 'milestone', milestone, attempt, occurredAt, eta, revision });
}

/** Keeps the latest ignored events for the status query, at most this many. */
const MAX_IGNORED_KEPT = 20;

/** Counts an event that changed nothing and remembers why. */
export function ignore(s: ShipmentState, e: { id: string; type: string }, reason: IgnoreReason) {
  s.eventsIgnored++;
  s.ignored = [...(s.ignored ?? []), { eventId: e.id, type: e.type, reason }].slice(-MAX_IGNORED_KEPT);
  return 'ignored' as const;
}

/** A fresh state for a released order. */
export function initialState(shipmentId: string, order: Order): ShipmentState {
  return {
    shipmentId,
    order,
    phase: 'released',
    window: order.requestedWindow,
    attempt: 0,
    taskIds: {},
    progress: freshProgress(),
    seenEventIds: [],
    pendingEvents: [],
    eventsApplied: 0,
    eventsIgnored: 0,
    mileageKm: 0,
    liftgateUsed: false,
    waitingMinutes: 0,
    failures: [],
    milestones: [],
    plannedRevision: 0,
    cases: [],
    noticesBegun: 0,
    todo: [],
    charges: [],
    awaitingApproval: false,
    noAssignmentEscalated: false,
    addressCorrected: false,
  };
}

/** Progress of a newly published attempt. */
export function freshProgress(): AttemptProgress {
  return {
    rank: 0,
    etaSequence: -1,
    assignedSequence: -1,
    delayNoticed: false,
    severeDelayCase: false,
    missingPodCase: false,
  };
}

const RANK: Record<DispatchEvent['type'], number> = {
  'route.assigned.v1': 1,
  'route.unassigned.v1': 0,
  'stop.started.v1': 2,
  'stop.eta.v1': 0,
  'delivery.delayed.v1': 0,
  'stop.arrived.v1': 3,
  'delivery.completed.v1': 4,
  'delivery.failed.v1': 4,
};

/** Phases in which the current attempt can still receive driver events. */
const LIVE_PHASES: readonly ShipmentPhase[] = ['published', 'planned', 'in_transit'];

/** Events of attempts not yet published that a shipment keeps; beyond this it drops them (a bound for bad input). */
const MAX_PENDING_EVENTS = 100;

/** How the reducer treats events; the stricter checks belong to runs recorded with them. */
export interface ReducerOptions {
  /** Events for a task id the shipment did not create are ignored. */
  checkTask: boolean;
  /** An ETA drifting past the threshold or the window end posts a revised plan (eta-drift-replies runs). */
  etaDrift?: boolean;
}

/**
 * Applies one dispatch event to the state; pure apart from mutating `s`. Duplicates (same event id),
 * events of another attempt or of a task the shipment did not create, and events that would move an attempt
 * backwards change nothing but the ignored count. Crossing a stage queues the milestones it implies, so an
 * out-of-order arrival still yields exactly one `planned` and one `dispatched` milestone.
 */
export function applyDispatchEvent(
  s: ShipmentState,
  e: DispatchEvent,
  settings: ShipmentSettings,
  options: ReducerOptions = { checkTask: true },
): 'applied' | 'ignored' | 'held' {
  if (s.seenEventIds.includes(e.id)) return 'ignored';
  // Dispatch can run a task before its creation is recorded here: keep those events for that attempt.
  if (e.data.attempt > s.attempt) {
    if (!s.pendingEvents.some((x) => x.id === e.id) && s.pendingEvents.length < MAX_PENDING_EVENTS) {
      s.pendingEvents.push(e);
    }
    return 'held';
  }
  s.seenEventIds.push(e.id);
  // The dedup window is bounded; older ids fall out (rank and sequence checks still stop stale repeats).
  if (s.seenEventIds.length > (settings.eventDedupWindow ?? 500)) s.seenEventIds.shift();
  const p = s.progress;
  if (e.data.attempt !== s.attempt) return ignore(s, e, 'other_attempt');
  if (options.checkTask && e.data.taskId !== s.taskIds[s.attempt]) return ignore(s, e, 'foreign_task');
  if (p.outcome || !LIVE_PHASES.includes(s.phase) || isCancelled(s)) return ignore(s, e, 'attempt_closed');
  const sequence = e.sequence ?? Date.parse(e.time);
  const rank = Object.hasOwn(RANK, e.type) ? RANK[e.type] : 0;
  if (rank > 0 && rank <= p.rank) return ignore(s, e, 'stale');
  if (e.type === 'route.unassigned.v1') {
    if (p.rank !== 1 || sequence <= p.assignedSequence) return ignore(s, e, 'stale');
    // Dispatch re-planned and dropped the stop: back to waiting for an assignment, with a new plan to announce.
    s.eventsApplied++;
    p.rank = 0;
    s.phase = 'published';
    s.driverId = undefined;
    s.routeId = undefined;
    s.plannedRevision++;
    return 'applied';
  }
  s.eventsApplied++;
  switch (e.type) {
    case 'route.assigned.v1':
      s.driverId = e.data.driverId;
      s.routeId = e.data.routeId;
      p.assignedSequence = sequence;
      acceptEta(s, e.data.eta, sequence);
      break;
    case 'stop.started.v1':
      s.driverId = e.data.driverId;
      if (e.data.eta && acceptEta(s, e.data.eta, sequence) && options.etaDrift)
        applyPlay(s, etaDrift(s, e.time, settings, true));
      break;
    case 'stop.eta.v1':
      if (acceptEta(s, e.data.eta, sequence) && options.etaDrift)
        applyPlay(s, etaDrift(s, e.time, settings, true));
      return 'applied';
    case 'delivery.delayed.v1': {
      const accepted = acceptEta(s, e.data.eta, sequence);
      const play = delay(s, e.data.delaySeconds / 60, e.time, settings);
      applyPlay(s, play);
      // A delay notice already told the ERP and the customer: the drift is only noted, not announced again.
      const told = play.actions.some((a) => a.kind === 'notify');
      if (accepted && options.etaDrift) applyPlay(s, etaDrift(s, e.time, settings, !told));
      return 'applied';
    }
    case 'stop.arrived.v1':
      break;
    case 'delivery.completed.v1':
      s.pod = e.data.pod;
      s.mileageKm += e.data.mileageKm;
      s.liftgateUsed ||= e.data.accessorials.liftgate;
      s.waitingMinutes += e.data.accessorials.waitingMinutes;
      p.outcome = 'completed';
      break;
    case 'delivery.failed.v1':
      s.mileageKm += e.data.mileageKm;
      s.failures.push({ attempt: s.attempt, reason: e.data.reason });
      p.outcome = 'failed';
      p.failureReason = e.data.reason;
      break;
  }
  advanceTo(s, rank, e.time);
  return 'applied';
}

/** Applies the held events of the attempt just published, in the order they happened. */
export function releaseHeldEvents(s: ShipmentState, settings: ShipmentSettings, options?: ReducerOptions) {
  const ready = s.pendingEvents.filter((e) => e.data.attempt === s.attempt);
  s.pendingEvents = s.pendingEvents.filter((e) => e.data.attempt > s.attempt);
  ready.sort((a, b) => (a.sequence ?? Date.parse(a.time)) - (b.sequence ?? Date.parse(b.time)));
  for (const e of ready) applyDispatchEvent(s, e, settings, options);
}

/** Takes a newer ETA; false when the event is older than the ETA the shipment holds. */
function acceptEta(s: ShipmentState, eta: string, sequence: number): boolean {
  if (sequence <= s.progress.etaSequence) return false;
  s.progress.etaSequence = sequence;
  s.eta = eta;
  return true;
}

/** Queues the milestones implied by moving the current attempt to `rank`, and sets the phase. */
function advanceTo(s: ShipmentState, rank: number, at: string) {
  const p = s.progress;
  const from = p.rank;
  p.rank = rank;
  if (from < 1 && rank >= 1) {
    announcedPlan(s);
    queueMilestone(s, 'planned', at, { eta: s.eta, revision: s.plannedRevision });
    queuePlanNotice(s, s.plannedRevision ? `planned-r${s.plannedRevision}` : 'planned', 'is planned for');
  }
  if (from < 2 && rank >= 2) {
    if (s.attempt === 1) s.todo.push({ kind: 'goodsIssue' });
    queueMilestone(s, 'dispatched', at);
  }
  if (rank === 1) s.phase = 'planned';
  if (rank === 2 || rank === 3) s.phase = 'in_transit';
  if (rank === 4) s.phase = p.outcome === 'completed' ? 'delivered' : 'failed_attempt';
}

/** The plan just announced (assignment, reschedule) is the one ETA drift is measured from. */
export function announcedPlan(s: ShipmentState) {
  const p = s.progress;
  p.planEta = s.eta;
  p.etaDrifted = false;
  p.etaPastWindow = !!s.eta && Date.parse(s.eta) > Date.parse(s.window.end);
}

/** The system a queued side effect goes to: ERP and CRM effects are ordered within their own lane only. */
export function laneOf(a: Action): 'erp' | 'crm' {
  return a.kind === 'milestone' || a.kind === 'goodsIssue' ? 'erp' : 'crm';
}

/** Queues the customer notice that announces the current window and ETA. */
export function queuePlanNotice(s: ShipmentState, topic: string, verb: 'is planned for' | 'moved to') {
  s.todo.push(planNotice(s, topic, verb));
}

/** Applies a playbook's decision: queues its side effects and sets its progress flags. */
export function applyPlay(s: ShipmentState, play: Play) {
  s.todo.push(...play.actions);
  Object.assign(s.progress, play.progress);
  if (play.plannedRevision !== undefined) s.plannedRevision = play.plannedRevision;
}

/** Kinds of the cases still open. */
export function openExceptions(s: ShipmentState): ExceptionKind[] {
  return [...new Set(s.cases.filter((c) => c.open).map((c) => c.kind))];
}

/**
 * The open exceptions visibility shows, most urgent first: a passed SLA (it needs someone now), a parked side
 * effect (`outbound_rejected`), then the open cases.
 */
export function exceptionKinds(s: ShipmentState): string[] {
  return [
    ...(s.slaBreaches?.some((b) => b.open) ? ['sla_breached'] : []),
    ...(s.parked?.length ? ['outbound_rejected'] : []),
    ...openExceptions(s).filter((k) => k !== 'sla_breached'),
  ];
}

/** What visibility shows as the open exception: the most urgent of `exceptionKinds`. */
export function visibleException(s: ShipmentState): string {
  return exceptionKinds(s)[0] ?? 'none';
}

/** Keeps the latest resolutions of parked items for the status query, at most this many. */
const MAX_RESOLUTIONS_KEPT = 20;

/** Records what an operator did with a parked item and takes it off the parked list. */
export function resolveParked(s: ShipmentState, item: ParkedItem, r: Omit<ParkedResolution, 'id' | 'kind'>) {
  s.parked = (s.parked ?? []).filter((p) => p.id !== item.id);
  const entry: ParkedResolution = { id: item.id, kind: item.action.kind, ...r };
  s.parkedResolved = [...(s.parkedResolved ?? []), entry].slice(-MAX_RESOLUTIONS_KEPT);
}

/** The status query's view of the state. */
export function statusOf(s: ShipmentState): ShipmentStatus {
  return {
    shipmentId: s.shipmentId,
    deliveryId: s.order.deliveryId,
    customerId: s.order.customerId,
    region: s.order.region,
    phase: s.phase,
    window: s.window,
    eta: s.eta,
    taskId: s.taskIds[s.attempt],
    driverId: s.driverId,
    routeId: s.routeId,
    attempts: s.attempt,
    openCases: s.cases.filter((c) => c.open).map((c) => ({ caseId: c.caseId, kind: c.kind })),
    closedCases: s.cases.filter((c) => !c.open).length,
    caseIds: s.cases.map((c) => c.caseId),
    charges: s.charges,
    ...(s.pricingVersion ? { pricingVersion: s.pricingVersion } : {}),
    awaitingApproval: s.awaitingApproval,
    ...(s.approvals ? { approvals: s.approvals } : {}),
    ...(s.approvalsRequired ? { approvalsRequired: s.approvalsRequired } : {}),
    milestones: s.milestones,
    billingDocumentId: s.billingDocumentId,
    outcome: s.outcome,
    eventsApplied: s.eventsApplied,
    eventsIgnored: s.eventsIgnored,
    ignoredEvents: s.ignored ?? [],
    ...(s.parked ? { parked: s.parked } : {}),
    ...(s.parkedResolved ? { parkedResolved: s.parkedResolved } : {}),
    ...(s.billingSkipped ? { billingSkipped: s.billingSkipped } : {}),
    ...(s.slaBreaches ? { slaBreaches: s.slaBreaches } : {}),
    ...(s.manualPod ? { manualPod: s.manualPod } : {}),
    ...(s.operatorAction ? { operatorAction: s.operatorAction } : {}),
  };
}
