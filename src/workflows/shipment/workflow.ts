import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { CrmActivities } from '../../activities/crm.js';
import type { DispatchActivities } from '../../activities/dispatch.js';
import type { ErpActivities } from '../../activities/erp.js';
import type { OrchestrationActivities } from '../../activities/orchestration.js';
import {
  accessorialTotal,
  buildBillingDocument,
  computeCharges,
  isoWeekday,
  nextServiceWindow,
} from '../../domain/billing.js';
import { realDuration, simAt } from '../../domain/clock.js';
import type { ErrorCode } from '../../domain/errors.js';
import type { ExceptionKind, Job } from '../../domain/model.js';
import {
  AddressCorrection,
  ChargeApproval,
  ExceptionResolution,
  RescheduleRequest,
  taskQueues,
  approveChargesUpdate,
  correctAddressUpdate,
  dispatchEventSignal,
  rescheduleUpdate,
  resolveExceptionUpdate,
  statusQuery,
  type ShipmentInput,
  type ShipmentResult,
} from './contract.js';
import { SA } from './search-attributes.js';
import {
  applyDispatchEvent,
  queuePlanNotice,
  releaseHeldEvents,
  freshProgress,
  initialState,
  laneOf,
  openExceptions,
  statusOf,
  type Action,
  type ShipmentState,
} from './state.js';

const retry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' } as const;

/** Patch id of the change that runs ERP and CRM side effects as two lanes instead of one queue. */
export const SIDE_EFFECT_LANES_PATCH = 'side-effect-lanes';
/** Patch id of the change that publishes the search attributes before the queued side effects run. */
export const STATUS_FIRST_PATCH = 'status-before-side-effects';

/** Activity stubs on the task queues of one deployment; retries are unlimited, non-retryable codes stop them. */
function activitiesOn(prefix: string) {
  const q = taskQueues(prefix);
  const options = { startToCloseTimeout: '30s', retry } as const;
  return {
    erp: proxyActivities<ErpActivities>({ ...options, taskQueue: q.erp }),
    dispatch: proxyActivities<DispatchActivities>({ ...options, taskQueue: q.dispatch }),
    crm: proxyActivities<CrmActivities>({ ...options, taskQueue: q.crm }),
    orchestration: proxyActivities<OrchestrationActivities>({ ...options, taskQueue: q.shipments }),
  };
}

/** Phases in which the window can still move; from out-for-delivery on it cannot. */
const RESCHEDULABLE = ['released', 'validating', 'on_hold', 'published', 'planned'] as const;

function reject(code: ErrorCode, message: string): never {
  throw ApplicationFailure.create({ type: code, message, nonRetryable: true });
}

/** The error code of a failed activity, when it carried one. */
function failureCode(err: unknown): string | undefined {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure
    ? (err.cause.type ?? undefined)
    : undefined;
}

/**
 * One ERP outbound delivery from release to closure: validate and geocode the address, publish the route
 * job, follow the driver's events, run the exception playbooks, bill once, close the cases.
 */
