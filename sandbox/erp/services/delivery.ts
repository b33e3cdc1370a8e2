import {
  ADDRESS_PROPS,
  HEADER_PROPS,
  HEADER_UPDATABLE,
  ITEM_PROPS,
  PARTNER_PROPS,
  deliveryEtag,
  propMap,
  touch,
  type DeliveryRecord,
  type Wire,
} from '../entities.js';
import { MESSAGES, ODataError, edmDateTime, edmTime, parseEdmDate, validWireValue } from '../odata.js';
import {
  SERVICE_IDS,
  jsonObject,
  stripAlpha,
  type EntitySetDef,
  type ODataEngine,
  type ServiceDef,
  type WriteContext,
  type WriteResult,
} from './engine.js';
import type { ServiceContext } from './context.js';

const headerMap = propMap(HEADER_PROPS);

/** API_OUTBOUND_DELIVERY_SRV: outbound deliveries with items, partners and addresses; PostGoodsIssue. */
export function deliveryService(c: ServiceContext): ServiceDef {
  const store = c.store;
  const header: EntitySetDef = {
    name: 'A_OutbDeliveryHeader',
    type: 'A_OutbDeliveryHeaderType',
    props: HEADER_PROPS,
    map: headerMap,
    keys: ['DeliveryDocument'],
    rows: () => [...store.deliveries.values()],
    find: (k) => store.deliveries.get(stripAlpha(k.DeliveryDocument ?? '')),
    wire: (r) => (r as DeliveryRecord).header,
    etag: (r) => deliveryEtag(r as DeliveryRecord),
    navs: {
      to_DeliveryDocumentItem: {
        target: 'A_OutbDeliveryItem',
        many: true,
        resolve: (r) => (r as DeliveryRecord).items,
      },
      to_DeliveryDocumentPartner: {
        target: 'A_OutbDeliveryPartner',
        many: true,
        resolve: (r) => (r as DeliveryRecord).partners,
      },
    },
  };
  const allItems = () => [...store.deliveries.values()].flatMap((d) => d.items);
  const item: EntitySetDef = {
    name: 'A_OutbDeliveryItem',
    type: 'A_OutbDeliveryItemType',
    props: ITEM_PROPS,
    map: propMap(ITEM_PROPS),
    keys: ['DeliveryDocument', 'DeliveryDocumentItem'],
    rows: allItems,
    find: (k) =>
      store.deliveries
        .get(stripAlpha(k.DeliveryDocument ?? ''))
        ?.items.find(
          (i) => stripAlpha(String(i.DeliveryDocumentItem)) === stripAlpha(k.DeliveryDocumentItem ?? ''),
        ),
    wire: (r) => r as Wire,
    navs: {},
  };
  type Partner = DeliveryRecord['partners'][number];
  const partner: EntitySetDef = {
    name: 'A_OutbDeliveryPartner',
    type: 'A_OutbDeliveryPartnerType',
    props: PARTNER_PROPS,
    map: propMap(PARTNER_PROPS),
    keys: ['PartnerFunction', 'SDDocument'],
    rows: () => [...store.deliveries.values()].flatMap((d) => d.partners),
    find: (k) =>
      store.deliveries
        .get(stripAlpha(k.SDDocument ?? ''))
        ?.partners.find((p) => p.partner.PartnerFunction === k.PartnerFunction),
    wire: (r) => (r as Partner).partner,
    navs: {
      to_Address: { target: 'A_OutbDeliveryAddress', many: false, resolve: (r) => (r as Partner).address },
    },
  };
  const address: EntitySetDef = {
    name: 'A_OutbDeliveryAddress',
    type: 'A_OutbDeliveryAddressType',
    props: ADDRESS_PROPS,
    map: propMap(ADDRESS_PROPS),
    keys: ['AddressID', 'POBox', 'POBoxDeviatingCountry'],
    rows: () =>
      [...store.deliveries.values()].flatMap((d) =>
        d.partners.filter((p) => p.partner.PartnerFunction === 'WE').map((p) => p.address),
      ),
    find: (k) => {
      for (const d of store.deliveries.values()) {
        const hit = d.partners.find((p) => p.address.AddressID === k.AddressID);
        if (hit) return hit.address;
      }
      return undefined;
    },
    wire: (r) => r as Wire,
    navs: {},
  };
  return {
    id: SERVICE_IDS.delivery,
    sets: new Map([header, item, partner, address].map((s) => [s.name, s])),
    functions: new Map([
      [
        'PostGoodsIssue',
        {
          name: 'PostGoodsIssue',
          params: [{ name: 'DeliveryDocument', maxLength: 10 }],
          returnType: 'PickingReport',
        },
      ],
    ]),
    writes: [
      {
        methods: ['POST'],
        name: 'PostGoodsIssue',
        addressed: false,
        handle: (_engine, _svc, _first, params, _body, ctx) => postGoodsIssue(c, params, ctx),
      },
      {
        methods: ['PATCH', 'PUT'],
        name: 'A_OutbDeliveryHeader',
        addressed: true,
        handle: (engine, svc, first, _params, body, ctx) =>
          updateHeader(
            c,
            engine.findByKey(engine.setOf(svc, first.name), first) as DeliveryRecord,
            jsonObject(body),
            ctx,
          ),
      },
    ],
  };
}

