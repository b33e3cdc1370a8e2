import type { PriceList } from '../domain/billing.js';
import type {
  Address,
  BillingDocument,
  ExceptionKind,
  GeocodedAddress,
  GeoPoint,
  Job,
  Milestone,
  Order,
  TimeWindow,
} from '../domain/model.js';

/**
 * Ports: what shipsync needs from each external system, in logistics terms. Adapters implement them per
 * vendor dialect; activities depend only on these. Every write carries an idempotency key derived from the
 * workflow id and the business step, never from an attempt number or run id.
 */

/** A page of released deliveries and the cursor to the next page. */
export interface ReleasedPage {
  orders: Order[];
  /** Opaque cursor; undefined when this was the last page. */
  nextCursor?: string;
  /** Released deliveries whose data failed validation: not started, kept as dead letters by the release pass. */
  rejected?: RejectedDelivery[];
}

/** A released delivery skipped because its ERP data failed validation. */
export interface RejectedDelivery {
  deliveryId: string;
  field?: string;
  message: string;
  /** The delivery entity as the ERP sent it, kept for inspection in the dead letter. */
  entity?: unknown;
}

/** A business milestone reported to the ERP. */
export interface MilestoneReport {
  deliveryId: string;
  milestone: Milestone;
  attempt: number;
  occurredAt: string;
  /** Planned ETA or commit date, for `planned` and `delayed`. */
  eta?: string;
  note?: string;
  idempotencyKey: string;
}

/** A milestone as the ERP holds it, read back for reconciliation. */
export interface ErpMilestoneRecord {
  deliveryId: string;
  /** Canonical milestone (`delivered`, `failed_attempt`, ...). */
  milestone: string;
  attempt: number;
  occurredAt: string;
}

/** A billing document request as the ERP holds it, read back for reconciliation. */
export interface ErpBillingRecord {
  deliveryId: string;
  billingDocumentId: string;
  total: number;
  currency: string;
}

/** The ERP, system of record for orders, commit dates and financial posting. */
export interface ErpPort {
  /** Released, not yet picked-up outbound deliveries, oldest first, a page at a time. */
  listReleasedDeliveries(opts: { cursor?: string; pageSize: number }): Promise<ReleasedPage>;
  /** One outbound delivery. */
  getDelivery(deliveryId: string): Promise<Order>;
  /** Records a business milestone; a replay with the same key has no second effect. */
  postMilestone(report: MilestoneReport): Promise<void>;
  /** Posts goods issue for the delivery (stock leaves the warehouse when dispatched). */
  postGoodsIssue(deliveryId: string, idempotencyKey: string): Promise<void>;
  /** Requests an external billing document; returns the ERP's document id (the same on a replay). */
  postBilling(doc: BillingDocument, idempotencyKey: string): Promise<{ billingDocumentId: string }>;
  /** Every milestone the ERP holds for these deliveries (all pages). */
  listMilestones(deliveryIds: string[]): Promise<ErpMilestoneRecord[]>;
  /** Every billing document request the ERP holds for these deliveries (all pages). */
  listBillingRequests(deliveryIds: string[]): Promise<ErpBillingRecord[]>;
  /** The prices valid on a date (ISO instant), with their version; the ERP owns them, the worker caches them. */
  priceList(at: string): Promise<PriceList>;
}

/** A task created in dispatch for one delivery attempt. */
export interface DispatchTaskRef {
  taskId: string;
}

/** The outcome of planning one region and date. */
export interface PlanResult {
  routes: number;
  assigned: number;
  unassigned: { taskId: string; reason: string }[];
}

/** A dispatch task as dispatch lists it, read back for reconciliation. */
export interface DispatchTaskView {
  taskId: string;
  /** The shipment and attempt shipsync put in the task's metadata; absent on tasks it did not create. */
  shipmentId?: string;
  attempt?: number;
  /** unassigned, assigned, active or completed. */
  state: 'unassigned' | 'assigned' | 'active' | 'completed';
  /** For a completed task: whether the driver succeeded. */
  success?: boolean;
}

/** One page of a dispatch task listing and the cursor to the next one. */
export interface DispatchTaskPage {
  tasks: DispatchTaskView[];
  /** Undefined on the last page. */
  nextCursor?: string;
}

/** The dispatch platform, system of execution for routes, ETAs and proof of delivery. */
export interface DispatchPort {
  /**
   * Creates (or finds, on a replay) the task for a job attempt; `firstTry` (the activity's first attempt)
   * says no earlier try of it can have reached dispatch, so there is nothing to look for.
   */
  createTask(job: Job, idempotencyKey: string, opts?: { firstTry?: boolean }): Promise<DispatchTaskRef>;
  /** Changes a task's window; dispatch re-plans its route and returns the new ETA when it has one. */
  rescheduleTask(taskId: string, window: TimeWindow): Promise<{ eta?: string }>;
  /** Replaces a task's destination after an address correction. */
  updateTaskDestination(taskId: string, address: Address, location: GeoPoint): Promise<void>;
  /** Cancels a task that will not be executed (return to depot, cancellation). */
  cancelTask(taskId: string): Promise<void>;
  /** Optimises the routes of one region and date; assignments arrive as webhooks. */
  planRegion(region: string, date: string): Promise<PlanResult>;
  /** Tasks created (or completed) between two instants, a page at a time. */
  listTasks(opts: { from: string; to: string; cursor?: string }): Promise<DispatchTaskPage>;
}

