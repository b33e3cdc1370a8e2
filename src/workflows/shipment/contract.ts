import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import { ClockSettings } from '../../domain/clock.js';
import type { DispatchEvent } from '../../domain/events.js';
import {
  Address,
  CASE_SLA_KINDS,
  ExceptionKind,
  type CaseSlaKind,
  Instant,
  Order,
  TimeWindow,
  type Charge,
  type Milestone,
  type ShipmentPhase,
} from '../../domain/model.js';

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

/** The two limits of a case's resolution SLA, in simulated minutes from the case's opening. */
export const CaseSlaLimits = z
  .object({ escalate: z.number().positive(), default: z.number().positive() })
  .refine((l) => l.default > l.escalate, 'the default limit must come after the escalation limit');
export type CaseSlaLimits = z.infer<typeof CaseSlaLimits>;

/** Resolution SLAs of open cases when the settings name none for a kind. */
export const DEFAULT_CASE_SLAS: Record<CaseSlaKind, CaseSlaLimits> = {
  failed_attempt: { escalate: 480, default: 2880 },
  delay: { escalate: 120, default: 720 },
  damage: { escalate: 120, default: 1440 },
  address_mismatch: { escalate: 120, default: 480 },
  no_assignment: { escalate: 60, default: 240 },
};

/** Playbook settings, all durations in simulated minutes (the compressed clock turns them into real time). */
export const ShipmentSettings = z.object({
  maxAttempts: z.number().int().min(1).max(10).default(2),
  approvalThreshold: z.number().nonnegative().default(150),
  /**
   * Accessorial total above which two different finance principals must approve (four-eyes); unset means
   * one approval always suffices. Runs recorded before the four-eyes patch ignore it.
   */
  fourEyesThreshold: z.number().nonnegative().optional(),
  /** A delay past the window end longer than this sends a proactive notice and an ERP delayed milestone. */
  delayNoticeMinutes: z.number().nonnegative().default(30),
  /** A delay longer than this also opens a case. */
  severeDelayMinutes: z.number().nonnegative().default(120),
  /** How long a shipment on hold waits for a corrected address before returning to the depot. */
  addressHoldMinutes: z.number().positive().default(240),
  /** Minutes after the window end without proof of delivery before a missing-POD case opens. */
  missingPodMinutes: z.number().positive().default(120),
  /** Minutes after the region's planning cutoff without an assignment before escalation. */
  noAssignmentGraceMinutes: z.number().positive().default(60),
  /** Hour of the planning day (UTC, in simulated time) at which the region is planned. */
  planningCutoffHourUtc: z.number().int().min(0).max(23).default(6),
  /** Free waiting minutes before waiting time is billed. */
  freeWaitingMinutes: z.number().nonnegative().default(15),
  /** How many recent event ids a shipment remembers to drop duplicates; its state stays bounded. */
  eventDedupWindow: z.number().int().min(4).max(5000).default(500),
  // SLAs of the waits that need a person (operator-actions-sla runs): escalate at the first limit, default at the second.
  /** Charges waiting for finance: escalate (urgent `sla_breached` case) this long after the wait began. */
  approvalSlaMinutes: z.number().positive().default(240),
  /** Charges still waiting: the accessorials are rejected and the base billed, decided by `sla-default`. */
  approvalDefaultMinutes: z.number().positive().default(1440),
  /** A missing-POD case unanswered: escalate after this long (from the case). */
  missingPodSlaMinutes: z.number().positive().default(240),
  /** Still no proof of delivery: the attempt counts as failed (`no_pod`) and the playbook decides. */
  missingPodDefaultMinutes: z.number().positive().default(1440),
  /** A shipment kept open by parked side effects: escalate after this long. */
  parkedSlaMinutes: z.number().positive().default(240),
  /** Still parked: escalate again every this many minutes after the first (the items stay parked). */
  parkedRepeatMinutes: z.number().positive().default(1440),
  /**
   * An ETA that moves more than this from the announced plan (or past the window end) posts a revised planned
   * milestone to the ERP and notifies the customer, once per crossing (eta-drift-replies runs).
   */
  etaDriftMinutes: z.number().positive().default(30),
  /**
   * Resolution SLAs of open cases per kind (case-sla runs): escalate this long after the case opened, close
   * it with the kind's default at the second limit. Kinds left out keep `DEFAULT_CASE_SLAS`.
   */
  caseSlaMinutes: z.partialRecord(z.enum(CASE_SLA_KINDS), CaseSlaLimits).default({}),
});
export type ShipmentSettings = z.infer<typeof ShipmentSettings>;

