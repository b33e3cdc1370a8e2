import { z } from 'zod';
import { Address, ExceptionKind, Instant, ShipmentPhase, TimeWindow } from '../domain/model.js';
import { ErrorBody } from './errors.js';
import { normalizeShipmentId } from './temporal.js';

/** `{id}` of the shipment routes: the workflow id `shipment-<deliveryId>` or the bare delivery id. */
export const ShipmentParams = z.object({
  id: z
    .string()
    .max(40)
    .refine(
      (id) => normalizeShipmentId(id) !== undefined,
      'expected shipment-<deliveryId> or an ERP delivery id (digits, capitals, dash)',
    )
    .describe('shipment-<deliveryId> or the bare ERP delivery id'),
});

/** Headers of the POST routes, documented; the key itself is checked by the idempotency layer. */
export const IdempotencyHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .optional()
    .describe(
      'unique per request (draft-ietf-httpapi-idempotency-key-header); a retry with the same key and body gets the first response',
    ),
});

/**
 * Body fields the server sets from the authenticated principal. A body that carries one is refused with
 * 400 VALIDATION_FAILED naming the field, so no client believes it chose who acted.
 */
export const PRINCIPAL_FIELDS = ['requestedBy', 'correctedBy', 'approvedBy'] as const;

/** True when a text holds a control character other than tab, line feed and carriage return. */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 32 && c !== 9 && c !== 10 && c !== 13) || c === 127) return true;
  }
  return false;
}

/** Free text: bounded, without control characters but tab and line breaks. */
const text = (max: number, min = 0) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((s) => !hasControl(s), 'control characters are not allowed');

/** Body of the reschedule route; `requestedBy` is the authenticated principal. */
export const RescheduleBody = z
  .object({
    window: TimeWindow,
    reason: text(500).default(''),
    ticketId: z
      .string()
      .regex(/^[\x21-\x7e]{1,100}$/, 'expected 1 to 100 printable characters')
      .optional(),
  })
  .meta({ id: 'RescheduleRequest' });
/** Body of the address route; `correctedBy` is the authenticated principal. */
export const AddressBody = z.object({ address: Address }).meta({ id: 'AddressCorrection' });
/** Body of the charges approval route; `approvedBy` is the authenticated principal. */
export const ApprovalBody = z
  .object({
    approve: z
      .boolean()
      .default(true)
      .describe('false rejects the accessorials; a rejection decides at once, also under four-eyes'),
  })
  .meta({ id: 'ChargeApproval' });
/** Body of the exception resolution route. */
export const ResolutionBody = z
  .object({ kind: ExceptionKind, resolution: text(1000, 1) })
  .meta({ id: 'ExceptionResolution' });

/** Body of the manual proof-of-delivery route; who recorded it is the token's principal. */
export const ManualPodBody = z
  .object({
    evidence: text(2000, 1).describe(
      'what shows the goods were delivered (a call, a signed paper, a photo ref)',
    ),
    deliveredAt: Instant.optional().describe('when delivered; now when absent'),
  })
  .meta({ id: 'ManualPod' });
/** Body of the cancel and force-return routes. */
export const OperatorDecisionBody = z
  .object({ reason: text(500, 1).describe('why; kept on the shipment, its cases and in the audit trail') })
  .meta({ id: 'OperatorDecision' });
/** Body of the dispatch force-complete route: Onfleet's completion details. */
export const ForceCompleteBody = z
  .object({
    success: z
      .boolean()
      .describe('true: completed as delivered; false: failed (dispatch reports MANAGER_OVERRIDE)'),
    notes: text(500, 1).describe('why it was completed by hand; kept on the task and in the audit trail'),
  })
  .meta({ id: 'ForceComplete' });
/** 200 of the dispatch force-complete route: the task dispatch completed; the shipment follows its webhook. */
export const ForceCompleteResponse = z
  .object({
    shipmentId: z.string(),
    taskId: z.string(),
    success: z.boolean(),
    phase: ShipmentPhase.describe("the shipment's phase when the task was completed, before the webhook"),
  })
  .meta({ id: 'ForceCompleteResult' });
/** 200 of the manual POD, cancel and force-return routes: where the shipment stands now. */
export const OperatorActionResponse = z
  .object({
    shipmentId: z.string(),
    phase: ShipmentPhase,
    outcome: z.enum(['delivered', 'returned', 'cancelled']).optional(),
  })
  .meta({ id: 'OperatorActionResult' });

/** 200 of the reschedule route. */
export const RescheduleResponse = z
  .object({ shipmentId: z.string(), window: TimeWindow, eta: z.string().optional() })
  .meta({ id: 'RescheduleResult' });
