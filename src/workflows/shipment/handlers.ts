import {
  ActivityFailure,
  ApplicationFailure,
  currentUpdateInfo,
  log,
  setHandler,
} from '@temporalio/workflow';
import { ERROR_CODES, type ErrorCode } from '../../domain/errors.js';
import type {
  AddressCorrection,
  ChargeApproval,
  ManualPod,
  OperatorDecision,
  ParkedEdit,
  ParkedEdits,
  ParkedRef,
  RescheduleRequest,
} from './contract.js';
import {
  approveChargesUpdate,
  cancelShipmentUpdate,
  correctAddressUpdate,
  forceReturnUpdate,
  recordPodUpdate,
  dispatchEventSignal,
  editAndRetryUpdate,
  rescheduleUpdate,
  resolveExceptionUpdate,
  retryParkedUpdate,
  skipParkedUpdate,
  statusQuery,
  type ApprovalResult,
  type OperatorActionResult,
  type ParkedOutcome,
  type RescheduleResult,
} from './messages.js';
import { serviceDays, shipmentSchemas as schemas } from '../lazy.js';
import { rescheduleAnswersFirst, rescheduleLocalDispatch } from './patches.js';
import { refusedReschedule } from './playbooks.js';
import type { ShipmentRun } from './run.js';
import { failureCode } from './side-effects.js';
import { followUp, postBilling, priceCharges } from './steps.js';
import {
  actionResult,
  announcedPlan,
  applyDispatchEvent,
  ignore,
  queueMilestone,
  queuePlanNotice,
  resolveParked,
  statusOf,
  type ParkableAction,
  type ParkedItem,
} from './state.js';

/** Phases in which the window and the address can still move; from out-for-delivery on they cannot. */
const RESCHEDULABLE = ['released', 'validating', 'on_hold', 'published', 'planned'] as const;

function reject(code: ErrorCode, message: string): never {
  throw ApplicationFailure.create({ type: code, message, nonRetryable: true });
}

/** An activity's failure as the update's own typed failure, so the caller sees the vendor's code and reason. */
async function typed<T>(call: Promise<T>, fallback: ErrorCode): Promise<T> {
  try {
    return await call;
  } catch (err) {
    throw asTyped(err, fallback);
  }
}

function asTyped(err: unknown, fallback: ErrorCode): unknown {
  if (!(err instanceof ActivityFailure)) return err;
  const message = err.cause instanceof ApplicationFailure ? err.cause.message : err.message;
  return ApplicationFailure.create({ type: failureCode(err) ?? fallback, message, nonRetryable: true });
}

/** Whether the window can still move: before out-for-delivery, or while the next attempt is being set up. */
function canMove({ s, serialized }: ShipmentRun): boolean {
  if ((RESCHEDULABLE as readonly string[]).includes(s.phase)) return true;
  return serialized && s.phase === 'failed_attempt' && !!s.reattemptPending;
}

function checkReschedule(run: ShipmentRun, raw: unknown): RescheduleRequest {
  const parsed = schemas().RescheduleRequest.safeParse(raw);
  if (!parsed.success)
    reject('RESCHEDULE_WINDOW_INVALID', parsed.error.issues[0]?.message ?? 'invalid window');
  const { start, end } = parsed.data.window;
  const { phase, order } = run.s;
  if (!canMove(run)) reject('RESCHEDULE_TOO_LATE', `shipment is ${phase}; the window can no longer move`);
  if (Date.parse(start) <= run.simNow())
    reject('RESCHEDULE_WINDOW_IN_PAST', `window start ${start} is in the past`);
  if (Date.parse(end) - Date.parse(start) > 12 * 3600_000)
    reject('RESCHEDULE_WINDOW_INVALID', 'a window may span at most 12 hours');
  const weekday = serviceDays().isoWeekday(start, run.timeZone);
  if (!order.serviceDays.includes(weekday))
    reject('RESCHEDULE_NOT_SERVICE_DAY', `the customer does not take deliveries on ISO weekday ${weekday}`);
  return parsed.data;
}

