import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DispatchEvent } from '../../domain/events.js';
import type { Charge, ExceptionKind, Milestone, ShipmentPhase, TimeWindow } from '../../domain/model.js';
import { CASE_SLA_KINDS, type CaseSlaKind } from '../../domain/case-kinds.js';
import type {
  AddressCorrection,
  CaseSlaLimits,
  ChargeApproval,
  ExceptionResolution,
  ManualPod,
  OperatorDecision,
  ParkedEdit,
  ParkedRef,
  ParkedSkip,
  RescheduleRequest,
} from './contract.js';
import type { ParkedResolution } from './state.js';

/*
 * The shipment workflow's messages without their schemas: ids, the signal, updates and query, the types they
 * carry and the constants the workflow needs. Workflow code imports this module, never `contract.ts`, so
 * creating a run does not evaluate zod (a cached run costs the modules it evaluates).
 */

export { SHIPMENTS_TASK_QUEUE, ACTIVITY_TASK_QUEUES, taskQueues, type TaskQueues } from '../task-queues.js';

/** The shipment workflow's type name, as workers register it (the workflow function's name). */
export const SHIPMENT_WORKFLOW_TYPE = 'ShipmentWorkflow';

/** Workflow id of the shipment for an ERP outbound delivery. */
export function shipmentWorkflowId(deliveryId: string): string {
  return `shipment-${deliveryId}`;
}

/** The ERP delivery id inside a shipment workflow id, or undefined when it is not one. */
export function deliveryIdOf(workflowId: string): string | undefined {
  return workflowId.startsWith('shipment-') ? workflowId.slice('shipment-'.length) : undefined;
}

export { CASE_SLA_KINDS, type CaseSlaKind };

/** Resolution SLAs of open cases when the settings name none for a kind. */
export const DEFAULT_CASE_SLAS: Record<CaseSlaKind, CaseSlaLimits> = {
  failed_attempt: { escalate: 480, default: 2880 },
  delay: { escalate: 120, default: 720 },
  damage: { escalate: 120, default: 1440 },
  address_mismatch: { escalate: 120, default: 480 },
  no_assignment: { escalate: 60, default: 240 },
};

/** What an accepted reschedule returns. */
export interface RescheduleResult {
  shipmentId: string;
  window: TimeWindow;
  eta?: string;
}

/** One finance decision on a shipment's charges, as the shipment records it. */
export interface ApprovalRecord {
  principal: string;
  decision: 'approved' | 'rejected';
  /** Simulated time of the decision. */
  at: string;
}

/** What an approval update answers. */
export interface ApprovalResult {
  shipmentId: string;
  total: number;
  /**
   * `pending` when the charges need a second finance principal (four-eyes); `approved` or `rejected` once
   * decided. Absent on runs recorded before the four-eyes patch.
   */
  status?: 'pending' | 'approved' | 'rejected';
  /** The decisions recorded so far (four-eyes runs). */
  approvals?: ApprovalRecord[];
  /** How many approvals the charges need: 1, or 2 above the four-eyes threshold. */
  approvalsRequired?: number;
}

/** What an operator action on a parked side effect answers. */
export interface ParkedOutcome {
  shipmentId: string;
  parkedId: string;
  outcome: 'posted' | 'skipped';
  /** Items still parked on the shipment. */
  stillParked: number;
}

/** What an operator action on a shipment (manual POD, cancel, force-return) answers. */
export interface OperatorActionResult {
  shipmentId: string;
  phase: ShipmentPhase;
  outcome?: ShipmentOutcome;
}

/** An SLA a waiting shipment passed, as the status query shows it. */
export interface SlaBreach {
  /** approval, missing_pod or parked; for a case's resolution SLA, the case's kind (failed_attempt, ...). */
  kind: string;
  /** The case whose resolution SLA passed (case SLAs only). */
  caseId?: string;
  /** Simulated time of the escalation. */
  at: string;
  /** 1 for the first escalation, 2 and on for repeated ones (parked work). */
  round: number;
  /** Open until the wait ends: decided by a person, or by the default. */
  open: boolean;
  /** How it ended: `resolved` by a person, `default` applied. */
  ended?: 'resolved' | 'default';
}

/** A parked side effect as the status query shows it. */
export interface ParkedView {
  id: string;
  /** milestone, goodsIssue, notify, openCase, pricing or billing. */
  action: { kind: string } & Record<string, unknown>;
  code: string;
  message: string;
  parkedAt: string;
  rejections: number;
}

/** A milestone as reported to the ERP. */
export interface MilestoneEntry {
  milestone: Milestone;
  attempt: number;
  at: string;
  eta?: string;
  /** The plan revision a planned milestone carried (recorded from the planned-revisions-unique patch on). */
  revision?: number;
  /** The idempotency key it was posted under, when it differs from the revision's own. */
  key?: string;
}

