import { ActivityFailure, ApplicationFailure, log, upsertMemo } from '@temporalio/workflow';
import {
  accessorialTotal,
  billableQuantities,
  buildBillingDocument,
  computeCharges,
  type BillableFacts,
} from '../../domain/billing.js';
import type { Job } from '../../domain/model.js';
import { DISPATCH_TASK_MEMO, type DispatchTaskMemo } from './messages.js';
import { lanes, outcomeStands, statusFirst, taskMemo } from './patches.js';
import * as playbook from './playbooks.js';
import type { ShipmentRun } from './run.js';
import { failureCode } from './side-effects.js';
import { endSla, waitWithSla } from './sla.js';
import {
  applyPlay,
  freshProgress,
  isCancelled,
  queueMilestone,
  releaseHeldEvents,
  resolveParked,
} from './state.js';

/** The steps of a shipment's life, one per phase; each returns when the phase may have changed. */

/** Geocodes the address; a location it cannot find or a mismatch holds the shipment, else it publishes. */
export async function validateAddress(run: ShipmentRun) {
  await run.exclusive(async () => {
    const { s } = run;
    // Cancelled while waiting for its turn: nothing is published.
    if (run.operatorActions && isCancelled(s)) return;
    s.phase = 'validating';
    try {
      s.geo = await run.acts.dispatch.geocodeAddress(s.order.address);
    } catch (err) {
      if (failureCode(err) !== 'ADDRESS_NOT_FOUND') throw err;
      return holdForAddress(run, `the address of delivery ${s.order.deliveryId} could not be located`);
    }
    if (s.geo.mismatch && !s.addressCorrected) return holdForAddress(run, s.geo.mismatch);
    await publishAttempt(run);
  });
}

function holdForAddress(run: ShipmentRun, reason: string) {
  const { s } = run;
  s.phase = 'on_hold';
  s.addressCorrected = false;
  if (run.serialized)
    s.holdUntil = new Date(run.simNow() + run.settings.addressHoldMinutes * 60_000).toISOString();
  applyPlay(s, playbook.addressHold(s, reason));
}

/** Waits for a corrected address; then publishes (or resumes the published task), or returns the goods. */
export async function awaitAddress(run: ShipmentRun) {
  const { s } = run;
  const timeout = s.holdUntil ? run.until(s.holdUntil) : run.realMs(run.settings.addressHoldMinutes);
  // An operator's cancel or force-return ends the hold too (runs with the operator-actions patch).
  const overruled = () => run.operatorActions && (isCancelled(s) || s.phase !== 'on_hold');
  const woken = await run.wait(() => s.addressCorrected || overruled(), timeout);
  if (woken === 'continue' || overruled()) return;
  if (woken === 'ready') {
    s.holdUntil = undefined;
    await run.effects.closeCases('address_mismatch', 'Address corrected.');
    if (s.taskIds[s.attempt]) s.phase = 'published';
    else await validateAddress(run);
    return;
  }
  applyPlay(s, playbook.addressHoldExpired(s, run.nowIso()));
  beginReturn(run);
}

/** Creates the next attempt's dispatch task from the current window, address and location. */
async function publishAttempt(run: ShipmentRun) {
  const { s, settings } = run;
  const attempt = s.attempt + 1;
  const geo = s.geo;
  if (!geo) throw ApplicationFailure.nonRetryable('publishing without a geocoded address');
  const { order } = s;
  const job: Job = {
    shipmentId: run.shipmentId,
    deliveryId: order.deliveryId,
    attempt,
    region: order.region,
    location: geo.geo,
    address: order.address,
    recipient: order.recipient,
    window: s.window,
    quantity: order.pallets,
    weightKg: order.weightKg,
    hazmat: order.hazmat,
    serviceTimeSeconds: 300 + 120 * order.pallets,
    instructions: order.instructions,
    requirements: [...(order.hazmat ? ['hazmat'] : []), ...(order.liftgate ? ['liftgate'] : [])],
  };
  const { taskId } = await run.acts.dispatch.dispatchCreateTask({
    job,
    idempotencyKey: run.key('task', attempt),
  });
  // The attempt counts from here: events of it that arrived while the task was being created were held.
  s.attempt = attempt;
  s.progress = freshProgress();
  s.eta = undefined;
  s.taskIds[attempt] = taskId;
  if (taskMemo()) upsertMemo({ [DISPATCH_TASK_MEMO]: { attempt, taskId } satisfies DispatchTaskMemo });
  s.addressCorrected = false;
  s.noAssignmentEscalated = false;
  s.reattemptPending = undefined;
  s.phase = 'published';
  releaseHeldEvents(s, settings, run.reducerOptions());
  await run.acts.orchestration.ensureRegionPlanning({ region: order.region, date: run.planningDate() });
}