/** Checks If-Match against a delivery's ETag, after any simulated concurrent edit. */
function precondition(c: ServiceContext, rec: DeliveryRecord, ctx: WriteContext) {
  if (rec.pendingConcurrentEdits > 0) {
    // Another user's change: it stays even when this request's change set is rolled back.
    c.store.changeDurably(rec, (r) => {
      r.pendingConcurrentEdits -= 1;
      touch(r, ctx.now, 'CB9980000042');
    });
  }
  if (ctx.ifMatch === undefined || ctx.ifMatch.trim() === '') {
    throw new ODataError(
      428,
      MESSAGES.preconditionRequired,
      'Precondition required: send If-Match with the ETag of the entity',
    );
  }
  const current = deliveryEtag(rec);
  const bare = (t: string) => t.trim().replace(/^W\//, '');
  const ok = ctx.ifMatch.split(',').some((t) => t.trim() === '*' || bare(t) === bare(current));
  if (!ok) {
    throw new ODataError(
      412,
      MESSAGES.preconditionFailed,
      'Precondition failed: the entity was changed by another user; read it again',
      '',
      { etag: current },
    );
  }
}

function updateHeader(
  c: ServiceContext,
  rec: DeliveryRecord,
  body: Record<string, unknown>,
  ctx: WriteContext,
): WriteResult {
  precondition(c, rec, ctx);
  const changes: Wire = {};
  for (const [name, value] of Object.entries(body)) {
    if (name === '__metadata') continue;
    const spec = headerMap.get(name);
    if (!spec)
      throw new ODataError(
        400,
        MESSAGES.propertyInvalid,
        `Property '${name.slice(0, 60)}' is invalid`,
        name.slice(0, 60),
      );
    if (!HEADER_UPDATABLE.has(name)) {
      if (JSON.stringify(value) === JSON.stringify(rec.header[name] ?? null)) continue;
      throw new ODataError(400, MESSAGES.propertyInvalid, `Property '${name}' is not updatable`, name);
    }
    if (!validWireValue(spec, value)) {
      throw new ODataError(
        400,
        MESSAGES.propertyInvalid,
        `Value for property '${name}' does not match its type ${spec.type}`,
        name,
      );
    }
    if (JSON.stringify(value) !== JSON.stringify(rec.header[name] ?? null)) changes[name] = value;
  }
  const start = parseEdmDate(changes.YY1_DelivWindowStart_DLH ?? rec.header.YY1_DelivWindowStart_DLH);
  const end = parseEdmDate(changes.YY1_DelivWindowEnd_DLH ?? rec.header.YY1_DelivWindowEnd_DLH);
  if (start !== undefined && end !== undefined && end <= start) {
    throw new ODataError(
      400,
      MESSAGES.propertyInvalid,
      'Requested window end must be after its start',
      'YY1_DelivWindowEnd_DLH',
    );
  }
  if (Object.keys(changes).length > 0) {
    Object.assign(rec.header, changes);
    touch(rec, ctx.now);
    c.store.saveDelivery(rec);
    const commit = ['DeliveryDate', 'DeliveryTime', 'YY1_CommittedETA_DLH'].some((k) => k in changes);
    c.recordEffect(
      commit ? 'commit_date' : 'delivery_update',
      ctx.effectKey,
      String(rec.header.DeliveryDocument),
      changes,
    );
    c.onDeliveryChanged(rec);
  }
  return { status: 204, headers: { etag: deliveryEtag(rec) } };
}

function postGoodsIssue(c: ServiceContext, params: Map<string, string[]>, ctx: WriteContext): WriteResult {
  const raw = params.get('DeliveryDocument');
  if (!raw || raw.length !== 1) {
    throw new ODataError(
      400,
      MESSAGES.badRequest,
      "Function import parameter DeliveryDocument is missing; call PostGoodsIssue?DeliveryDocument='80000001'",
      'DeliveryDocument',
    );
  }
  const m = /^'((?:[^']|''){1,10})'$/.exec(raw[0] as string);
  if (!m?.[1])
    throw new ODataError(
      400,
      MESSAGES.badRequest,
      'Parameter DeliveryDocument must be a quoted string of up to 10 characters',
      'DeliveryDocument',
    );
  const id = stripAlpha(m[1].replace(/''/g, "'"));
  const rec = c.store.deliveries.get(id);
  if (!rec)
    throw new ODataError(404, MESSAGES.notFound, `Resource not found for segment 'A_OutbDeliveryHeaderType'`);
  precondition(c, rec, ctx);
  if (rec.header.OverallGoodsMovementStatus === 'C') {
    throw new ODataError(
      400,
      MESSAGES.alreadyIssued,
      `Goods issue for outbound delivery ${id} has already been posted`,
      'DeliveryDocument',
    );
  }
  const dayMs = Math.floor(ctx.now / 86_400_000) * 86_400_000;
  Object.assign(rec.header, {
    OverallGoodsMovementStatus: 'C',
    OverallSDProcessStatus: 'B',
    ActualGoodsMovementDate: edmDateTime(dayMs),
    ActualGoodsMovementTime: edmTime(Math.floor((ctx.now - dayMs) / 1000)),
  });
  for (const item of rec.items) item.GoodsMovementStatus = 'C';
  touch(rec, ctx.now);
  c.store.saveDelivery(rec);
  c.recordEffect('goods_issue', ctx.effectKey, id, {});
  c.onDeliveryChanged(rec);
  const report = {
    __metadata: { type: `${SERVICE_IDS.delivery}.PickingReport` },
    SystemMessageIdentification: 'VL',
    SystemMessageNumber: '311',
    SystemMessageType: 'S',
    SystemMessageVariable1: 'Outbound Delivery',
    SystemMessageVariable2: id,
    SystemMessageVariable3: '',
    SystemMessageVariable4: '',
    Batch: '',
    DeliveryQuantityUnit: '',
    ActualDeliveryQuantity: '0.000',
    DeliveryDocumentItemText: '',
    Material: '',
    DeliveryDocumentItem: '',
    DeliveryDocument: id,
  };
  return { status: 200, headers: { etag: deliveryEtag(rec) }, body: { d: { results: [report] } } };
}

/** A delivery with its items and partners expanded, as the release push sends it. */
export function deliveryJson(engine: ODataEngine, rec: DeliveryRecord, baseUrl: string): Wire {
  const svc = engine.services.get(SERVICE_IDS.delivery) as ServiceDef;
  const set = svc.sets.get('A_OutbDeliveryHeader') as EntitySetDef;
  const expand = engine.expandTree(svc, set, [
    'to_DeliveryDocumentItem',
    'to_DeliveryDocumentPartner/to_Address',
  ]);
  return engine.entityJson(svc, set, rec, baseUrl, expand);
}