/** What the status query returns. */
export interface ShipmentStatus {
  shipmentId: string;
  deliveryId: string;
  customerId: string;
  region: string;
  phase: ShipmentPhase;
  window: TimeWindow;
  eta?: string;
  taskId?: string;
  driverId?: string;
  routeId?: string;
  attempts: number;
  openCases: { caseId: string; kind: ExceptionKind }[];
  closedCases: number;
  /** Every case the run opened, open or closed, oldest first (absent from workers before it was added). */
  caseIds?: string[];
  charges: Charge[];
  /** The version of the ERP prices the charges were priced with (absent: the built-in tariff). */
  pricingVersion?: string;
  awaitingApproval: boolean;
  /** Finance decisions recorded so far, the pending first one of a four-eyes approval included. */
  approvals?: ApprovalRecord[];
  /** Approvals the charges need while they wait: 1, or 2 above the four-eyes threshold. */
  approvalsRequired?: number;
  milestones: MilestoneEntry[];
  billingDocumentId?: string;
  outcome?: ShipmentOutcome;
  eventsApplied: number;
  eventsIgnored: number;
  /** The latest events that changed nothing, and why (another attempt, a task it did not create, ...). */
  ignoredEvents: { eventId: string; type: string; reason: string }[];
  /** Side effects a vendor rejected for good, waiting for an operator to retry, edit or skip them. */
  parked?: ParkedView[];
  /** What operators did with parked side effects (latest last). */
  parkedResolved?: ParkedResolution[];
  /** Why the billing post was skipped, when an operator skipped it. */
  billingSkipped?: string;
  /** SLAs the shipment's waits passed (runs with the operator-actions-sla patch). */
  slaBreaches?: SlaBreach[];
  /** The proof of delivery an operator recorded by hand. */
  manualPod?: { by: string; evidence: string; at: string };
  /** Who cancelled the shipment or sent its goods back, and why. */
  operatorAction?: { action: 'cancel' | 'force_return'; by: string; reason: string; at: string };
}

/** How a shipment ended. */
export type ShipmentOutcome = 'delivered' | 'returned' | 'cancelled';

/** Result of ShipmentWorkflow. */
export interface ShipmentResult {
  shipmentId: string;
  outcome: ShipmentOutcome;
  attempts: number;
  billingDocumentId: string;
  total: number;
  charges: Charge[];
  /** The version of the ERP prices the charges were priced with (absent: the built-in tariff). */
  pricingVersion?: string;
  casesOpened: number;
  milestones: MilestoneEntry[];
}

/** The one signal that carries canonical dispatch events into a shipment. */
export const dispatchEventSignal = defineSignal<[DispatchEvent]>('dispatchEvent');
/** Moves the delivery window; rejected with a typed reason once out for delivery or later. */
export const rescheduleUpdate = defineUpdate<RescheduleResult, [RescheduleRequest]>('reschedule');
/** Supplies a corrected address to a shipment on hold (or before dispatch). */
export const correctAddressUpdate = defineUpdate<
  { shipmentId: string; phase: ShipmentPhase },
  [AddressCorrection]
>('correctAddress');
/**
 * Finance approves (or rejects) charges over the approval threshold; above the four-eyes threshold the first
 * approval is pending until a second, different principal approves.
 */
export const approveChargesUpdate = defineUpdate<ApprovalResult, [ChargeApproval]>('approveCharges');
/** Closes an open exception's case by hand. */
export const resolveExceptionUpdate = defineUpdate<
  { shipmentId: string; openCases: number },
  [ExceptionResolution]
>('resolveException');
/** Sends a parked side effect again, as it is (after the data was fixed at the vendor). */
export const retryParkedUpdate = defineUpdate<ParkedOutcome, [ParkedRef]>('retryParked');
/** Drops a parked side effect for good, with a reason; a skipped billing post closes the shipment unbilled. */
export const skipParkedUpdate = defineUpdate<ParkedOutcome, [ParkedSkip]>('skipParked');
/** Changes a parked side effect's editable fields and sends it again. */
export const editAndRetryUpdate = defineUpdate<ParkedOutcome, [ParkedEdit]>('editAndRetry');
/** Records a proof of delivery by hand; a shipment waiting for one (missing POD) goes on to billing. */
export const recordPodUpdate = defineUpdate<OperatorActionResult, [ManualPod]>('recordPod');
/** Cancels the shipment: the dispatch task cancelled, a cancelled milestone, cases closed, nothing billed. */
export const cancelShipmentUpdate = defineUpdate<OperatorActionResult, [OperatorDecision]>('cancelShipment');
/** Sends the goods back to the depot now; the shipment bills what was done. */
export const forceReturnUpdate = defineUpdate<OperatorActionResult, [OperatorDecision]>('forceReturn');
/** The shipment's status. */
export const statusQuery = defineQuery<ShipmentStatus>('status');

/**
 * Memo key under which a shipment names the dispatch task of its current attempt, so the gateway can tell a
 * foreign task's events from Temporal alone (describe), without a query that needs a worker.
 */
export const DISPATCH_TASK_MEMO = 'dispatchTask';

/** The memo's value: the attempt and the dispatch task the shipment created for it. */
export interface DispatchTaskMemo {
  attempt: number;
  taskId: string;
}

/**
 * Update names the gateway exposes, with the roles allowed to call each. Charge approval is finance's alone:
 * admin does not imply finance (separation of duties).
 */
export const UPDATE_ROLES = {
  reschedule: ['agent', 'dispatcher', 'admin'],
  correctAddress: ['agent', 'dispatcher', 'admin'],
  approveCharges: ['finance'],
  resolveException: ['agent', 'dispatcher', 'admin'],
  retryParked: ['dispatcher', 'finance', 'admin'],
  skipParked: ['dispatcher', 'finance', 'admin'],
  editAndRetry: ['dispatcher', 'finance', 'admin'],
  recordPod: ['finance', 'dispatcher'],
  cancelShipment: ['dispatcher', 'admin'],
  forceReturn: ['dispatcher', 'admin'],
} as const;