/** The ticket a customer notice went on: its case's ticket, or the shipment's notice ticket. */
export interface NoticeRef {
  ticketId: string;
  /** True when it is the shipment's notice ticket (not a case), which later notices can name. */
  thread: boolean;
}

/** A customer-service case reference. */
export interface CaseRef {
  caseId: string;
}

/** A CRM ticket of a shipment (case or notice thread), read back for reconciliation. */
export interface CaseView {
  caseId: string;
  /** The exception kind of a case; undefined for the customer-notice thread. */
  kind?: string;
  /** Zendesk-style status: new, open, pending, hold, solved, closed. */
  status: string;
  /** True for the thread of customer notices (not a case). */
  noticeThread: boolean;
}

/** A bulk create's job on the CRM, the item's place in it and the create's idempotency key. */
export interface CreateJobRef {
  jobId: string;
  index: number;
  key: string;
}

/**
 * Carries a bulk create's job from one attempt of an activity to the next (the activity's heartbeat), so a
 * retry on any worker awaits the job an earlier attempt left unfinished instead of creating again.
 */
export interface CreateJobMemory {
  /** The job the previous attempt's create went out in, if it told of one. */
  earlier?: CreateJobRef;
  /** Told as soon as this attempt's create is in a job. */
  started(job: CreateJobRef): void;
}

/** The customer-service platform, system of engagement for cases and customer interactions. */
export interface CrmPort {
  /** Opens a case for an exception (or returns the one a replay created). */
  openCase(input: {
    shipmentId: string;
    deliveryId: string;
    customerId: string;
    kind: ExceptionKind;
    subject: string;
    description: string;
    priority: 'low' | 'normal' | 'high' | 'urgent';
    idempotencyKey: string;
    /** No earlier try of this write can exist (the activity's first attempt): skip the lookup for it. */
    firstTry?: boolean;
    /** Where an earlier attempt's bulk create went, and how to tell the next attempt (see CreateJobMemory). */
    createJobs?: CreateJobMemory;
  }): Promise<CaseRef>;
  /** Sends the customer a message (ETA, delay, reattempt), recorded on the shipment's ticket. */
  notifyCustomer(input: {
    shipmentId: string;
    deliveryId: string;
    customerId: string;
    caseId?: string;
    message: string;
    /** The announced plan, machine-readable, so the CRM can offer the customer another slot. */
    plan?: { eta: string; window: TimeWindow };
    idempotencyKey: string;
    /** No earlier try of this write can exist (the activity's first attempt): skip the lookup for it. */
    firstTry?: boolean;
    /** The shipment's notice ticket as an earlier notice answered it: no lookup for it. */
    threadId?: string;
    /**
     * No notice of this shipment was sent before this one, so it has no notice ticket yet: with a first try,
     * the notice opens the ticket as its first comment, without looking for one.
     */
    firstNotice?: boolean;
    /** Where an earlier attempt's bulk create went, and how to tell the next attempt (see CreateJobMemory). */
    createJobs?: CreateJobMemory;
  }): Promise<NoticeRef>;
  /** Solves a case with a closing comment. */
  closeCase(caseId: string, resolution: string, idempotencyKey: string): Promise<void>;
  /** Every ticket the CRM holds for the shipment (external id = shipment id). */
  listCases(shipmentId: string): Promise<CaseView[]>;
  /**
   * Answers a customer on a ticket of their own (not a shipsync case) with a public comment, once per
   * idempotency key: e.g. why a reschedule they asked for was refused.
   */
  replyOnTicket(input: {
    ticketId: string;
    message: string;
    idempotencyKey: string;
    /** No earlier try of this write can exist (the activity's first attempt): skip the lookup for it. */
    firstTry?: boolean;
  }): Promise<void>;
  /** Raises a case's priority with an internal note saying why (a passed resolution SLA), once per key. */
  raiseCasePriority(input: {
    caseId: string;
    priority: 'low' | 'normal' | 'high' | 'urgent';
    note: string;
    idempotencyKey: string;
  }): Promise<void>;
}

/** Offline address validation and geocoding. */
export interface GeocoderPort {
  /** Validates and locates an address; `mismatch` explains a ZIP that disagrees with city/state. */
  geocode(address: Address): GeocodedAddress;
}