/** 200 of the address route. */
export const AddressResponse = z.object({ shipmentId: z.string(), phase: ShipmentPhase });
/** One finance decision as the shipment records it. */
const ApprovalRecordView = z.object({
  principal: z.string(),
  decision: z.enum(['approved', 'rejected']),
  at: z.string(),
});
/** 200 of the charges approval route. */
export const ApprovalResponse = z.object({
  shipmentId: z.string(),
  total: z.number(),
  status: z
    .enum(['pending', 'approved', 'rejected'])
    .optional()
    .describe('pending: four-eyes, a second finance principal must approve'),
  approvals: z.array(ApprovalRecordView).optional(),
  approvalsRequired: z.number().int().optional(),
});
/** 200 of the exception resolution route. */
export const ResolutionResponse = z.object({ shipmentId: z.string(), openCases: z.number().int() });

/** The parked side effect an operator acts on (see the status's `parked` list). */
const parkedId = z
  .string()
  .regex(/^p\d{1,6}$/, 'a parked item id looks like p1')
  .describe("the id in the status's parked list");
/** Body of the parked retry route. */
export const ParkedRetryBody = z.object({ parkedId }).meta({ id: 'ParkedRetry' });
/** Body of the parked skip route. */
export const ParkedSkipBody = z
  .object({ parkedId, reason: text(500, 1).describe('why it is dropped for good; kept on the shipment') })
  .meta({ id: 'ParkedSkip' });
/** Body of the parked edit route: only the fields the parked kind allows. */
export const ParkedEditBody = z
  .object({
    parkedId,
    edits: z
      .object({
        occurredAt: Instant.optional().describe('milestone'),
        eta: Instant.optional().describe('milestone'),
        message: text(2000, 1).optional().describe('customer notice'),
        subject: text(200, 1).optional().describe('case'),
        description: text(4000, 1).optional().describe('case'),
        priority: z.enum(['low', 'normal', 'high', 'urgent']).optional().describe('case'),
      })
      .strict(),
  })
  .meta({ id: 'ParkedEdit' });
/** 200 of the parked routes. */
export const ParkedResponse = z
  .object({
    shipmentId: z.string(),
    parkedId: z.string(),
    outcome: z.enum(['posted', 'skipped']),
    stillParked: z.number().int(),
  })
  .meta({ id: 'ParkedOutcome' });

/** 200 of the status route: the shipment workflow's status query. */
export const StatusResponse = z
  .looseObject({
    shipmentId: z.string(),
    deliveryId: z.string(),
    customerId: z.string(),
    region: z.string(),
    phase: ShipmentPhase,
    window: TimeWindow,
    eta: z.string().optional(),
    taskId: z.string().optional(),
    driverId: z.string().optional(),
    attempts: z.number().int(),
    openCases: z.array(z.object({ caseId: z.string(), kind: ExceptionKind })),
    awaitingApproval: z.boolean(),
    approvals: z.array(ApprovalRecordView).optional(),
    approvalsRequired: z.number().int().optional(),
    milestones: z.array(z.looseObject({ milestone: z.string(), attempt: z.number(), at: z.string() })),
    billingDocumentId: z.string().optional(),
    pricingVersion: z
      .string()
      .optional()
      .describe('the version of the ERP prices (condition records) the charges were priced with'),
    outcome: z.enum(['delivered', 'returned', 'cancelled']).optional(),
    parked: z
      .array(
        z.looseObject({
          id: z.string(),
          action: z.looseObject({ kind: z.string() }),
          code: z.string(),
          message: z.string(),
          parkedAt: z.string(),
          rejections: z.number().int(),
        }),
      )
      .optional()
      .describe('side effects a vendor rejected for good, waiting for retry, edit or skip'),
    billingSkipped: z.string().optional(),
    inbox: z
      .object({
        pending: z.number().int(),
        forwarded: z.number().int(),
        late: z.number().int().describe('arrived after the shipment had closed: kept, not dead letters'),
        ignored: z
          .number()
          .int()
          .describe('refused before the workflow, e.g. about a task shipsync did not create'),
        dead: z.number().int(),
      })
      .describe("the shipment's events in the gateway's inbox, by where they stand"),
  })
  .meta({ id: 'ShipmentStatus' });

