import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { MILESTONE_CODES, MILESTONE_PROPS, propMap, type MilestoneRecord } from '../entities.js';
import { MESSAGES, ODataError, edmDateTimeOffset } from '../odata.js';
import {
  SERVICE_IDS,
  jsonObject,
  parseBody,
  edmDateString,
  stripAlpha,
  type EntitySetDef,
  type ODataEngine,
  type ServiceDef,
  type WriteContext,
  type WriteResult,
} from './engine.js';
import type { ServiceContext } from './context.js';

/** YY1_SHIPMENTMILESTONE_CDS: the custom milestone entity shipsync posts delivery milestones to. */
export function milestoneService(c: ServiceContext): ServiceDef {
  const set: EntitySetDef = {
    name: 'YY1_ShipmentMilestone',
    type: 'YY1_ShipmentMilestoneType',
    props: MILESTONE_PROPS,
    map: propMap(MILESTONE_PROPS),
    keys: ['SAP_UUID'],
    rows: () => c.store.milestones,
    find: (k) => c.store.milestones.find((m) => String(m.wire.SAP_UUID) === (k.SAP_UUID ?? '').toLowerCase()),
    wire: (r) => (r as MilestoneRecord).wire,
    navs: {},
  };
  return {
    id: SERVICE_IDS.milestone,
    sets: new Map([[set.name, set]]),
    functions: new Map(),
    writes: [
      {
        methods: ['POST'],
        name: 'YY1_ShipmentMilestone',
        addressed: false,
        handle: (engine, svc, _first, _params, body, ctx) =>
          createMilestone(c, engine, svc, jsonObject(body), ctx),
      },
    ],
  };
}

function createMilestone(
  c: ServiceContext,
  engine: ODataEngine,
  svc: ServiceDef,
  body: Record<string, unknown>,
  ctx: WriteContext,
): WriteResult {
  const input = parseBody(MilestoneInput, body);
  const id = stripAlpha(input.DeliveryDocument);
  if (!c.store.deliveries.has(id)) {
    throw new ODataError(
      400,
      MESSAGES.deliveryMissing,
      `Delivery ${input.DeliveryDocument} does not exist`,
      'DeliveryDocument',
    );
  }
  if (c.store.rules.rejectMilestoneCodes.includes(input.MilestoneCode)) {
    throw new ODataError(
      400,
      MESSAGES.milestoneInvalid,
      `Milestone code ${input.MilestoneCode} is not permitted for delivery ${id} by a validation rule`,
      'MilestoneCode',
    );
  }
  c.store.counters.milestoneSeq += 1;
  const rec: MilestoneRecord = {
    seq: c.store.counters.milestoneSeq,
    repeatabilityRequestId: ctx.repeatabilityRequestId,
    wire: {
      SAP_UUID: randomUUID(),
      DeliveryDocument: id,
      MilestoneCode: input.MilestoneCode,
      AttemptNumber: input.AttemptNumber,
      OccurredAt: input.OccurredAt,
      PlannedETA: input.PlannedETA ?? null,
      Note: input.Note ?? '',
      SAP_CreatedDateTime: edmDateTimeOffset(ctx.now),
      SAP_CreatedByUser: 'SHIPSYNC_COMM',
    },
  };
  c.store.addMilestone(rec);
  c.store.saveCounters();
  c.recordEffect('milestone', ctx.effectKey, id, {
    milestone: input.MilestoneCode,
    attempt: input.AttemptNumber,
  });
  const set = engine.setOf(svc, 'YY1_ShipmentMilestone');
  const entity = engine.entityJson(svc, set, rec, ctx.baseUrl, new Map());
  return {
    status: 201,
    headers: { location: String((entity.__metadata as { uri: string }).uri) },
    body: { d: entity },
  };
}

const MilestoneInput = z
  .object({
    __metadata: z.unknown().optional(),
    SAP_UUID: z.unknown().optional(),
    DeliveryDocument: z.string().min(1).max(10),
    MilestoneCode: z.enum(MILESTONE_CODES),
    AttemptNumber: z.number().int().min(1).max(99),
    OccurredAt: edmDateString,
    PlannedETA: edmDateString.nullable().optional(),
    Note: z.string().max(255).optional(),
  })
  .strict();