function checkAddress(run: ShipmentRun, raw: unknown): AddressCorrection {
  const parsed = schemas().AddressCorrection.safeParse(raw);
  if (!parsed.success) reject('VALIDATION_FAILED', parsed.error.issues[0]?.message ?? 'invalid address');
  if (!(RESCHEDULABLE as readonly string[]).includes(run.s.phase))
    reject('ADDRESS_CORRECTION_NOT_EXPECTED', `shipment is ${run.s.phase}; the address can no longer change`);
  return parsed.data;
}

function checkApproval(run: ShipmentRun, raw: unknown): ChargeApproval {
  const parsed = schemas().ChargeApproval.safeParse(raw);
  if (!parsed.success) reject('VALIDATION_FAILED', 'approvedBy is required');
  const { s } = run;
  if (!s.awaitingApproval || s.approvedBy)
    reject('APPROVAL_NOT_PENDING', 'no charges are waiting for approval');
  const { approvedBy, approve } = parsed.data;
  if (run.fourEyes && approve && (s.approvals ?? []).some((a) => a.principal === approvedBy)) {
    reject(
      'APPROVAL_SAME_PRINCIPAL',
      `${approvedBy} already approved these charges; a second, different finance principal must approve`,
    );
  }
  return parsed.data;
}

/**
 * Records a finance decision (runs with the four-eyes patch). A rejection decides at once: the accessorials
 * go, so nothing above a threshold is billed. An approval decides once the charges have as many approvals
 * from different principals as they need; until then it is pending.
 */
function decideCharges(run: ShipmentRun, { approvedBy, approve }: ChargeApproval): ApprovalResult {
  const { s } = run;
  const required = run.approvalsNeeded();
  s.approvals = [
    ...(s.approvals ?? []),
    { principal: approvedBy, decision: approve ? 'approved' : 'rejected', at: run.nowIso() },
  ];
  let status: ApprovalResult['status'];
  if (!approve) {
    s.charges = s.charges.filter((c) => c.code === 'BASE' || c.code === 'MILEAGE');
    s.approvedBy = approvedBy;
    status = 'rejected';
  } else {
    const approvers = s.approvals.filter((a) => a.decision === 'approved').map((a) => a.principal);
    if (approvers.length >= required) {
      s.approvedBy = approvers.join(' & ');
      status = 'approved';
    } else status = 'pending';
  }
  const total = s.charges.reduce((sum, c) => sum + c.amount, 0);
  return {
    shipmentId: run.shipmentId,
    total: Math.round(total * 100) / 100,
    status,
    approvals: s.approvals,
    approvalsRequired: required,
  };
}

/**
 * Moves the window. Dispatch confirms first: the window, the plan revision and the ETA change only once the
 * task was rescheduled (runs recorded before the patch moved the window first).
 */
async function reschedule(run: ShipmentRun, req: RescheduleRequest): Promise<RescheduleResult> {
  const { s } = run;
  const move = () => {
    s.window = req.window;
    s.plannedRevision++;
  };
  if (!run.serialized) move();
  const taskId = s.taskIds[s.attempt];
  if (taskId && !s.progress.outcome) {
    const ask = { taskId, window: req.window };
    const reply = rescheduleLocalDispatch()
      ? run.acts.local.dispatchRescheduleTask(ask)
      : run.acts.dispatch.dispatchRescheduleTask(ask);
    const { eta } = await typed(reply, 'DISPATCH_UNAVAILABLE');
    // The driver may have finished while dispatch answered: then nothing moved for the customer.
    if (run.serialized && s.progress.outcome)
      reject('RESCHEDULE_TOO_LATE', `shipment is ${s.phase}; the window can no longer move`);
    if (run.serialized) move();
    if (eta) s.eta = eta;
    const planning = run.acts.orchestration.ensureRegionPlanning({
      region: s.order.region,
      date: run.planningDate(),
    });
    if (rescheduleAnswersFirst()) {
      // The answer does not wait for it; it retries until the region's planning is there.
      planning.catch((err: unknown) =>
        log.warn('region planning of a moved window failed', { error: String(err) }),
      );
    } else await planning;
  } else if (run.serialized) move();
  if (s.progress.rank >= 1) {
    queueMilestone(s, 'planned', run.nowIso(), { eta: s.eta, revision: s.plannedRevision });
    // The moved plan is the one ETA drift is measured from now (runs with the patch).
    if (run.etaDrift) announcedPlan(s);
  }
  queuePlanNotice(s, `rescheduled-${s.plannedRevision}`, 'moved to');
  // The delivery date in visibility follows the moved window at once (runs with the patch).
  if (run.attributesFollowState) run.publishStatus();
  return { shipmentId: run.shipmentId, window: s.window, eta: s.eta };
}

