import { z } from 'zod';
import { ExceptionKind, ShipmentPhase, TimeWindow } from '../domain/model.js';
import {
  AddressCorrection,
  ChargeApproval,
  ExceptionResolution,
  RescheduleRequest,
} from '../workflows/shipment/contract.js';
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

/** Body of the reschedule route. */
export const RescheduleBody = RescheduleRequest.meta({ id: 'RescheduleRequest' });
/** Body of the address route. */
export const AddressBody = AddressCorrection.meta({ id: 'AddressCorrection' });
/** Body of the charges approval route. */
export const ApprovalBody = ChargeApproval.meta({ id: 'ChargeApproval' });
/** Body of the exception resolution route. */
export const ResolutionBody = ExceptionResolution.meta({ id: 'ExceptionResolution' });

/** 200 of the reschedule route. */
export const RescheduleResponse = z
  .object({ shipmentId: z.string(), window: TimeWindow, eta: z.string().optional() })
  .meta({ id: 'RescheduleResult' });
/** 200 of the address route. */
export const AddressResponse = z.object({ shipmentId: z.string(), phase: ShipmentPhase });
/** 200 of the charges approval route. */
export const ApprovalResponse = z.object({ shipmentId: z.string(), total: z.number() });
/** 200 of the exception resolution route. */
export const ResolutionResponse = z.object({ shipmentId: z.string(), openCases: z.number().int() });

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
    milestones: z.array(z.looseObject({ milestone: z.string(), attempt: z.number(), at: z.string() })),
    billingDocumentId: z.string().optional(),
    outcome: z.enum(['delivered', 'returned']).optional(),
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
      .enum(['intake', 'delivery'])
      .describe('intake: refused at the webhook; delivery: accepted but not deliverable'),
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