/** Input of ShipmentWorkflow. */
export const ShipmentInput = z.object({
  order: Order,
  clock: ClockSettings,
  settings: ShipmentSettings,
  /** Prefix of the task queue names this shipment's activities run on. */
  taskQueuePrefix: z.string().max(60).default(''),
  /** State carried across continue-as-new; absent on the first run. */
  carried: z.unknown().optional(),
});
export type ShipmentInput = z.infer<typeof ShipmentInput>;

/** A reschedule request from an agent, a customer or a dispatcher. */
export const RescheduleRequest = z.object({
  window: TimeWindow,
  reason: z.string().max(500).default(''),
  requestedBy: z.string().min(1).max(100).default('agent'),
  ticketId: z.string().max(100).optional(),
});
export type RescheduleRequest = z.infer<typeof RescheduleRequest>;

/** What an accepted reschedule returns. */
export interface RescheduleResult {
  shipmentId: string;
  window: TimeWindow;
  eta?: string;
}

/** A corrected delivery address. */
export const AddressCorrection = z.object({
  address: Address,
  correctedBy: z.string().min(1).default('agent'),
});
export type AddressCorrection = z.infer<typeof AddressCorrection>;

/**
 * Finance's decision on charges waiting for approval. `approvedBy` is the principal the gateway
 * authenticated (never a value from a request body).
 */
export const ChargeApproval = z.object({ approvedBy: z.string().min(1), approve: z.boolean().default(true) });
export type ChargeApproval = z.infer<typeof ChargeApproval>;

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

/** Closing an open exception by hand. */
export const ExceptionResolution = z.object({ kind: ExceptionKind, resolution: z.string().min(1).max(1000) });
export type ExceptionResolution = z.infer<typeof ExceptionResolution>;

/** Which parked side effect an operator acts on, and who (set by the gateway from the principal). */
export const ParkedRef = z.object({
  parkedId: z.string().regex(/^p\d{1,6}$/, 'a parked item id looks like p1'),
  by: z.string().min(1).max(100),
});
export type ParkedRef = z.infer<typeof ParkedRef>;

/** Skipping a parked side effect for good, with the reason. */
export const ParkedSkip = ParkedRef.extend({ reason: z.string().min(1).max(500) });
export type ParkedSkip = z.infer<typeof ParkedSkip>;

/**
 * The fields of a parked side effect an operator may change before it is sent again: a milestone's times,
 * a notice's text, a case's subject, description and priority. The billing post has none: its data is fixed
 * in the ERP, then retried.
 */
export const ParkedEdits = z
  .object({
    occurredAt: Instant.optional(),
    eta: Instant.optional(),
    message: z.string().min(1).max(2000).optional(),
    subject: z.string().min(1).max(200).optional(),
    description: z.string().min(1).max(4000).optional(),
    priority: z.enum(['low', 'normal', 'high', 'urgent']).optional(),
  })
  .strict()
  .refine((e) => Object.keys(e).length > 0, 'name at least one field to change');
export type ParkedEdits = z.infer<typeof ParkedEdits>;

/** Editing a parked side effect and sending it again. */
export const ParkedEdit = ParkedRef.extend({ edits: ParkedEdits });
export type ParkedEdit = z.infer<typeof ParkedEdit>;

/** What an operator action on a parked side effect answers. */
export interface ParkedOutcome {
  shipmentId: string;
  parkedId: string;
  outcome: 'posted' | 'skipped';
  /** Items still parked on the shipment. */
  stillParked: number;
}

/** A proof of delivery recorded by hand (finance or dispatcher), with the evidence they saw. */
export const ManualPod = z.object({
  by: z.string().min(1).max(100),
  evidence: z.string().min(1).max(2000),
  /** When the goods were delivered (simulated time); now when absent. */
  deliveredAt: Instant.optional(),
});
export type ManualPod = z.infer<typeof ManualPod>;

/** Cancelling a shipment, or sending its goods back to the depot, with who and why. */
export const OperatorDecision = z.object({
  by: z.string().min(1).max(100),
  reason: z.string().min(1).max(500),
});
export type OperatorDecision = z.infer<typeof OperatorDecision>;

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
  parkedResolved?: {
    id: string;
    kind: string;
    outcome: 'posted' | 'skipped';
    by: string;
    reason?: string;
    at: string;
  }[];
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
