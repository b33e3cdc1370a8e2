import { z } from 'zod';
import { ClockSettings } from '../../domain/clock.js';
import { Address, CASE_SLA_KINDS, ExceptionKind, Instant, Order, TimeWindow } from '../../domain/model.js';

/**
 * The shipment workflow's contract for clients: the schemas of its input and of its updates' arguments, and
 * (from `messages.ts`) its ids, signal, updates, query and result types. Workflow code imports `messages.ts`
 * and loads these schemas only when it validates an update (`../lazy.ts`), so a cached run does not
 * evaluate zod.
 */
export * from './messages.js';

/** The two limits of a case's resolution SLA, in simulated minutes from the case's opening. */
export const CaseSlaLimits = z
  .object({ escalate: z.number().positive(), default: z.number().positive() })
  .refine((l) => l.default > l.escalate, 'the default limit must come after the escalation limit');
export type CaseSlaLimits = z.infer<typeof CaseSlaLimits>;

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