/** The ticket a reschedule request came from, when it came from a customer's CRM ticket. */
function ticketOf(raw: unknown): { ticketId: string; request: RescheduleRequest } | undefined {
  const parsed = schemas().RescheduleRequest.safeParse(raw);
  const ticketId = parsed.success ? parsed.data.ticketId : undefined;
  return ticketId && parsed.data ? { ticketId, request: parsed.data } : undefined;
}

/** The typed business refusal in a failure, when retrying cannot change it (a vendor outage can). */
function refusalOf(err: unknown): { code: string; message: string } | undefined {
  if (!(err instanceof ApplicationFailure) || !err.type) return undefined;
  const known = (ERROR_CODES as Record<string, { retryable: boolean }>)[err.type];
  if (known?.retryable) return undefined;
  return { code: err.type, message: err.message };
}

/**
 * A reschedule asked for on a customer's CRM ticket (runs with the eta-drift-replies patch). Its checks run
 * in the handler rather than the validator, so that a refusal is recorded and answered: the customer gets a
 * public reply on the ticket with the reason, then the request fails with its code as before.
 */
async function rescheduleFromTicket(
  run: ShipmentRun,
  raw: unknown,
  from: { ticketId: string; request: RescheduleRequest },
): Promise<RescheduleResult> {
  try {
    return await run.exclusive(() => reschedule(run, checkReschedule(run, raw)));
  } catch (err) {
    const refusal = refusalOf(err);
    if (!refusal) throw err;
    const ref = currentUpdateInfo()?.id ?? `${from.request.window.start}`;
    const request = { ticketId: from.ticketId, window: from.request.window };
    await run.effects.sendNow(refusedReschedule(run.s, request, refusal, ref));
    run.publishStatus();
    throw ApplicationFailure.create({
      type: refusal.code,
      message: refusal.message,
      nonRetryable: true,
      details: [{ answeredOnTicket: from.ticketId }],
    });
  }
}

/** Takes a corrected address: a published task gets it with its new location; a held shipment resumes. */
async function correctAddress(run: ShipmentRun, { address }: AddressCorrection) {
  const { s } = run;
  const taskId = s.taskIds[s.attempt];
  if (s.phase !== 'on_hold' && taskId && !s.progress.outcome) {
    if (!run.serialized) s.order = { ...s.order, address };
    const geo = await typed(run.acts.dispatch.geocodeAddress(address), 'DISPATCH_UNAVAILABLE');
    const update = run.acts.dispatch.dispatchUpdateDestination({ taskId, address, location: geo.geo });
    await typed(update, 'DISPATCH_UNAVAILABLE');
    s.order = { ...s.order, address };
    s.geo = geo;
  } else {
    s.order = { ...s.order, address };
    s.addressCorrected = true;
  }
  return { shipmentId: run.shipmentId, phase: s.phase };
}

/** The fields each kind of side effect lets an operator change (see `ParkedEdits`). */
const EDITABLE: Record<string, readonly (keyof ParkedEdits)[]> = {
  milestone: ['occurredAt', 'eta'],
  notify: ['message'],
  openCase: ['subject', 'description', 'priority'],
  goodsIssue: [],
  billing: [],
  pricing: [],
  reply: ['message'],
  raisePriority: [],
};

/** The parked item an operator names, checked against what the shipment holds. */
function findParked(run: ShipmentRun, schema: typeof ParkedRef, raw: unknown): ParkedItem {
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    reject('VALIDATION_FAILED', parsed.error.issues[0]?.message ?? 'invalid parked item reference');
  const item = run.s.parked?.find((p) => p.id === parsed.data.parkedId);
  if (!item) reject('PARKED_NOT_FOUND', `no parked side effect ${parsed.data.parkedId} on this shipment`);
  if (run.resending.has(item.id)) reject('PARKED_IN_PROGRESS', `${item.id} is being sent again right now`);
  return item;
}