export async function ShipmentWorkflow(input: ShipmentInput): Promise<ShipmentResult> {
  const { clock, settings } = input;
  const { erp, dispatch, crm, orchestration } = activitiesOn(input.taskQueuePrefix ?? '');
  const shipmentId = workflowInfo().workflowId;
  const s: ShipmentState =
    (input.carried as ShipmentState | undefined) ?? initialState(shipmentId, input.order);
  const simNow = () => simAt(clock, Date.now());
  /** The search attributes last published, so an unchanged status is not upserted again. */
  let published: string | undefined;
  const realMs = (simMinutes: number) => realDuration(clock, simMinutes * 60_000);
  const until = (simInstant: string) => Math.max(1, realDuration(clock, Date.parse(simInstant) - simNow()));
  const key = (...parts: (string | number)[]) => [shipmentId, ...parts].join(':');
  /** The ERP's planned date moved by as many days as the window moved: the region's local planning day. */
  const planningDate = () => {
    const days = Math.round(
      (Date.parse(s.window.start) - Date.parse(s.order.requestedWindow.start)) / 86_400_000,
    );
    return new Date(Date.parse(`${s.order.plannedDate}T00:00:00Z`) + days * 86_400_000)
      .toISOString()
      .slice(0, 10);
  };

  setHandler(dispatchEventSignal, (event) => {
    try {
      applyDispatchEvent(s, event, settings);
    } catch (err) {
      s.eventsIgnored++;
      log.warn('dispatch event could not be applied', { eventId: event?.id, error: String(err) });
    }
    // The outcome's milestone goes to the ERP lane at once, even while the main loop waits on the CRM lane.
    if (patched(SIDE_EFFECT_LANES_PATCH)) queueOutcomeMilestone();
    if (patched(STATUS_FIRST_PATCH)) publishSearchAttributes();
  });
  setHandler(statusQuery, () => statusOf(s));

  setHandler(
    rescheduleUpdate,
    async (raw) => {
      const req = RescheduleRequest.parse(raw);
      s.window = req.window;
      s.plannedRevision++;
      const taskId = s.taskIds[s.attempt];
      if (taskId && !s.progress.outcome) {
        const { eta } = await dispatch.dispatchRescheduleTask({ taskId, window: req.window });
        if (eta) s.eta = eta;
        await orchestration.ensureRegionPlanning({ region: s.order.region, date: planningDate() });
      }
      const at = new Date(simNow()).toISOString();
      if (s.progress.rank >= 1) {
        s.todo.push({
          kind: 'milestone',
          milestone: 'planned',
          attempt: s.attempt,
          occurredAt: at,
          eta: s.eta,
          revision: s.plannedRevision,
        });
      }
      queuePlanNotice(s, `rescheduled-${s.plannedRevision}`, 'moved to');
      return { shipmentId, window: s.window, eta: s.eta };
    },
    {
      validator: (raw) => {
        const parsed = RescheduleRequest.safeParse(raw);
        if (!parsed.success)
          reject('RESCHEDULE_WINDOW_INVALID', parsed.error.issues[0]?.message ?? 'invalid window');
        const { start, end } = parsed.data.window;
        if (!(RESCHEDULABLE as readonly string[]).includes(s.phase)) {
          reject('RESCHEDULE_TOO_LATE', `shipment is ${s.phase}; the window can no longer move`);
        }
        if (Date.parse(start) <= simNow())
          reject('RESCHEDULE_WINDOW_IN_PAST', `window start ${start} is in the past`);
        if (Date.parse(end) - Date.parse(start) > 12 * 3600_000)
          reject('RESCHEDULE_WINDOW_INVALID', 'a window may span at most 12 hours');
        if (!s.order.serviceDays.includes(isoWeekday(start))) {
          reject(
            'RESCHEDULE_NOT_SERVICE_DAY',
            `the customer does not take deliveries on ISO weekday ${isoWeekday(start)}`,
          );
        }
      },
    },
  );

  setHandler(
    correctAddressUpdate,
    async (raw) => {
      const { address } = AddressCorrection.parse(raw);
      s.order = { ...s.order, address };
      const taskId = s.taskIds[s.attempt];
      if (s.phase !== 'on_hold' && taskId && !s.progress.outcome) {
        const geo = await dispatch.geocodeAddress(address);
        s.geo = geo;
        await dispatch.dispatchUpdateDestination({ taskId, address, location: geo.geo });
      } else {
        s.addressCorrected = true;
      }
      return { shipmentId, phase: s.phase };
    },
    {
      validator: (raw) => {
        const parsed = AddressCorrection.safeParse(raw);
        if (!parsed.success)
          reject('VALIDATION_FAILED', parsed.error.issues[0]?.message ?? 'invalid address');
        if (!(RESCHEDULABLE as readonly string[]).includes(s.phase)) {
          reject(
            'ADDRESS_CORRECTION_NOT_EXPECTED',
            `shipment is ${s.phase}; the address can no longer change`,
          );
        }
      },
    },
  );

  setHandler(
    approveChargesUpdate,
    (raw) => {
      const decision = ChargeApproval.parse(raw);
      if (!decision.approve) s.charges = s.charges.filter((c) => c.code === 'BASE' || c.code === 'MILEAGE');
      s.approvedBy = decision.approvedBy;
      const total = s.charges.reduce((sum, c) => sum + c.amount, 0);
      return { shipmentId, total: Math.round(total * 100) / 100 };
    },
    {
      validator: (raw) => {
        if (!ChargeApproval.safeParse(raw).success) reject('VALIDATION_FAILED', 'approvedBy is required');
        if (!s.awaitingApproval || s.approvedBy)
          reject('APPROVAL_NOT_PENDING', 'no charges are waiting for approval');
      },
    },
  );

  setHandler(
    resolveExceptionUpdate,
    async (raw) => {
      const { kind, resolution } = ExceptionResolution.parse(raw);
      await closeCases(kind, resolution);
      return { shipmentId, openCases: s.cases.filter((c) => c.open).length };
    },
    {
      validator: (raw) => {
        const parsed = ExceptionResolution.safeParse(raw);
        if (!parsed.success)
          reject('VALIDATION_FAILED', parsed.error.issues[0]?.message ?? 'invalid resolution');
        if (!s.cases.some((c) => c.open && c.kind === parsed.data.kind)) {
          reject('EXCEPTION_NOT_OPEN', `no open ${parsed.data.kind} case`);
        }
      },
    },
  );

  /**
   * Runs the queued side effects; each is idempotent by its key, so a retry or replay is safe. ERP and CRM are
   * two lanes, each in queue order, so an ERP milestone never waits behind a rate-limited CRM call. Runs
   * started before the lanes replay the single ordered queue they were recorded with.
   */
  async function flushTodo() {
    if (!patched(SIDE_EFFECT_LANES_PATCH)) {
      while (s.todo.length > 0) {
        const action = s.todo[0] as Action;
        await perform(action);
        s.todo.shift();
      }
      return;
    }
    while (s.todo.length > 0) await Promise.all([drainLane('erp'), drainLane('crm')]);
  }

  /** Whether a lane is waiting on its side effect right now. */
  const busy = { erp: false, crm: false };

  /**
   * Runs one lane's actions in queue order. While the other lane is still at work, it stays ready for new
   * actions of its own (a signal may queue a milestone while a CRM call is retrying).
   */
  async function drainLane(lane: 'erp' | 'crm') {
    const other = lane === 'erp' ? 'crm' : 'erp';
    const has = (l: 'erp' | 'crm') => s.todo.some((a) => laneOf(a) === l);
    for (;;) {
      const action = s.todo.find((a) => laneOf(a) === lane);
      if (action) {
        busy[lane] = true;
        try {
          await perform(action);
        } finally {
          busy[lane] = false;
        }
        s.todo.splice(s.todo.indexOf(action), 1);
        continue;
      }
      if (!busy[other] && !has(other)) return;
      await condition(() => has(lane) || (!busy[other] && !has(other)));
    }
  }

  async function perform(a: Action) {
    const base = { shipmentId, deliveryId: s.order.deliveryId, customerId: s.order.customerId };
    try {
      switch (a.kind) {
        case 'milestone': {
          const suffix = a.revision ? `:r${a.revision}` : '';
          await erp.erpPostMilestone({
            deliveryId: s.order.deliveryId,
            milestone: a.milestone,
            attempt: a.attempt,
            occurredAt: a.occurredAt,
            eta: a.eta,
            idempotencyKey: key('milestone', a.milestone, a.attempt) + suffix,
          });
          s.milestones.push({ milestone: a.milestone, attempt: a.attempt, at: a.occurredAt, eta: a.eta });
          return;
        }
        case 'goodsIssue':
          await erp.erpPostGoodsIssue({ deliveryId: s.order.deliveryId, idempotencyKey: key('goods-issue') });
          return;
        case 'notify': {
          const caseId = s.cases.find((c) => c.open)?.caseId;
          await crm.crmNotifyCustomer({
            ...base,
            caseId,
            message: a.message,
            ...(a.plan ? { plan: a.plan } : {}),
            idempotencyKey: key('notify', a.topic, a.attempt),
          });
          return;
        }
        case 'openCase': {
          if (s.cases.some((c) => c.open && c.kind === a.exception && c.attempt === a.attempt)) return;
          const { caseId } = await crm.crmOpenCase({
            ...base,
            kind: a.exception,
            subject: a.subject,
            description: a.description,
            priority: a.priority,
            idempotencyKey: key('case', a.exception, a.attempt),
          });
          s.cases.push({ caseId, kind: a.exception, attempt: a.attempt, open: true });
          return;
        }
      }
    } catch (err) {
      // A business rejection will not succeed on retry: keep the shipment moving and leave a trace.
      if (err instanceof ActivityFailure) {
        log.error('side effect rejected', { action: a.kind, code: failureCode(err), error: err.message });
        return;
      }
      throw err;
    }
  }

  async function closeCases(kind: ExceptionKind | undefined, resolution: string) {
    for (const c of s.cases.filter((x) => x.open && (!kind || x.kind === kind))) {
      await crm.crmCloseCase({ caseId: c.caseId, resolution, idempotencyKey: key('case-close', c.caseId) });
      c.open = false;
    }
  }

  function openCase(
    exception: ExceptionKind,
    priority: 'normal' | 'high' | 'urgent',
    subject: string,
    description: string,
  ) {
    s.todo.push({
      kind: 'openCase',
      exception,
      attempt: Math.max(1, s.attempt),
      priority,
      subject,
      description,
    });
  }

  function notify(topic: string, message: string) {
    s.todo.push({ kind: 'notify', topic, attempt: Math.max(1, s.attempt), message });
  }

  function publishSearchAttributes() {
    const exception = openExceptions(s)[0] ?? 'none';
    const fingerprint = `${s.phase}|${exception}|${s.phase === 'closed'}`;
    if (fingerprint === published) return;
    published = fingerprint;
    upsertSearchAttributes([
      { key: SA.ShipmentStatus, value: s.phase },
      { key: SA.OpenException, value: exception },
      { key: SA.InvoiceReady, value: s.phase === 'closed' && !!s.billingDocumentId },
    ]);
  }

  async function validateAddress() {
    s.phase = 'validating';
    try {
      s.geo = await dispatch.geocodeAddress(s.order.address);
    } catch (err) {
      if (failureCode(err) !== 'ADDRESS_NOT_FOUND') throw err;
      holdForAddress(`the address of delivery ${s.order.deliveryId} could not be located`);
      return;
    }
    if (s.geo.mismatch && !s.addressCorrected) {
      holdForAddress(s.geo.mismatch);
      return;
    }
    await publishAttempt();
  }

  function holdForAddress(reason: string) {
    s.phase = 'on_hold';
    s.addressCorrected = false;
    openCase('address_mismatch', 'high', `Address to confirm for delivery ${s.order.deliveryId}`, reason);
    notify('address-hold', 'We could not confirm your delivery address; our team will contact you.');
  }

  async function publishAttempt() {
    const attempt = s.attempt + 1;
    const geo = s.geo;
    if (!geo) throw ApplicationFailure.nonRetryable('publishing without a geocoded address');
    const job: Job = {
      shipmentId,
      deliveryId: s.order.deliveryId,
      attempt,
      region: s.order.region,
      location: geo.geo,
      address: s.order.address,
      recipient: s.order.recipient,
      window: s.window,
      quantity: s.order.pallets,
      weightKg: s.order.weightKg,
      hazmat: s.order.hazmat,
      serviceTimeSeconds: 300 + 120 * s.order.pallets,
      instructions: s.order.instructions,
      requirements: [...(s.order.hazmat ? ['hazmat'] : []), ...(s.order.liftgate ? ['liftgate'] : [])],
    };
    const { taskId } = await dispatch.dispatchCreateTask({ job, idempotencyKey: key('task', attempt) });
    // The attempt counts from here: events of it that arrived while the task was being created were held.
    s.attempt = attempt;
    s.progress = freshProgress();
    s.eta = undefined;
    s.taskIds[attempt] = taskId;
    s.addressCorrected = false;
    s.noAssignmentEscalated = false;
    s.phase = 'published';
    releaseHeldEvents(s, settings);
    await orchestration.ensureRegionPlanning({ region: s.order.region, date: planningDate() });
  }

  async function awaitAssignment() {
    const date = planningDate();
    const cutoff = `${date}T${String(settings.planningCutoffHourUtc).padStart(2, '0')}:00:00.000Z`;
    const deadline = new Date(Date.parse(cutoff) + settings.noAssignmentGraceMinutes * 60_000).toISOString();
    const changed = () => s.phase !== 'published' || s.todo.length > 0;
    if (!s.noAssignmentEscalated) {
      if (!(await condition(changed, until(deadline)))) {
        s.noAssignmentEscalated = true;
        openCase(
          'no_assignment',
          'urgent',
          `No driver assigned to delivery ${s.order.deliveryId}`,
          `Not assigned by ${deadline}.`,
        );
      }
      return;
    }
    // Still unassigned when the window closes: this attempt is lost; the playbook reattempts or returns.
    if (await condition(changed, until(s.window.end))) return;
    const taskId = s.taskIds[s.attempt];
    if (taskId) {
      try {
        await dispatch.dispatchCancelTask({ taskId });
      } catch (err) {
        log.warn('could not cancel the unassigned task', { taskId, code: failureCode(err) });
      }
    }
    s.failures.push({ attempt: s.attempt, reason: 'not_assigned' });
    s.progress.outcome = 'failed';
    s.progress.failureReason = 'not_assigned';
    s.phase = 'failed_attempt';
  }

  async function awaitOutcome() {
    const phase = s.phase;
    const changed = () => s.phase !== phase || s.todo.length > 0;
    const p = s.progress;
    if (p.missingPodCase) {
      await condition(changed);
      return;
    }
    const podDeadline = new Date(
      Date.parse(s.window.end) + settings.missingPodMinutes * 60_000,
    ).toISOString();
    if (!(await condition(changed, until(podDeadline)))) {
      p.missingPodCase = true;
      openCase(
        'missing_pod',
        'high',
        `No proof of delivery for ${s.order.deliveryId}`,
        `No POD ${settings.missingPodMinutes} minutes after the window.`,
      );
    }
  }

  async function afterFailure() {
    const reason = s.progress.failureReason ?? 'unknown';
    const at = new Date(simNow()).toISOString();
    if (!s.progress.outcomeQueued) {
      s.todo.push({ kind: 'milestone', milestone: 'failed_attempt', attempt: s.attempt, occurredAt: at });
    }
    if (reason === 'damaged') {
      openCase(
        'damage',
        'urgent',
        `Goods damaged on delivery ${s.order.deliveryId}`,
        'The driver reported damage; the goods return to the depot.',
      );
      notify(
        'damage',
        'Your goods were damaged in transit and are returning to our depot; our team will contact you.',
      );
      beginReturn();
      return;
    }
    openCase(
      'failed_attempt',
      'normal',
      `Delivery attempt ${s.attempt} failed for ${s.order.deliveryId}`,
      reason === 'not_assigned'
        ? 'No driver was assigned before the window closed.'
        : `Driver reported: ${reason}.`,
    );
    if (s.attempt < settings.maxAttempts) {
      s.window = nextServiceWindow(s.window, s.order.serviceDays);
      notify(
        'reattempt',
        `We missed you (${reason.replace(/_/g, ' ')}). We will try again on ${s.window.start} to ${s.window.end}.`,
      );
      await flushTodo();
      await publishAttempt();
      return;
    }
    notify(
      'returning',
      `We could not deliver after ${s.attempt} attempts; your goods are returning to our depot.`,
    );
    beginReturn();
  }

  function beginReturn() {
    s.phase = 'returned';
    s.outcome = 'returned';
    s.todo.push({
      kind: 'milestone',
      milestone: 'returned',
      attempt: Math.max(1, s.attempt),
      occurredAt: new Date(simNow()).toISOString(),
    });
  }

  async function bill() {
    if (s.charges.length === 0) {
      s.charges = computeCharges({
        order: s.order,
        attempts: s.attempt,
        delivered: s.outcome === 'delivered',
        mileageKm: s.mileageKm,
        liftgateUsed: s.liftgateUsed,
        waitingMinutes: s.waitingMinutes,
        freeWaitingMinutes: settings.freeWaitingMinutes,
      });
    }
    if (accessorialTotal(s.charges) > settings.approvalThreshold && !s.approvedBy) {
      s.phase = 'awaiting_approval';
      s.awaitingApproval = true;
      publishSearchAttributes();
      await condition(() => s.approvedBy !== undefined);
    }
    s.phase = 'billing';
    const doc = buildBillingDocument({
      shipmentId,
      order: s.order,
      charges: s.charges,
      approvedBy: s.approvedBy,
    });
    const { billingDocumentId } = await erp.erpPostBilling({ doc, idempotencyKey: key('billing') });
    s.billingDocumentId = billingDocumentId;
    s.awaitingApproval = false;
    s.todo.push({
      kind: 'milestone',
      milestone: 'billed',
      attempt: Math.max(1, s.attempt),
      occurredAt: new Date(simNow()).toISOString(),
    });
    await flushTodo();
    await closeCases(
      undefined,
      `Shipment closed: ${s.outcome ?? 'unknown'}, billed as ${billingDocumentId}.`,
    );
    s.phase = 'closed';
  }

  /**
   * Queues the attempt's outcome milestone (delivered, failed attempt) as soon as it is known, so the ERP lane
   * posts it while the CRM lane may still be busy; the playbook then runs on the next pass.
   */
  function queueOutcomeMilestone() {
    const p = s.progress;
    if (!p.outcome || p.outcomeQueued) return;
    if (p.outcome === 'completed' && s.phase !== 'delivered') return;
    if (p.outcome === 'failed' && s.phase !== 'failed_attempt') return;
    p.outcomeQueued = true;
    if (p.outcome === 'failed') {
      const at = new Date(simNow()).toISOString();
      s.todo.push({ kind: 'milestone', milestone: 'failed_attempt', attempt: s.attempt, occurredAt: at });
      return;
    }
    recordDelivered();
  }

  /** The delivered outcome: its ERP milestone queued, the shipment on to billing. */
  function recordDelivered() {
    s.outcome = 'delivered';
    s.todo.push({
      kind: 'milestone',
      milestone: 'delivered',
      attempt: s.attempt,
      occurredAt: s.pod?.deliveredAt ?? new Date(simNow()).toISOString(),
    });
    s.phase = 'billing';
  }

  while (s.phase !== 'closed') {
    if (patched(SIDE_EFFECT_LANES_PATCH)) queueOutcomeMilestone();
    // Visibility shows the phase before its side effects run, so it follows the shipment under load too.
    if (patched(STATUS_FIRST_PATCH)) publishSearchAttributes();
    await flushTodo();
    publishSearchAttributes();
    if (workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await flushTodo();
      await continueAsNew<typeof ShipmentWorkflow>({ ...input, carried: s });
    }
    switch (s.phase) {
      case 'released':
      case 'validating':
        await validateAddress();
        break;
      case 'on_hold':
        if (await condition(() => s.addressCorrected, realMs(settings.addressHoldMinutes))) {
          await closeCases('address_mismatch', 'Address corrected.');
          if (s.taskIds[s.attempt]) s.phase = 'published';
          else await validateAddress();
        } else {
          notify(
            'returning',
            'We could not confirm your address in time; your goods are returning to our depot.',
          );
          beginReturn();
        }
        break;
      case 'published':
        await awaitAssignment();
        break;
      case 'planned':
      case 'in_transit':
        await awaitOutcome();
        break;
      case 'delivered':
        recordDelivered();
        break;
      case 'failed_attempt':
        await afterFailure();
        break;
      case 'returned':
      case 'returning':
      case 'billing':
      case 'awaiting_approval':
        await flushTodo();
        await bill();
        break;
    }
  }
  publishSearchAttributes();
  await condition(allHandlersFinished);
  return {
    shipmentId,
    outcome: s.outcome ?? 'returned',
    attempts: s.attempt,
    billingDocumentId: s.billingDocumentId ?? '',
    total: Math.round(s.charges.reduce((sum, c) => sum + c.amount, 0) * 100) / 100,
    charges: s.charges,
    casesOpened: s.cases.length,
    milestones: s.milestones,
  };
}
