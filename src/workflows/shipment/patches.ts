import { patched } from '@temporalio/workflow';

/**
 * Every behaviour change of the shipment workflow since its first release, one id each. A run takes the new
 * path from the moment its history records the marker; histories recorded before replay the old path.
 */

/** ERP and CRM side effects run as two lanes instead of one ordered queue. */
export const SIDE_EFFECT_LANES_PATCH = 'side-effect-lanes';
/** The search attributes are published before the queued side effects run. */
export const STATUS_FIRST_PATCH = 'status-before-side-effects';
/**
 * Update handlers run one at a time with the main loop's dispatch writes and change state only after their
 * activities succeed; events for a task the shipment did not create are ignored; long waits wake when the
 * server suggests continue-as-new; the address hold keeps its deadline across runs.
 */
export const SERIALIZED_HANDLERS_PATCH = 'serialized-handlers';
/** The dispatch task of the current attempt is written to the memo when it is created. */
export const TASK_MEMO_PATCH = 'dispatch-task-memo';

/**
 * Charges above the four-eyes threshold need two different finance principals: the first approval is kept
 * as pending, a second one by someone else completes it, and the approval records both.
 */
export const FOUR_EYES_PATCH = 'four-eyes-approval';

/**
 * A side effect a vendor rejects for good (a milestone, a notice, a case, the billing post) is parked with
 * its error instead of dropped (or, for billing, failing the run); operators retry, edit or skip it.
 */
export const PARKED_OUTBOUND_PATCH = 'parked-outbound';

/**
 * The search attributes follow the state: DeliveryDate moves with reschedules and reattempts, InvoiceReady is
 * true from delivery until the billing post (false once billed), and OpenExceptions lists every open kind
 * (OpenException keeps the first, for queries written against it).
 */
export const SEARCH_ATTRIBUTES_PATCH = 'search-attributes-follow-state';

/**
 * Operator actions on a shipment (manual POD, cancel with compensation, force-return) and SLAs on the waits
 * that need a person (approval, missing POD, parked work): escalation at a first limit, a default at a
 * second, so no business wait is unbounded.
 */
export const OPERATOR_ACTIONS_SLA_PATCH = 'operator-actions-sla';

/**
 * The driver's outcome that arrives while the shipment is cancelling an attempt's task (no driver by the
 * window's end, no proof of delivery past its SLA) stands: the attempt is not also counted as failed, so the
 * ERP never gets a second outcome and no reattempt follows a delivery.
 */
export const OUTCOME_STANDS_PATCH = 'outcome-stands-over-cancel';

/**
 * Charges are priced by the ERP: the workflow counts the quantities (pallets, km, liftgate, waiting minutes,
 * redeliveries, return), an ERP activity prices them from the condition records and returns the pricing
 * version, which the billing document carries. Runs recorded before price with the built-in tariff.
 */
export const ERP_PRICING_PATCH = 'erp-pricing';

/**
 * An ETA that drifts past the threshold from the announced plan (or past the window end) posts a revised
 * planned milestone (the ERP commit date moves) and tells the customer, once per crossing; a reschedule
 * asked for on a CRM ticket that the shipment refuses is answered on that ticket with the reason.
 */
export const ETA_DRIFT_PATCH = 'eta-drift-replies';

/**
 * Every open exception case (failed attempt, delay, damage, address mismatch, no assignment) has a
 * resolution SLA: at the first limit the case's priority is raised and the team gets an urgent
 * `sla_breached` case; at the second the case is closed with its kind's documented default.
 */
export const CASE_SLA_PATCH = 'case-sla';

/**
 * A revised plan never reuses the idempotency key of a different plan of the same attempt (two paths could
 * give one revision number to two plans; the ERP refuses the second for good), and a revised plan that
 * would reach the ERP after the attempt's outcome is dropped (the attempt's first plan still goes).
 */
export const PLANNED_REVISIONS_UNIQUE_PATCH = 'planned-revisions-unique';

/**
 * A reschedule answers once dispatch moved the task: making sure the region plans the moved date runs
 * after the answer instead of before it, so the caller waits one workflow task and one activity less.
 */
export const RESCHEDULE_ANSWERS_FIRST_PATCH = 'reschedule-answers-first';

/**
 * A second SLA wait of one kind (the missing POD waited for again after the first wait ended, parked work
 * parked again) escalates with case keys of its own: before, its first escalation reused the key of the
 * earlier wait's, and the CRM took it for a new case under a key it had seen, opening a second ticket.
 */
export const SLA_ESCALATIONS_UNIQUE_PATCH = 'sla-escalations-unique';

/**
 * A reschedule moves the dispatch task in a local activity, on the worker that runs the shipment, inside the
 * workflow task that took the request: the caller no longer waits for the dispatch queue and for a second
 * workflow task to answer.
 */
export const RESCHEDULE_LOCAL_DISPATCH_PATCH = 'reschedule-local-dispatch';

/** Checked where the old code checked it: the lanes decide how queued side effects run. */
export const lanes = () => patched(SIDE_EFFECT_LANES_PATCH);
/** Checked where the old code checked it: visibility follows the phase before side effects run. */
export const statusFirst = () => patched(STATUS_FIRST_PATCH);
/** Decided once, at the start of a run, so a run never mixes the two behaviours. */
export const serializedHandlers = () => patched(SERIALIZED_HANDLERS_PATCH);
/** Checked where the task is recorded: runs recorded before it write no memo there. */
export const taskMemo = () => patched(TASK_MEMO_PATCH);
/** Decided once, at the start of a run, like the serialized handlers. */
export const fourEyesApproval = () => patched(FOUR_EYES_PATCH);
/** Decided once, at the start of a run, like the serialized handlers. */
export const parkedOutbound = () => patched(PARKED_OUTBOUND_PATCH);
/** Decided once, at the start of a run: a run publishes its search attributes one way throughout. */
export const searchAttributesFollowState = () => patched(SEARCH_ATTRIBUTES_PATCH);
/** Decided once, at the start of a run, like the serialized handlers. */
export const operatorActionsSla = () => patched(OPERATOR_ACTIONS_SLA_PATCH);
/** Checked only when an outcome arrived during the cancel: histories without that race never record it. */
export const outcomeStands = () => patched(OUTCOME_STANDS_PATCH);
/** Decided once, at the start of a run: a run prices one way throughout. */
export const erpPricing = () => patched(ERP_PRICING_PATCH);
/** Decided once, at the start of a run, like the serialized handlers. */
export const etaDriftReplies = () => patched(ETA_DRIFT_PATCH);
/** Decided once, at the start of a run, like the serialized handlers. */
export const caseSla = () => patched(CASE_SLA_PATCH);
/** Checked only when a plan would clash or come after the outcome: histories without that never record it. */
export const plannedRevisionsUnique = () => patched(PLANNED_REVISIONS_UNIQUE_PATCH);
/** Checked where a reschedule has moved the task, so only runs that reschedule record it. */
export const rescheduleAnswersFirst = () => patched(RESCHEDULE_ANSWERS_FIRST_PATCH);
/** Checked when an SLA clock after the first of its kind starts. */
export const slaEscalationsUnique = () => patched(SLA_ESCALATIONS_UNIQUE_PATCH);
/** Checked where a reschedule moves the task, so only runs that reschedule record it. */
export const rescheduleLocalDispatch = () => patched(RESCHEDULE_LOCAL_DISPATCH_PATCH);