/** Query of the list route; every value is checked against a closed set or a strict pattern. */
export const ListQuery = z.strictObject({
  status: ShipmentPhase.optional().describe('shipment phase (the ShipmentStatus search attribute)'),
  region: z
    .string()
    .regex(/^[A-Z]{2,8}$/, 'expected a region code in capitals')
    .optional(),
  exception: z
    .union([ExceptionKind, z.enum(['none', 'any'])])
    .optional()
    .describe('open exception kind, `none`, or `any` for shipments with one'),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type ListQuery = z.infer<typeof ListQuery>;

/** One row of the list route. */
export const ShipmentSummary = z.object({
  shipmentId: z.string(),
  deliveryId: z.string().optional(),
  status: z.string().optional(),
  region: z.string().optional(),
  customerId: z.string().optional(),
  deliveryDate: z.string().optional(),
  openException: z.string().optional(),
  invoiceReady: z.boolean().optional(),
  workflowStatus: z.string(),
  startTime: z.string(),
});
/** 200 of the list route. */
export const ListResponse = z.object({ shipments: z.array(ShipmentSummary) });

/** Query of the dead-letter list. */
export const DeadLetterListQuery = z.strictObject({
  status: z.enum(['open', 'replayed', 'discarded']).optional(),
  source: z.enum(['dispatch', 'crm', 'erp']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce.number().int().positive().optional().describe('page backwards from this id'),
});
/** `{id}` of the dead-letter routes. */
export const DeadLetterParams = z.object({
  id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER),
});

/** A dead letter as the API shows it. */
export const DeadLetterView = z
  .object({
    id: z.number().int(),
    source: z.enum(['dispatch', 'crm', 'erp']),
    stage: z
      .enum(['intake', 'delivery', 'release'])
      .describe(
        'intake: refused at the webhook; delivery: accepted but not deliverable; release: a released ERP delivery whose data failed validation in a release pass',
      ),
    eventId: z.string().nullable(),
    eventType: z.string().nullable(),
    shipmentId: z.string().nullable(),
    code: z.string(),
    reason: z.string(),
    status: z.enum(['open', 'replayed', 'discarded']),
    createdAt: z.string(),
    replayedAt: z.string().nullable(),
    discardedAt: z.string().nullable(),
    payload: z
      .string()
      .optional()
      .describe('the body as received (intake) or the canonical event (delivery)'),
    headers: z.record(z.string(), z.string()).optional(),
  })
  .meta({ id: 'DeadLetter' });
/** 200 of the dead-letter list. */
export const DeadLetterList = z.object({
  deadLetters: z.array(DeadLetterView),
  nextBefore: z.number().int().optional(),
});
/** 200 of a replay. */
export const ReplayResponse = z.object({
  id: z.number().int(),
  status: z.enum(['open', 'replayed', 'discarded']),
  outcome: z.enum(['requeued', 'inserted', 'duplicate', 'telemetry', 'ignored', 'already_replayed']),
  eventId: z.string().optional(),
});

/** Query of the audit trail. */
export const AuditListQuery = z.strictObject({
  shipment: z
    .string()
    .max(40)
    .refine((id) => normalizeShipmentId(id) !== undefined, 'expected shipment-<deliveryId> or a delivery id')
    .optional(),
  principal: z
    .string()
    .regex(/^[\x21-\x7e]{1,100}$/, 'expected a principal id')
    .optional(),
  from: Instant.optional().describe('rows at or after this instant'),
  to: Instant.optional().describe('rows before this instant'),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  cursor: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/, 'expected the nextCursor of a previous page')
    .optional(),
});
/** One audit row. */
export const AuditEntryView = z
  .object({
    id: z.number().int(),
    at: z.string(),
    principalId: z.string(),
    principalKind: z.string().describe('person, service, or operator (the CLI user)'),
    role: z.string().nullable().describe('the role the action was allowed under; null when refused'),
    action: z.string(),
    method: z.string(),
    route: z.string(),
    shipmentId: z.string().nullable(),
    target: z.string().nullable(),
    idempotencyKey: z.string().nullable(),
    statusCode: z.number().int(),
    outcome: z.string().describe('ok, or the error code of the answer'),
    detail: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'AuditEntry' });
/** 200 of the audit trail. */
export const AuditList = z.object({
  entries: z.array(AuditEntryView),
  nextCursor: z.string().optional().describe('pass as cursor for the next (older) page'),
});

/** 2xx of a webhook. */
export const WebhookAccepted = z
  .object({
    accepted: z.literal(true),
    duplicate: z
      .boolean()
      .optional()
      .describe('true when this event id was accepted before; nothing happened twice'),
    eventId: z.string().optional(),
    telemetry: z.boolean().optional().describe('stored as telemetry, not forwarded to a workflow'),
    ignored: z.boolean().optional(),
    reason: z.string().optional(),
  })
  .meta({ id: 'WebhookAccepted' });

/** The error responses every route may give, for the OpenAPI document. */
export function errorResponses(...statuses: number[]) {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBody])) as Record<number, typeof ErrorBody>;
}