/** Waits for a driver: escalates after the planning cutoff's grace; at the window's end the attempt is lost. */
export async function awaitAssignment(run: ShipmentRun) {
  const { s, settings } = run;
  const cutoffHour = String(settings.planningCutoffHourUtc).padStart(2, '0');
  const cutoff = Date.parse(`${run.planningDate()}T${cutoffHour}:00:00.000Z`);
  const deadline = new Date(cutoff + settings.noAssignmentGraceMinutes * 60_000).toISOString();
  const changed = () => s.phase !== 'published' || s.todo.length > 0;
  if (!s.noAssignmentEscalated) {
    if ((await run.wait(changed, run.until(deadline))) === 'timeout') {
      s.noAssignmentEscalated = true;
      applyPlay(s, playbook.noAssignment(s, deadline));
    }
    return;
  }
  if ((await run.wait(changed, run.until(s.window.end))) !== 'timeout') return;
  await run.exclusive(async () => {
    if (run.serialized && changed()) return;
    // Still unassigned when the window closes: this attempt is lost; the playbook reattempts or returns.
    const taskId = s.taskIds[s.attempt];
    if (taskId) {
      try {
        await run.acts.dispatch.dispatchCancelTask({ taskId });
      } catch (err) {
        log.warn('could not cancel the unassigned task', { taskId, code: failureCode(err) });
      }
    }
    // A driver took the task and finished it while dispatch was cancelling it: that outcome stands.
    if (s.progress.outcome && outcomeStands()) return;
    s.failures.push({ attempt: s.attempt, reason: 'not_assigned' });
    s.progress.outcome = 'failed';
    s.progress.failureReason = 'not_assigned';
    s.phase = 'failed_attempt';
  });
}

/** Waits for the driver's outcome; no proof of delivery long after the window opens a case. */
export async function awaitOutcome(run: ShipmentRun) {
  const { s, settings } = run;
  const phase = s.phase;
  const changed = () => s.phase !== phase || s.todo.length > 0;
  if (s.progress.missingPodCase) {
    if (!run.operatorActions) {
      await run.wait(changed);
      return;
    }
    const woken = await waitWithSla(run, 'missing_pod', changed);
    if (woken === 'default') return missingPodDefault(run);
    if (s.phase === phase) return;
    // The driver starting the stop ends this wait too; the next one, still without proof, has a clock of its own.
    const started = s.phase === 'in_transit' && !s.progress.outcome;
    const note = started
      ? 'The driver started the stop: the proof of delivery is awaited under a new SLA.'
      : 'The attempt has an outcome.';
    await endSla(run, 'missing_pod', 'resolved', note);
    return;
  }
  const podDeadline = new Date(Date.parse(s.window.end) + settings.missingPodMinutes * 60_000).toISOString();
  if ((await run.wait(changed, run.until(podDeadline))) === 'timeout') {
    applyPlay(s, playbook.missingPod(s, settings));
  }
}

/**
 * Still no proof of delivery at the missing-POD SLA's second limit: the dispatch task is cancelled, the
 * attempt counts as failed (`no_pod`) and the failed-attempt playbook decides (another attempt or return).
 */
async function missingPodDefault(run: ShipmentRun) {
  const { s } = run;
  const applied = await run.exclusive(async () => {
    // The driver's outcome (or an operator's action) came first: it stands, the wait ends as resolved.
    if (s.progress.outcome || !['planned', 'in_transit'].includes(s.phase)) return false;
    const taskId = s.taskIds[s.attempt];
    if (taskId) {
      try {
        await run.acts.dispatch.dispatchCancelTask({ taskId });
      } catch (err) {
        log.warn('could not cancel the task without proof of delivery', { taskId, code: failureCode(err) });
      }
    }
    // The proof of delivery came while dispatch was cancelling the task: the delivery stands.
    if (s.progress.outcome && outcomeStands()) return false;
    s.failures.push({ attempt: s.attempt, reason: 'no_pod' });
    s.progress.outcome = 'failed';
    s.progress.failureReason = 'no_pod';
    s.phase = 'failed_attempt';
    return true;
  });
  if (!applied) return endSla(run, 'missing_pod', 'resolved', 'The attempt has an outcome.');
  const note = 'No proof of delivery within the SLA: the attempt counts as failed (sla-default).';
  await run.effects.closeCases('missing_pod', note);
  await endSla(run, 'missing_pod', 'default', note);
}

