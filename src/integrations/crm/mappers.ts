import { z } from 'zod';
import { ShipsyncError, issuePath } from '../../domain/errors.js';
import { parseEvent, type CanonicalEvent } from '../../domain/events.js';
import { Case, ExceptionKind, TimeWindow, type TimeWindow as Window } from '../../domain/model.js';
import type { CrmPort } from '../ports.js';

/**
 * Pure mapping between shipsync's canonical CRM model and the Zendesk Support API dialect: cases and
 * customer notices become tickets and comments; Zendesk webhook events become canonical events.
 */

/** Numeric ids of the ticket fields shipsync writes; account-specific in a real Zendesk, so overridable. */
export interface ZendeskFieldIds {
  shipmentId: number;
  deliveryId: number;
  customerId: number;
  caseKind: number;
  idempotencyKey: number;
}

/** Field ids the sandbox and a fresh account configuration use. */
export const DEFAULT_FIELD_IDS: ZendeskFieldIds = {
  shipmentId: 360_000_000_101,
  deliveryId: 360_000_000_102,
  customerId: 360_000_000_103,
  caseKind: 360_000_000_104,
  idempotencyKey: 360_000_000_105,
};

/** Tag on every exception case ticket. */
export const CASE_TAG = 'shipsync_case';
/** Tag on the one ticket per shipment that carries customer notices. */
export const NOTIFICATION_TAG = 'shipsync_notifications';
/** Custom audit metadata key that records which idempotency key added a comment. */
export const KEY_METADATA_KEY = 'shipsync_idempotency_key';
/** Custom audit metadata key that carries the plan marker of an ETA notice. */
export const PLAN_METADATA_KEY = 'shipsync_plan';
/** Event type of the Zendesk webhook sent when a customer asks for another slot. */
export const ZENDESK_RESCHEDULE_EVENT_TYPE = 'zen:event-type:ticket.reschedule_requested';

/** Prefix of the tag naming a case's exception kind. */
export const KIND_TAG_PREFIX = 'shipsync_kind_';

/** Tag naming a case's exception kind, e.g. `shipsync_kind_failed_attempt`. */
export function kindTag(kind: ExceptionKind): string {
  return `${KIND_TAG_PREFIX}${kind}`;
}

/** The plan an ETA notice announces: the ETA and the window the customer should expect. */
export interface AnnouncedPlan {
  eta: string;
  window: Window;
}

/** The machine-readable marker of an announced plan: `shipsync:eta=<ISO>;window=<ISO>/<ISO>`. */
export function formatPlanMarker(plan: AnnouncedPlan): string {
  return `shipsync:eta=${plan.eta};window=${plan.window.start}/${plan.window.end}`;
}

const MARKER = /\[?shipsync:eta=([^;\s\]]+);window=([^/\s\]]+)\/([^;\s\]]+)\]?/;
const Instant = z.iso.datetime({ offset: true });