function checkEdit(run: ShipmentRun, raw: unknown): { item: ParkedItem; edit: ParkedEdit } {
  const item = findParked(run, schemas().ParkedRef, raw);
  const parsed = schemas().ParkedEdit.safeParse(raw);
  if (!parsed.success) reject('PARKED_EDIT_INVALID', parsed.error.issues[0]?.message ?? 'invalid edits');
  const allowed = EDITABLE[item.action.kind] ?? [];
  const wrong = Object.keys(parsed.data.edits).filter((k) => !allowed.includes(k as keyof ParkedEdits));
  if (wrong.length > 0) {
    const may = allowed.length
      ? `only ${allowed.join(', ')}`
      : 'nothing: fix the data at the vendor and retry';
    reject('PARKED_EDIT_INVALID', `a parked ${item.action.kind} cannot change ${wrong.join(', ')}; ${may}`);
  }
  return { item, edit: parsed.data };
}

/** Sends a parked side effect (maybe edited) again through the path that first sent it. */
async function resendParked(run: ShipmentRun, item: ParkedItem, by: string): Promise<ParkedOutcome> {
  const post = (a: ParkableAction) =>
    a.kind === 'billing' ? postBilling(run) : a.kind === 'pricing' ? priceCharges(run) : run.effects.send(a);
  run.resending.add(item.id);
  try {
    await run.effects.resend(item, post, by);
  } finally {
    run.resending.delete(item.id);
  }
  return outcome(run, item, 'posted');
}

function outcome(run: ShipmentRun, item: ParkedItem, result: ParkedOutcome['outcome']): ParkedOutcome {
  const stillParked = run.s.parked?.length ?? 0;
  return { shipmentId: run.shipmentId, parkedId: item.id, outcome: result, stillParked };
}

/** The operator actions on parked side effects: retry as is, edit and retry, or skip with a reason. */
function registerParkedHandlers(run: ShipmentRun) {
  setHandler(
    retryParkedUpdate,
    async (raw) =>
      resendParked(run, findParked(run, schemas().ParkedRef, raw), schemas().ParkedRef.parse(raw).by),
    { validator: (raw) => void findParked(run, schemas().ParkedRef, raw) },
  );
  setHandler(
    editAndRetryUpdate,
    async (raw) => {
      const { item, edit } = checkEdit(run, raw);
      // The edited fields replace the old ones; what the vendor then accepts is what the shipment records.
      item.action = { ...item.action, ...edit.edits };
      return resendParked(run, item, edit.by);
    },
    { validator: (raw) => void checkEdit(run, raw) },
  );
  setHandler(
    skipParkedUpdate,
    (raw) => {
      const item = findParked(run, schemas().ParkedSkip, raw);
      const { by, reason } = schemas().ParkedSkip.parse(raw);
      // Without prices nothing can be billed: a skipped pricing closes the shipment unbilled too.
      if (item.action.kind === 'billing' || item.action.kind === 'pricing') run.s.billingSkipped = reason;
      resolveParked(run.s, item, { outcome: 'skipped', by, reason, at: run.nowIso() });
      run.publishStatus();
      return outcome(run, item, 'skipped');
    },
    { validator: (raw) => void findParked(run, schemas().ParkedSkip, raw) },
  );
}

/** Phases in which an attempt is with a driver and a proof of delivery can be recorded by hand. */
const WITH_DRIVER = ['planned', 'in_transit'] as const;
/** Phases from which an operator may cancel the shipment: before any outcome. */
const CANCELLABLE = ['released', 'validating', 'on_hold', 'published', 'planned', 'in_transit'] as const;
/** Phases from which an operator may send the goods back to the depot. */
const RETURNABLE = ['on_hold', 'published', 'planned', 'in_transit'] as const;

const inPhase = (run: ShipmentRun, phases: readonly string[]) =>
  phases.includes(run.s.phase) && !run.s.progress.outcome && !run.s.operatorAction;

function checkPod(run: ShipmentRun, raw: unknown): ManualPod {
  const parsed = schemas().ManualPod.safeParse(raw);
  if (!parsed.success) reject('VALIDATION_FAILED', parsed.error.issues[0]?.message ?? 'invalid proof');
  if (!inPhase(run, WITH_DRIVER))
    reject('POD_NOT_EXPECTED', `shipment is ${run.s.phase}; no attempt is waiting for a proof of delivery`);
  return parsed.data;
}