/** A failed attempt: the playbook decides between another attempt and returning the goods. */
export async function afterFailure(run: ShipmentRun) {
  const { s } = run;
  const play = playbook.failedAttempt(s, run.settings, run.nowIso(), run.timeZone);
  applyPlay(s, play);
  if (play.next === 'reattempt' && play.window) {
    s.window = play.window;
    s.reattemptPending = run.serialized;
    await run.effects.flush();
    await run.exclusive(async () => {
      if (!(run.operatorActions && isCancelled(s))) await publishAttempt(run);
    });
    return;
  }
  beginReturn(run);
}

/** The goods go back to the depot; the shipment bills what was done. */
function beginReturn(run: ShipmentRun) {
  run.s.phase = 'returned';
  run.s.outcome = 'returned';
}

/**
 * Queues the attempt's outcome milestone (delivered, failed attempt) as soon as it is known, so the ERP lane
 * posts it while the CRM lane may still be busy; the playbook then runs on the next pass.
 */
export function queueOutcomeMilestone(run: ShipmentRun) {
  const { s } = run;
  const p = s.progress;
  if (!p.outcome || p.outcomeQueued) return;
  if (p.outcome === 'completed' && s.phase !== 'delivered') return;
  if (p.outcome === 'failed' && s.phase !== 'failed_attempt') return;
  p.outcomeQueued = true;
  if (p.outcome === 'failed') queueMilestone(s, 'failed_attempt', run.nowIso());
  else recordDelivered(run);
}

/** The delivered outcome: its ERP milestone queued, the shipment on to billing. */
export function recordDelivered(run: ShipmentRun) {
  const { s } = run;
  s.outcome = 'delivered';
  queueMilestone(s, 'delivered', s.pod?.deliveredAt ?? run.nowIso());
  s.phase = 'billing';
}

/** What a signal or a pass of the loop does first: outcome milestone queued, status published (patched). */
export function followUp(run: ShipmentRun) {
  if (lanes()) queueOutcomeMilestone(run);
  // Visibility shows the phase before its side effects run, so it follows the shipment under load too.
  if (statusFirst()) run.publishStatus();
}

/** Bills once: charges (finance approves those over the threshold), the ERP billing post, cases closed. */
export async function bill(run: ShipmentRun) {
  const { s, settings } = run;
  if (s.charges.length === 0 && !s.billingSkipped) {
    if (!run.pricedByErp) s.charges = computeCharges(billableFacts(run));
    else if (!(await priceOrParkCharges(run))) return;
  }
  if (accessorialTotal(s.charges) > settings.approvalThreshold && !s.approvedBy) {
    s.phase = 'awaiting_approval';
    s.awaitingApproval = true;
    if (run.fourEyes) s.approvalsRequired = run.approvalsNeeded();
    run.publishStatus();
    if (!run.operatorActions) {
      if ((await run.wait(() => s.approvedBy !== undefined)) === 'continue') return;
    } else {
      const woken = await waitWithSla(run, 'approval', () => s.approvedBy !== undefined);
      if (woken === 'continue') return;
      if (woken === 'default') approvalDefault(run);
      await endSla(
        run,
        'approval',
        woken === 'default' ? 'default' : 'resolved',
        `Charges decided by ${s.approvedBy ?? 'finance'}.`,
      );
    }
  }
  s.phase = 'billing';
  if (!s.billingDocumentId && !s.billingSkipped) {
    if (!(await postOrParkBilling(run))) return;
  }
  if (s.billingDocumentId && !s.billedQueued) {
    s.billedQueued = true;
    queueMilestone(s, 'billed', run.nowIso(), { attempt: Math.max(1, s.attempt) });
  }
  s.awaitingApproval = false;
  await run.effects.flush();
  // Nothing closes over a parked side effect: once closed, no operator could act on it.
  if (run.parking && s.parked?.length) {
    if ((await waitParked(run, () => !s.parked?.length)) === 'continue') return;
  }
  const billed = s.billingDocumentId
    ? `billed as ${s.billingDocumentId}`
    : `not billed (${s.billingSkipped ?? 'skipped'})`;
  await run.effects.closeCases(undefined, `Shipment closed: ${s.outcome ?? 'unknown'}, ${billed}.`);
  s.phase = 'closed';
}

/** What happened on the road, as billing counts it. */
function billableFacts(run: ShipmentRun): BillableFacts {
  const { s, settings } = run;
  return {
    order: s.order,
    attempts: s.attempt,
    delivered: s.outcome === 'delivered',
    mileageKm: s.mileageKm,
    liftgateUsed: s.liftgateUsed,
    waitingMinutes: s.waitingMinutes,
    freeWaitingMinutes: settings.freeWaitingMinutes,
  };
}

/**
 * The ERP prices the quantities the shipment counted (its condition records valid today, in simulated time)
 * and names the version of the prices used.
 */