/** Splits a message into the text a customer reads and the plan marker it may carry. */
export function extractPlanMarker(message: string): { text: string; plan?: AnnouncedPlan } {
  const m = MARKER.exec(message);
  if (!m) return { text: message.trim() };
  const [whole, eta, start, end] = m;
  const window = TimeWindow.safeParse({ start, end });
  const text = message
    .replace(whole, '')
    .replace(/[ \t]+\n/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  if (!eta || !Instant.safeParse(eta).success || !window.success) return { text: message.trim() };
  return { text, plan: { eta, window: window.data } };
}

/** Input of `CrmPort.openCase`. */
export type OpenCaseInput = Parameters<CrmPort['openCase']>[0];
/** Input of `CrmPort.notifyCustomer`, with the plan an ETA notice announces when it has one. */
export type NotifyCustomerInput = Parameters<CrmPort['notifyCustomer']>[0];

/** The Zendesk create-ticket body for an exception case. */
export function caseToTicketCreate(input: OpenCaseInput, ids: ZendeskFieldIds = DEFAULT_FIELD_IDS) {
  return {
    ticket: {
      subject: input.subject.slice(0, 250),
      comment: { body: input.description.trim() || input.subject, public: false },
      external_id: input.shipmentId,
      priority: input.priority,
      tags: [CASE_TAG, kindTag(input.kind)],
      custom_fields: [
        { id: ids.shipmentId, value: input.shipmentId },
        { id: ids.deliveryId, value: input.deliveryId },
        { id: ids.customerId, value: input.customerId },
        { id: ids.caseKind, value: input.kind },
        { id: ids.idempotencyKey, value: input.idempotencyKey },
      ],
      metadata: { [KEY_METADATA_KEY]: input.idempotencyKey },
    },
  };
}

/**
 * The Zendesk create-ticket body for a shipment's notice thread. Opened for a shipment's first notice
 * (`firstNotice`), the notice is the ticket's first comment, public, with its key and plan in the audit
 * metadata as a later comment would carry them: one request instead of a create and an update.
 */
export function noticeThreadCreate(
  input: Pick<NotifyCustomerInput, 'shipmentId' | 'deliveryId' | 'customerId'>,
  ids: ZendeskFieldIds = DEFAULT_FIELD_IDS,
  firstNotice?: NotifyCustomerInput,
) {
  const notice = firstNotice ? noticeCommentUpdate(firstNotice).ticket : undefined;
  return {
    ticket: {
      subject: `Delivery updates for ${input.shipmentId}`,
      comment: notice?.comment ?? {
        body: `Customer notices for delivery ${input.deliveryId} are posted on this ticket by shipsync.`,
        public: false,
      },
      external_id: input.shipmentId,
      status: 'open' as const,
      tags: [NOTIFICATION_TAG],
      custom_fields: [
        { id: ids.shipmentId, value: input.shipmentId },
        { id: ids.deliveryId, value: input.deliveryId },
        { id: ids.customerId, value: input.customerId },
      ],
      ...(notice ? { metadata: notice.metadata } : {}),
    },
  };
}

/** The Zendesk update body that adds a customer notice as a public comment, its key in the audit metadata. */
export function noticeCommentUpdate(input: NotifyCustomerInput) {
  const { text, plan: inMessage } = extractPlanMarker(input.message);
  const plan = input.plan ?? inMessage;
  return {
    ticket: {
      comment: { body: text || input.message, public: true },
      metadata: {
        [KEY_METADATA_KEY]: input.idempotencyKey,
        ...(plan ? { [PLAN_METADATA_KEY]: formatPlanMarker(plan) } : {}),
      },
    },
  };
}

/** The Zendesk update body of a public reply to the customer on their ticket, its key in the audit metadata. */
export function replyCommentUpdate(message: string, idempotencyKey: string) {
  return {
    ticket: {
      comment: { body: message.trim() || message, public: true },
      metadata: { [KEY_METADATA_KEY]: idempotencyKey },
    },
  };
}

/** The Zendesk update body that raises a case's priority with an internal note saying why. */
export function priorityUpdate(priority: string, note: string, idempotencyKey: string) {
  return {
    ticket: {
      priority,
      comment: { body: note.trim() || `Priority raised to ${priority}.`, public: false },
      metadata: { [KEY_METADATA_KEY]: idempotencyKey },
    },
  };
}

/** The Zendesk update body that solves a case with an internal closing comment. */
export function closeCaseUpdate(resolution: string, idempotencyKey: string) {
  return {
    ticket: {
      status: 'solved' as const,
      comment: { body: resolution.trim() || 'Solved by shipsync.', public: false },
      metadata: { [KEY_METADATA_KEY]: idempotencyKey },
    },
  };
}

/** A Zendesk ticket, as much of it as shipsync reads. */
export const ZendeskTicket = z.object({
  id: z.number().int().positive(),
  external_id: z.string().nullable().optional(),
  subject: z.string().nullable().optional(),
  description: z.string().nullable().optional(),
  status: z.enum(['new', 'open', 'pending', 'hold', 'solved', 'closed']),
  priority: z.enum(['low', 'normal', 'high', 'urgent']).nullable().optional(),
  tags: z.array(z.string()).default([]),
  custom_fields: z.array(z.object({ id: z.number(), value: z.unknown() })).default([]),
  created_at: z.string().optional(),
  updated_at: z.string().optional(),
});
/** A Zendesk ticket, as much of it as shipsync reads. */
export type ZendeskTicket = z.infer<typeof ZendeskTicket>;

/** A Zendesk ticket comment, as much of it as shipsync reads. */
export const ZendeskComment = z.object({
  id: z.number().int(),
  body: z.string().default(''),
  public: z.boolean().default(true),
  metadata: z
    .object({ custom: z.record(z.string(), z.unknown()).nullable().optional() })
    .nullable()
    .optional(),
});
/** A Zendesk ticket comment, as much of it as shipsync reads. */
export type ZendeskComment = z.infer<typeof ZendeskComment>;

/** The value of a custom field on a ticket. */
export function fieldValue(ticket: ZendeskTicket, id: number): unknown {
  return ticket.custom_fields.find((f) => f.id === id)?.value;
}

/** The idempotency key recorded on a comment, if any. */
export function commentKey(comment: ZendeskComment): string | undefined {
  const v = comment.metadata?.custom?.[KEY_METADATA_KEY];
  return typeof v === 'string' ? v : undefined;
}

/** A Zendesk case ticket as a canonical Case; undefined for tickets that are not shipsync cases. */
export function ticketToCase(
  ticket: ZendeskTicket,
  ids: ZendeskFieldIds = DEFAULT_FIELD_IDS,
): Case | undefined {
  if (!ticket.tags.includes(CASE_TAG)) return undefined;
  const fromField = ExceptionKind.safeParse(fieldValue(ticket, ids.caseKind));
  const fromTag = ExceptionKind.safeParse(
    ticket.tags.find((t) => t.startsWith(KIND_TAG_PREFIX))?.slice(KIND_TAG_PREFIX.length),
  );
  const kind = fromField.success ? fromField.data : fromTag.success ? fromTag.data : undefined;
  const shipmentId = ticket.external_id ?? fieldValue(ticket, ids.shipmentId);
  if (!kind || typeof shipmentId !== 'string' || !shipmentId) return undefined;
  return Case.parse({
    caseId: String(ticket.id),
    shipmentId,
    kind,
    // A case on hold waits on a third party, which the canonical model calls pending.
    status: ticket.status === 'hold' ? 'pending' : ticket.status,
    priority: ticket.priority ?? 'normal',
    subject: (ticket.subject ?? '').slice(0, 200) || `Case ${ticket.id}`,
    description: (ticket.description ?? '').slice(0, 5000),
  });
}

const RescheduleWebhook = z.object({
  type: z.literal(ZENDESK_RESCHEDULE_EVENT_TYPE),
  id: z.string().min(1).max(150),
  time: z.iso.datetime({ offset: true }),
  detail: z.object({
    id: z.union([z.string().regex(/^\d{1,20}$/), z.number().int().positive().transform(String)]),
    external_id: z.string().min(1).max(200),
  }),
  event: z.object({ requested_window: TimeWindow }),
});

/** Source attribute of canonical events that come from the CRM. */
export const CRM_EVENT_SOURCE = 'crm/zendesk';

/**
 * A Zendesk `ticket.reschedule_requested` webhook body as a canonical `reschedule.requested.v1` event. The
 * event id derives from Zendesk's event id, so a redelivered webhook maps to the same canonical event.
 * Throws EVENT_SCHEMA_INVALID naming the offending field.
 */
export function rescheduleWebhookToEvent(body: unknown): CanonicalEvent<'reschedule.requested.v1'> {
  const parsed = RescheduleWebhook.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue ? issuePath(issue.path) : '';
    throw new ShipsyncError(
      'EVENT_SCHEMA_INVALID',
      `Zendesk webhook: ${field || 'body'}: ${issue?.message ?? 'invalid'}`,
      {
        field,
      },
    );
  }
  const w = parsed.data;
  const event = parseEvent({
    specversion: '1.0',
    id: `zendesk-${w.id}`,
    source: CRM_EVENT_SOURCE,
    subject: w.detail.external_id,
    type: 'reschedule.requested.v1',
    time: w.time,
    datacontenttype: 'application/json',
    correlationid: w.detail.external_id,
    data: { window: w.event.requested_window, requestedBy: 'customer', ticketId: w.detail.id },
  });
  return event as CanonicalEvent<'reschedule.requested.v1'>;
}