function checkDecision(run: ShipmentRun, raw: unknown, action: 'cancel' | 'force_return'): OperatorDecision {
  const parsed = schemas().OperatorDecision.safeParse(raw);
  if (!parsed.success) reject('VALIDATION_FAILED', parsed.error.issues[0]?.message ?? 'a reason is required');
  const { s } = run;
  if (action === 'cancel' && !inPhase(run, CANCELLABLE))
    reject(
      'CANCEL_NOT_ALLOWED',
      `shipment is ${s.phase}${s.outcome ? ` (${s.outcome})` : ''}; it can no longer be cancelled`,
    );
  if (action === 'force_return' && !inPhase(run, RETURNABLE))
    reject('RETURN_NOT_ALLOWED', `shipment is ${s.phase}; its goods cannot be sent back now`);
  return parsed.data;
}

/**
 * A proof of delivery recorded by hand: the missing-POD case is closed with the evidence, then the attempt
 * counts as delivered and the shipment goes on to billing.
 */
async function recordPod(run: ShipmentRun, pod: ManualPod): Promise<OperatorActionResult> {
  const { s } = run;
  const at = run.nowIso();
  const note = `Proof of delivery recorded by hand by ${pod.by}: ${pod.evidence}`;
  await run.effects.closeCases('missing_pod', note);
  // The driver's own outcome may have arrived while the case was being closed: it stands.
  if (s.progress.outcome) return actionResult(s);
  s.pod = {
    deliveredAt: pod.deliveredAt ?? at,
    location: s.geo?.geo ?? { lat: 0, lng: 0 },
    photoIds: [],
    notes: note.slice(0, 1000),
  };
  s.manualPod = { by: pod.by, evidence: pod.evidence, at };
  s.progress.outcome = 'completed';
  s.progress.rank = 4;
  s.phase = 'delivered';
  followUp(run);
  return actionResult(s);
}

/** Cancels the attempt's dispatch task; a task dispatch no longer knows needs no cancelling. */
async function cancelTask(run: ShipmentRun) {
  const taskId = run.s.taskIds[run.s.attempt];
  if (!taskId || run.s.progress.outcome) return;
  try {
    await run.acts.dispatch.dispatchCancelTask({ taskId });
  } catch (err) {
    if (failureCode(err) === 'DISPATCH_TASK_NOT_FOUND') return;
    throw asTyped(err, 'DISPATCH_UNAVAILABLE');
  }
}

/**
 * Cancels the shipment. Dispatch first (the task is cancelled before anything changes here); then the ERP
 * gets a cancelled milestone and the customer a notice, and the main loop closes the cases without billing.
 */
async function cancelShipment(run: ShipmentRun, d: OperatorDecision): Promise<OperatorActionResult> {
  const { s } = run;
  await cancelTask(run);
  if (s.progress.outcome)
    reject(
      'CANCEL_NOT_ALLOWED',
      `the attempt ended (${s.progress.outcome}) while dispatch was cancelling it`,
    );
  const at = run.nowIso();
  s.operatorAction = { action: 'cancel', by: d.by, reason: d.reason, at };
  s.outcome = 'cancelled';
  queueMilestone(s, 'cancelled', at, { attempt: Math.max(1, s.attempt) });
  s.todo.push({
    kind: 'notify',
    topic: 'cancelled',
    attempt: Math.max(1, s.attempt),
    message: `Your delivery ${s.order.deliveryId} was cancelled; our team will contact you.`,
  });
  run.publishStatus();
  return actionResult(s);
}

/** Sends the goods back to the depot: the task is cancelled, a returned milestone, then billing as returned. */
async function forceReturn(run: ShipmentRun, d: OperatorDecision): Promise<OperatorActionResult> {
  const { s } = run;
  await cancelTask(run);
  if (s.progress.outcome)
    reject(
      'RETURN_NOT_ALLOWED',
      `the attempt ended (${s.progress.outcome}) while dispatch was cancelling it`,
    );
  const at = run.nowIso();
  s.operatorAction = { action: 'force_return', by: d.by, reason: d.reason, at };
  const attempt = Math.max(1, s.attempt);
  queueMilestone(s, 'returned', at, { attempt });
  s.todo.push({
    kind: 'notify',
    topic: 'returning',
    attempt,
    message: 'Your goods are returning to our depot; our team will contact you.',
  });
  s.phase = 'returned';
  s.outcome = 'returned';
  run.publishStatus();
  return actionResult(s);
}