export async function priceCharges(run: ShipmentRun) {
  const { s } = run;
  const priced = await run.acts.erp.erpPriceCharges({
    quantities: billableQuantities(billableFacts(run)),
    pricingDate: run.nowIso(),
  });
  s.charges = priced.charges;
  s.pricingVersion = priced.pricingVersion;
}

/**
 * Prices the charges through the ERP. Prices the ERP cannot give (a condition type without a valid record,
 * a record in another unit) park the pricing for an operator, who retries once the ERP is fixed or skips
 * billing with a reason. False when the run should continue as new first.
 */
async function priceOrParkCharges(run: ShipmentRun): Promise<boolean> {
  const { s } = run;
  if (!s.parked?.some((p) => p.action.kind === 'pricing')) {
    try {
      await priceCharges(run);
      return true;
    } catch (err) {
      if (!run.parking || !(err instanceof ActivityFailure)) throw err;
      run.effects.park({ kind: 'pricing' }, err);
    }
  }
  const settled = () => s.charges.length > 0 || !!s.billingSkipped;
  return (await waitParked(run, settled)) !== 'continue';
}

/**
 * Posts the billing document. A post the ERP rejects for good is parked (runs with the patch; older runs
 * fail as they did) and the shipment waits for an operator to retry or skip it. False when the run should
 * continue as new first.
 */
async function postOrParkBilling(run: ShipmentRun): Promise<boolean> {
  const { s } = run;
  const parked = () => s.parked?.some((p) => p.action.kind === 'billing') ?? false;
  if (!parked()) {
    try {
      await postBilling(run);
      return true;
    } catch (err) {
      if (!run.parking || !(err instanceof ActivityFailure)) throw err;
      run.effects.park({ kind: 'billing' }, err);
    }
  }
  const settled = () => !!s.billingDocumentId || !!s.billingSkipped;
  return (await waitParked(run, settled)) !== 'continue';
}

/** Waits for operators to resolve parked work; with the SLA patch it escalates, again and again, meanwhile. */
async function waitParked(run: ShipmentRun, ready: () => boolean) {
  if (!run.operatorActions) return run.wait(ready);
  const woken = await waitWithSla(run, 'parked', ready);
  if (woken === 'ready') await endSla(run, 'parked', 'resolved', 'Parked side effects resolved.');
  return woken;
}

/** Charges still undecided at the approval SLA's second limit: the accessorials go, the base is billed. */
function approvalDefault(run: ShipmentRun) {
  const { s } = run;
  s.charges = s.charges.filter((c) => c.code === 'BASE' || c.code === 'MILEAGE');
  s.approvals = [...(s.approvals ?? []), { principal: SLA_DEFAULT, decision: 'rejected', at: run.nowIso() }];
  s.approvedBy = SLA_DEFAULT;
}

/** The principal recorded for decisions an SLA's default made. */
export const SLA_DEFAULT = 'sla-default';

/**
 * Closes a shipment an operator cancelled: its cancelled milestone and notice go out, parked work is
 * dropped (there is nothing left to do it for), SLAs end, every case is closed, nothing is billed.
 */
export async function closeCancelled(run: ShipmentRun) {
  const { s } = run;
  const { by = 'operator', reason = '' } = s.operatorAction ?? {};
  await run.effects.flush();
  for (const item of [...(s.parked ?? [])]) {
    resolveParked(s, item, { outcome: 'skipped', by, reason: 'shipment cancelled', at: run.nowIso() });
  }
  const note = `Shipment cancelled by ${by}: ${reason}. Nothing is billed.`;
  for (const kind of ['approval', 'missing_pod', 'parked'] as const)
    await endSla(run, kind, 'resolved', note);
  await run.effects.closeCases(undefined, note);
  s.awaitingApproval = false;
  s.phase = 'closed';
}

/** The ERP billing post, naming both approvers of a four-eyes approval, else the one who decided. */
export async function postBilling(run: ShipmentRun) {
  const { s } = run;
  const approvers = (s.approvals ?? []).filter((a) => a.decision === 'approved').map((a) => a.principal);
  const twoApprovers = run.fourEyes && approvers.length >= 2 && s.approvedBy === approvers.join(' & ');
  const doc = buildBillingDocument({
    shipmentId: run.shipmentId,
    order: s.order,
    charges: s.charges,
    approvedBy: twoApprovers ? approvers[0] : s.approvedBy,
    ...(twoApprovers ? { secondApprovedBy: approvers[1] } : {}),
    ...(s.pricingVersion ? { pricingVersion: s.pricingVersion } : {}),
  });
  const { billingDocumentId } = await run.acts.erp.erpPostBilling({
    doc,
    idempotencyKey: run.key('billing'),
  });
  s.billingDocumentId = billingDocumentId;
}