/**
 * The operator actions on a whole shipment (runs with the operator-actions-sla patch). Each takes its turn
 * with the dispatch writes and checks its precondition again once it is its turn.
 */
function registerOperatorHandlers(run: ShipmentRun) {
  setHandler(recordPodUpdate, (raw) => run.exclusive(() => recordPod(run, checkPod(run, raw))), {
    validator: (raw) => void checkPod(run, raw),
  });
  setHandler(
    cancelShipmentUpdate,
    (raw) => run.exclusive(() => cancelShipment(run, checkDecision(run, raw, 'cancel'))),
    { validator: (raw) => void checkDecision(run, raw, 'cancel') },
  );
  setHandler(
    forceReturnUpdate,
    (raw) => run.exclusive(() => forceReturn(run, checkDecision(run, raw, 'force_return'))),
    { validator: (raw) => void checkDecision(run, raw, 'force_return') },
  );
}

/**
 * The shipment's signal, query and updates. Updates that write to dispatch take turns with each other and
 * with the main loop's dispatch writes, and check their preconditions again once it is their turn.
 */
export function registerHandlers(run: ShipmentRun) {
  const { s } = run;
  if (run.parking) registerParkedHandlers(run);
  if (run.operatorActions) registerOperatorHandlers(run);
  setHandler(dispatchEventSignal, (event) => {
    try {
      applyDispatchEvent(s, event, run.settings, run.reducerOptions());
    } catch (err) {
      ignore(s, { id: String(event?.id), type: String(event?.type) }, 'unreadable');
      log.warn('dispatch event could not be applied', { eventId: event?.id, error: String(err) });
    }
    // The outcome's milestone goes to the ERP lane at once, even while the main loop waits on the CRM lane.
    followUp(run);
  });
  setHandler(statusQuery, () => statusOf(s));
  // A request from a customer's ticket is checked in the handler, so that a refusal can be answered there.
  const answerable = (raw: unknown) => (run.etaDrift ? ticketOf(raw) : undefined);
  setHandler(
    rescheduleUpdate,
    (raw) => {
      const from = answerable(raw);
      if (from) return rescheduleFromTicket(run, raw, from);
      return run.exclusive(() =>
        reschedule(run, run.serialized ? checkReschedule(run, raw) : schemas().RescheduleRequest.parse(raw)),
      );
    },
    { validator: (raw) => void (answerable(raw) ?? checkReschedule(run, raw)) },
  );
  setHandler(
    correctAddressUpdate,
    (raw) =>
      run.exclusive(() =>
        correctAddress(run, run.serialized ? checkAddress(run, raw) : schemas().AddressCorrection.parse(raw)),
      ),
    { validator: (raw) => void checkAddress(run, raw) },
  );
  setHandler(
    approveChargesUpdate,
    (raw): ApprovalResult => {
      if (run.fourEyes) return decideCharges(run, checkApproval(run, raw));
      const decision = schemas().ChargeApproval.parse(raw);
      if (!decision.approve) s.charges = s.charges.filter((c) => c.code === 'BASE' || c.code === 'MILEAGE');
      s.approvedBy = decision.approvedBy;
      const total = s.charges.reduce((sum, c) => sum + c.amount, 0);
      return { shipmentId: run.shipmentId, total: Math.round(total * 100) / 100 };
    },
    { validator: (raw) => void checkApproval(run, raw) },
  );
  setHandler(
    resolveExceptionUpdate,
    async (raw) => {
      const { kind, resolution } = schemas().ExceptionResolution.parse(raw);
      await run.effects.closeCases(kind, resolution);
      if (run.serialized) run.publishStatus();
      return { shipmentId: run.shipmentId, openCases: s.cases.filter((c) => c.open).length };
    },
    {
      validator: (raw) => {
        const parsed = schemas().ExceptionResolution.safeParse(raw);
        if (!parsed.success)
          reject('VALIDATION_FAILED', parsed.error.issues[0]?.message ?? 'invalid resolution');
        if (!s.cases.some((c) => c.open && c.kind === parsed.data.kind))
          reject('EXCEPTION_NOT_OPEN', `no open ${parsed.data.kind} case`);
      },
    },
  );
}
