import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { EffectLog } from '../common/effects.js';
import {
  ADDRESS_PROPS,
  BILLING_ITEM_PROPS,
  BILLING_PROPS,
  HEADER_PROPS,
  HEADER_UPDATABLE,
  ITEM_PROPS,
  MILESTONE_CODES,
  MILESTONE_PROPS,
  PARTNER_PROPS,
  deliveryEtag,
  propMap,
  touch,
  type BillingRecord,
  type DeliveryRecord,
  type MilestoneRecord,
  type Wire,
} from './entities.js';
import {
  MESSAGES,
  ODataError,
  comparable,
  compileFilter,
  edmDateTime,
  edmDateTimeOffset,
  edmTime,
  parseEdmDate,
  parseOrderBy,
  validWireValue,
  wireText,
  type PathSegment,
  type PropSpec,
  type QueryOptions,
} from './odata.js';
import type { ErpStore } from './state.js';

/** Service names as they appear in `/sap/opu/odata/sap/<name>`. */
export const SERVICE_IDS = {
  delivery: 'API_OUTBOUND_DELIVERY_SRV',
  billing: 'API_BILLING_DOCUMENT_REQUEST_SRV',
  milestone: 'YY1_SHIPMENTMILESTONE_CDS',
} as const;

/** Largest page the sandbox serves before it pages on the server side with `__next`. */
export const MAX_PAGE_SIZE = 1000;

/** A navigation property: where it leads and how to follow it from a record. */
interface NavDef {
  target: string;
  many: boolean;
  resolve(rec: unknown): unknown;
}

/** One entity set: its type, key, properties, rows and navigation. */
interface EntitySetDef {
  name: string;
  type: string;
  props: PropSpec[];
  map: Map<string, PropSpec>;
  keys: string[];
  rows(): unknown[];
  find(keys: Record<string, string>): unknown;
  wire(rec: unknown): Wire;
  etag?(rec: unknown): string;
  navs: Record<string, NavDef>;
}

/** A function import of a service. */
interface FunctionImportDef {
  name: string;
  params: { name: string; maxLength: number }[];
  returnType: string;
}

/** One OData service: its entity sets and function imports. */
export interface ServiceDef {
  id: string;
  sets: Map<string, EntitySetDef>;
  functions: Map<string, FunctionImportDef>;
}

/** What a write handler answers; kept whole so a repeatable request can be replayed verbatim. */
export interface WriteResult {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

/** The context of one write: who is asking, with which precondition, under which idempotency key. */
export interface WriteContext {
  ifMatch?: string;
  effectKey: string;
  repeatabilityRequestId?: string;
  baseUrl: string;
  now: number;
}

/** SAP's ALPHA output conversion: an all-digit number loses its leading zeros. */
export const stripAlpha = (v: string) => (/^\d+$/.test(v) ? v.replace(/^0+(?=\d)/, '') : v);

/** Builds the three services over a store and wires their writes to the effect log. */
export class ErpServices {
  readonly services: Map<string, ServiceDef>;
  private readonly headerMap = propMap(HEADER_PROPS);

  constructor(
    private readonly store: ErpStore,
    private readonly effects: EffectLog,
    private readonly onDeliveryChanged: (rec: DeliveryRecord) => void = () => {},
  ) {
    this.services = new Map([
      [SERVICE_IDS.delivery, this.deliveryService()],
      [SERVICE_IDS.billing, this.billingService()],
      [SERVICE_IDS.milestone, this.milestoneService()],
    ]);
  }

  /** Records an effect and persists its count. */
  recordEffect(kind: string, key: string, entityId: string, detail: Record<string, unknown>) {
    const effect = this.effects.record(kind, key, entityId, detail);
    this.store.saveEffect(effect);
  }

  private deliveryService(): ServiceDef {
    const store = this.store;
    const header: EntitySetDef = {
      name: 'A_OutbDeliveryHeader',
      type: 'A_OutbDeliveryHeaderType',
      props: HEADER_PROPS,
      map: this.headerMap,
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
    };
  }

  private milestoneService(): ServiceDef {
    const set: EntitySetDef = {
      name: 'YY1_ShipmentMilestone',
      type: 'YY1_ShipmentMilestoneType',
      props: MILESTONE_PROPS,
      map: propMap(MILESTONE_PROPS),
      keys: ['SAP_UUID'],
      rows: () => this.store.milestones,
      find: (k) =>
        this.store.milestones.find((m) => String(m.wire.SAP_UUID) === (k.SAP_UUID ?? '').toLowerCase()),
      wire: (r) => (r as MilestoneRecord).wire,
      navs: {},
    };
    return { id: SERVICE_IDS.milestone, sets: new Map([[set.name, set]]), functions: new Map() };
  }

  private billingService(): ServiceDef {
    const header: EntitySetDef = {
      name: 'A_BillingDocumentRequest',
      type: 'A_BillingDocumentRequestType',
      props: BILLING_PROPS,
      map: propMap(BILLING_PROPS),
      keys: ['BillingDocumentRequest'],
      rows: () => [...this.store.billing.values()],
      find: (k) => this.store.billing.get(stripAlpha(k.BillingDocumentRequest ?? '')),
      wire: (r) => (r as BillingRecord).header,
      navs: {
        to_Item: {
          target: 'A_BillingDocumentRequestItem',
          many: true,
          resolve: (r) => (r as BillingRecord).items,
        },
      },
    };
    const item: EntitySetDef = {
      name: 'A_BillingDocumentRequestItem',
      type: 'A_BillingDocumentRequestItemType',
      props: BILLING_ITEM_PROPS,
      map: propMap(BILLING_ITEM_PROPS),
      keys: ['BillingDocumentRequest', 'BillingDocumentRequestItem'],
      rows: () => [...this.store.billing.values()].flatMap((b) => b.items),
      find: (k) =>
        this.store.billing
          .get(stripAlpha(k.BillingDocumentRequest ?? ''))
          ?.items.find(
            (i) =>
              stripAlpha(String(i.BillingDocumentRequestItem)) ===
              stripAlpha(k.BillingDocumentRequestItem ?? ''),
          ),
      wire: (r) => r as Wire,
      navs: {},
    };
    return {
      id: SERVICE_IDS.billing,
      sets: new Map([header, item].map((s) => [s.name, s])),
      functions: new Map(),
    };
  }

  // -------------------------------------------------------------------------------------------------------
  // Reads

  /** Answers a GET on a resource path: a collection, an entity, a navigation or a `$count`. */
  read(
    svc: ServiceDef,
    path: PathSegment[],
    opts: QueryOptions,
    baseUrl: string,
    requestUrl: string,
  ): {
    body: unknown;
    etag?: string;
    text?: string;
  } {
    const first = path[0];
    if (!first) return { body: { d: { EntitySets: [...svc.sets.keys()] } } };
    if (svc.functions.has(first.name)) {
      throw new ODataError(
        405,
        MESSAGES.methodNotAllowed,
        `Function import ${first.name} must be called with POST`,
      );
    }
    let set = this.setOf(svc, first.name);
    let current: { kind: 'collection'; rows: unknown[] } | { kind: 'entity'; rec: unknown } = {
      kind: 'collection',
      rows: set.rows(),
    };
    if (first.keys || first.soleKey !== undefined)
      current = { kind: 'entity', rec: this.findByKey(set, first) };
    let count = false;
    for (const seg of path.slice(1)) {
      if (seg.name === '$count' && current.kind === 'collection') {
        count = true;
        continue;
      }
      if (count || current.kind !== 'entity') {
        throw new ODataError(
          400,
          MESSAGES.badRequest,
          `Segment ${seg.name.slice(0, 60)} cannot follow a collection`,
        );
      }
      const nav = set.navs[seg.name];
      if (!nav)
        throw new ODataError(
          404,
          MESSAGES.notFound,
          `Resource not found for segment '${seg.name.slice(0, 60)}'`,
        );
      const target = this.setOf(svc, nav.target);
      const resolved = nav.resolve(current.rec);
      set = target;
      if (nav.many) {
        current = { kind: 'collection', rows: resolved as unknown[] };
        if (seg.keys || seg.soleKey !== undefined) {
          const keys = this.keysOf(target, seg);
          const hit = (resolved as unknown[]).find((r) => this.matchesKeys(target, r, keys));
          if (!hit)
            throw new ODataError(404, MESSAGES.notFound, `Resource not found for segment '${target.type}'`);
          current = { kind: 'entity', rec: hit };
        }
      } else {
        if (resolved === undefined)
          throw new ODataError(404, MESSAGES.notFound, `Resource not found for segment '${target.type}'`);
        current = { kind: 'entity', rec: resolved };
      }
    }
    const expand = this.expandTree(svc, set, opts.expand);
    if (current.kind === 'entity') {
      const body = { d: this.entityJson(svc, set, current.rec, baseUrl, expand, opts.select) };
      return { body, etag: set.etag?.(current.rec) };
    }
    let rows = current.rows;
    if (opts.filter !== undefined) {
      const predicate = compileFilter(opts.filter, set.map);
      rows = rows.filter((r) => predicate(set.wire(r)));
    }
    if (count) return { body: undefined, text: String(rows.length) };
    const order = opts.orderby
      ? parseOrderBy(opts.orderby, set.map)
      : set.keys.map((k) => ({ prop: set.map.get(k) as PropSpec, desc: false }));
    rows = [...rows].sort((a, b) => {
      for (const term of order) {
        const x = comparable(term.prop, set.wire(a)[term.prop.name]);
        const y = comparable(term.prop, set.wire(b)[term.prop.name]);
        if (x === y) continue;
        const lt = x === null || (y !== null && x < y);
        return (lt ? -1 : 1) * (term.desc ? -1 : 1);
      }
      return 0;
    });
    const offset = opts.skiptoken ?? opts.skip;
    const limit = Math.min(opts.top ?? Number.POSITIVE_INFINITY, MAX_PAGE_SIZE);
    const page = rows.slice(offset, offset + limit);
    const d: Record<string, unknown> = {};
    if (opts.inlinecount) d.__count = String(rows.length);
    d.results = page.map((r) => this.entityJson(svc, set, r, baseUrl, expand, opts.select));
    const cappedByServer = opts.top === undefined || opts.top > limit;
    if (cappedByServer && offset + limit < rows.length)
      d.__next = nextLink(requestUrl, offset + limit, opts.top, limit);
    return { body: { d } };
  }

  private setOf(svc: ServiceDef, name: string): EntitySetDef {
    const set = svc.sets.get(name);
    if (!set)
      throw new ODataError(404, MESSAGES.notFound, `Resource not found for segment '${name.slice(0, 60)}'`);
    return set;
  }

  private keysOf(set: EntitySetDef, seg: PathSegment): Record<string, string> {
    if (seg.soleKey !== undefined) {
      if (set.keys.length !== 1) {
        throw new ODataError(
          400,
          MESSAGES.badRequest,
          `Entity set ${set.name} has a compound key; name each key property`,
        );
      }
      return { [set.keys[0] as string]: seg.soleKey };
    }
    const keys = seg.keys ?? {};
    const names = Object.keys(keys).sort();
    if (names.join(',') !== [...set.keys].sort().join(',')) {
      throw new ODataError(400, MESSAGES.badRequest, `Key of ${set.name} is (${set.keys.join(',')})`);
    }
    return keys;
  }

  private matchesKeys(set: EntitySetDef, rec: unknown, keys: Record<string, string>): boolean {
    const wire = set.wire(rec);
    return set.keys.every(
      (k) =>
        comparable(set.map.get(k) as PropSpec, wire[k]) === comparable(set.map.get(k) as PropSpec, keys[k]),
    );
  }

  private findByKey(set: EntitySetDef, seg: PathSegment): unknown {
    const keys = this.keysOf(set, seg);
    const rec = set.find(keys);
    if (rec === undefined)
      throw new ODataError(404, MESSAGES.notFound, `Resource not found for segment '${set.type}'`);
    return rec;
  }

  private expandTree(svc: ServiceDef, set: EntitySetDef, paths: string[]): Map<string, unknown> {
    const root = new Map<string, unknown>();
    for (const path of paths) {
      let node = root;
      let at = set;
      for (const name of path.split('/')) {
        const nav = at.navs[name];
        if (!nav)
          throw new ODataError(
            400,
            MESSAGES.badRequest,
            `Property ${name.slice(0, 60)} in $expand is not a navigation property of ${at.type}`,
          );
        if (!node.has(name)) node.set(name, new Map<string, unknown>());
        node = node.get(name) as Map<string, unknown>;
        at = this.setOf(svc, nav.target);
      }
    }
    return root;
  }

  /** An entity in V2 JSON: `__metadata`, properties, then navigation properties (expanded or deferred). */
  entityJson(
    svc: ServiceDef,
    set: EntitySetDef,
    rec: unknown,
    baseUrl: string,
    expand: Map<string, unknown>,
    select?: string[],
  ): Wire {
    const wire = set.wire(rec);
    const uri = `${baseUrl}${set.name}${keyPredicate(set, wire)}`;
    const metadata: Record<string, string> = { id: uri, uri, type: `${svc.id}.${set.type}` };
    const etag = set.etag?.(rec);
    if (etag) metadata.etag = etag;
    const out: Wire = { __metadata: metadata };
    const all = !select || select.includes('*');
    if (select && !all) {
      for (const s of select) {
        const head = s.split('/')[0] as string;
        if (!set.map.has(head) && !set.navs[head]) {
          throw new ODataError(
            400,
            MESSAGES.badRequest,
            `Property ${s.slice(0, 60)} in $select does not exist in ${set.type}`,
          );
        }
      }
    }
    for (const spec of set.props) {
      if (all || select?.includes(spec.name)) out[spec.name] = wire[spec.name] ?? null;
    }
    for (const [name, nav] of Object.entries(set.navs)) {
      const sub = expand.get(name) as Map<string, unknown> | undefined;
      if (!sub && !all && !select?.some((s) => s.split('/')[0] === name)) continue;
      if (!sub) {
        out[name] = { __deferred: { uri: `${uri}/${name}` } };
        continue;
      }
      const target = this.setOf(svc, nav.target);
      const resolved = nav.resolve(rec);
      if (nav.many) {
        out[name] = {
          results: (resolved as unknown[]).map((r) => this.entityJson(svc, target, r, baseUrl, sub)),
        };
      } else {
        out[name] = resolved === undefined ? null : this.entityJson(svc, target, resolved, baseUrl, sub);
      }
    }
    return out;
  }

  /** A delivery with its items and partners expanded, as the release push sends it. */
  deliveryJson(rec: DeliveryRecord, baseUrl: string): Wire {
    const svc = this.services.get(SERVICE_IDS.delivery) as ServiceDef;
    const set = svc.sets.get('A_OutbDeliveryHeader') as EntitySetDef;
    const expand = this.expandTree(svc, set, [
      'to_DeliveryDocumentItem',
      'to_DeliveryDocumentPartner/to_Address',
    ]);
    return this.entityJson(svc, set, rec, baseUrl, expand);
  }

  // -------------------------------------------------------------------------------------------------------
  // Writes

  /** Dispatches a write (POST, PATCH/MERGE/PUT, DELETE) to its handler. */
  write(
    svc: ServiceDef,
    method: string,
    path: PathSegment[],
    params: Map<string, string[]>,
    body: unknown,
    ctx: WriteContext,
  ): WriteResult {
    const first = path[0];
    if (!first)
      throw new ODataError(
        405,
        MESSAGES.methodNotAllowed,
        `Method ${method} is not allowed on the service document`,
      );
    const target = `${svc.id}/${first.name}`;
    const addressed = first.keys !== undefined || first.soleKey !== undefined;
    if (path.length > 1)
      throw new ODataError(
        405,
        MESSAGES.methodNotAllowed,
        `Method ${method} is not allowed on a navigation property`,
      );
    if (method === 'POST' && target === `${SERVICE_IDS.delivery}/PostGoodsIssue` && !addressed) {
      return this.postGoodsIssue(params, ctx);
    }
    if (method === 'POST' && target === `${SERVICE_IDS.milestone}/YY1_ShipmentMilestone` && !addressed) {
      return this.createMilestone(svc, jsonObject(body), ctx);
    }
    if (method === 'POST' && target === `${SERVICE_IDS.billing}/A_BillingDocumentRequest` && !addressed) {
      return this.createBilling(svc, jsonObject(body), ctx);
    }
    if (
      (method === 'PATCH' || method === 'PUT') &&
      target === `${SERVICE_IDS.delivery}/A_OutbDeliveryHeader` &&
      addressed
    ) {
      const set = this.setOf(svc, first.name);
      return this.updateHeader(this.findByKey(set, first) as DeliveryRecord, jsonObject(body), ctx);
    }
    if (svc.functions.has(first.name)) {
      throw new ODataError(
        405,
        MESSAGES.methodNotAllowed,
        `Function import ${first.name} must be called with POST`,
      );
    }
    this.setOf(svc, first.name);
    throw new ODataError(405, MESSAGES.methodNotAllowed, `Method ${method} is not allowed on ${first.name}`);
  }

  /** Checks If-Match against a delivery's ETag, after any simulated concurrent edit. */
  private precondition(rec: DeliveryRecord, ctx: WriteContext) {
    if (rec.pendingConcurrentEdits > 0) {
      rec.pendingConcurrentEdits -= 1;
      touch(rec, ctx.now, 'CB9980000042');
      this.store.saveDelivery(rec);
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

  private updateHeader(rec: DeliveryRecord, body: Record<string, unknown>, ctx: WriteContext): WriteResult {
    this.precondition(rec, ctx);
    const changes: Wire = {};
    for (const [name, value] of Object.entries(body)) {
      if (name === '__metadata') continue;
      const spec = this.headerMap.get(name);
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
      this.store.saveDelivery(rec);
      const commit = ['DeliveryDate', 'DeliveryTime', 'YY1_CommittedETA_DLH'].some((k) => k in changes);
      this.recordEffect(
        commit ? 'commit_date' : 'delivery_update',
        ctx.effectKey,
        String(rec.header.DeliveryDocument),
        changes,
      );
      this.onDeliveryChanged(rec);
    }
    return { status: 204, headers: { etag: deliveryEtag(rec) } };
  }

  private postGoodsIssue(params: Map<string, string[]>, ctx: WriteContext): WriteResult {
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
    const rec = this.store.deliveries.get(id);
    if (!rec)
      throw new ODataError(
        404,
        MESSAGES.notFound,
        `Resource not found for segment 'A_OutbDeliveryHeaderType'`,
      );
    this.precondition(rec, ctx);
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
    this.store.saveDelivery(rec);
    this.recordEffect('goods_issue', ctx.effectKey, id, {});
    this.onDeliveryChanged(rec);
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

  private createMilestone(svc: ServiceDef, body: Record<string, unknown>, ctx: WriteContext): WriteResult {
    const input = parseBody(MilestoneInput, body);
    const id = stripAlpha(input.DeliveryDocument);
    if (!this.store.deliveries.has(id)) {
      throw new ODataError(
        400,
        MESSAGES.deliveryMissing,
        `Delivery ${input.DeliveryDocument} does not exist`,
        'DeliveryDocument',
      );
    }
    this.store.counters.milestoneSeq += 1;
    const rec: MilestoneRecord = {
      seq: this.store.counters.milestoneSeq,
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
    this.store.addMilestone(rec);
    this.store.saveCounters();
    this.recordEffect('milestone', ctx.effectKey, id, {
      milestone: input.MilestoneCode,
      attempt: input.AttemptNumber,
    });
    const set = this.setOf(svc, 'YY1_ShipmentMilestone');
    const entity = this.entityJson(svc, set, rec, ctx.baseUrl, new Map());
    return {
      status: 201,
      headers: { location: String((entity.__metadata as { uri: string }).uri) },
      body: { d: entity },
    };
  }

  private createBilling(svc: ServiceDef, body: Record<string, unknown>, ctx: WriteContext): WriteResult {
    const input = parseBody(BillingInput, body);
    const deliveryId = stripAlpha(input.ReferenceDocument);
    const delivery = this.store.deliveries.get(deliveryId);
    if (!delivery) {
      throw new ODataError(
        400,
        MESSAGES.deliveryMissing,
        `Delivery ${input.ReferenceDocument} does not exist`,
        'ReferenceDocument',
      );
    }
    if (stripAlpha(input.SoldToParty) !== stripAlpha(String(delivery.header.SoldToParty))) {
      throw new ODataError(
        400,
        MESSAGES.billingInvalid,
        `Sold-to party ${input.SoldToParty} differs from the delivery's ${String(delivery.header.SoldToParty)}`,
        'SoldToParty',
      );
    }
    const existing = [...this.store.billing.values()].find((b) => b.header.ReferenceDocument === deliveryId);
    if (existing) {
      throw new ODataError(
        400,
        MESSAGES.alreadyBilled,
        `Delivery ${deliveryId} is already referenced by billing document request ${String(existing.header.BillingDocumentRequest)}`,
        'ReferenceDocument',
      );
    }
    const items = Array.isArray(input.to_Item) ? input.to_Item : input.to_Item.results;
    const cents = (s: string) => Math.round(Number(s) * 100);
    items.forEach((item, i) => {
      if (
        item.YY1_UnitPrice_BDI !== undefined &&
        cents(item.NetAmount) !==
          Math.round(Number(item.BillingQuantity) * Number(item.YY1_UnitPrice_BDI) * 100)
      ) {
        throw new ODataError(
          400,
          MESSAGES.billingInvalid,
          `Item ${i + 1}: net amount differs from quantity times unit price`,
          `to_Item/${i}/NetAmount`,
        );
      }
    });
    if (items.reduce((s, i) => s + cents(i.NetAmount), 0) !== cents(input.TotalNetAmount)) {
      throw new ODataError(
        400,
        MESSAGES.billingInvalid,
        'Total net amount differs from the sum of the items',
        'TotalNetAmount',
      );
    }
    const number = String(this.store.counters.nextBilling++);
    this.store.saveCounters();
    const dayMs = Math.floor(ctx.now / 86_400_000) * 86_400_000;
    const rec: BillingRecord = {
      repeatabilityRequestId: ctx.repeatabilityRequestId,
      header: {
        BillingDocumentRequest: number,
        BillingDocumentRequestType: input.BillingDocumentRequestType ?? 'EBDR',
        SalesOrganization: '1710',
        DistributionChannel: '10',
        Division: '00',
        SoldToParty: stripAlpha(input.SoldToParty),
        PayerParty: stripAlpha(input.SoldToParty),
        ReferenceDocument: deliveryId,
        PurchaseOrderByCustomer: input.PurchaseOrderByCustomer ?? '',
        BillingDocumentDate: edmDateTime(dayMs),
        CreationDate: edmDateTime(dayMs),
        CreationTime: edmTime(Math.floor((ctx.now - dayMs) / 1000)),
        TransactionCurrency: input.TransactionCurrency,
        TotalNetAmount: (cents(input.TotalNetAmount) / 100).toFixed(2),
        OverallBillingDocReqStatus: 'A',
        YY1_ApprovedBy_BDR: input.YY1_ApprovedBy_BDR ?? '',
      },
      items: items.map((item, i) => ({
        BillingDocumentRequest: number,
        BillingDocumentRequestItem: String((i + 1) * 10).padStart(6, '0'),
        Material: item.Material,
        BillingDocumentRequestItemText: item.BillingDocumentRequestItemText ?? '',
        BillingQuantity: Number(item.BillingQuantity).toFixed(3),
        BillingQuantityUnit: item.BillingQuantityUnit,
        NetAmount: (cents(item.NetAmount) / 100).toFixed(2),
        TransactionCurrency: input.TransactionCurrency,
        YY1_UnitPrice_BDI:
          item.YY1_UnitPrice_BDI === undefined ? null : Number(item.YY1_UnitPrice_BDI).toFixed(2),
      })),
    };
    this.store.saveBilling(rec);
    Object.assign(delivery.header, { OverallDelivReltdBillgStatus: 'C', OverallSDProcessStatus: 'C' });
    touch(delivery, ctx.now);
    this.store.saveDelivery(delivery);
    this.recordEffect('billing_request', ctx.effectKey, deliveryId, {
      billingDocumentRequest: number,
      total: rec.header.TotalNetAmount,
    });
    const set = this.setOf(svc, 'A_BillingDocumentRequest');
    const entity = this.entityJson(svc, set, rec, ctx.baseUrl, new Map([['to_Item', new Map()]]));
    return {
      status: 201,
      headers: { location: String((entity.__metadata as { uri: string }).uri) },
      body: { d: entity },
    };
  }

  // -------------------------------------------------------------------------------------------------------
  // $metadata

  /** The service's EDMX document (OData V2, with SAP annotations). */
  metadata(svc: ServiceDef): string {
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
    const lines: string[] = [
      '<?xml version="1.0" encoding="utf-8"?>',
      '<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:sap="http://www.sap.com/Protocols/SAPData">',
      ' <edmx:DataServices m:DataServiceVersion="2.0">',
      `  <Schema Namespace="${svc.id}" xml:lang="en" sap:schema-version="1" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">`,
    ];
    const assocs: string[] = [];
    const assocSets: string[] = [];
    for (const set of svc.sets.values()) {
      lines.push(`   <EntityType Name="${set.type}" sap:content-version="1">`);
      lines.push(`    <Key>${set.keys.map((k) => `<PropertyRef Name="${k}"/>`).join('')}</Key>`);
      for (const p of set.props) {
        const attrs = [`Name="${p.name}"`, `Type="${p.type}"`];
        if (set.keys.includes(p.name) || !p.nullable)
          attrs.push(`Nullable="${p.nullable ? 'true' : 'false'}"`);
        if (p.maxLength !== undefined) attrs.push(`MaxLength="${p.maxLength}"`);
        if (p.precision !== undefined) attrs.push(`Precision="${p.precision}"`);
        if (p.scale !== undefined) attrs.push(`Scale="${p.scale}"`);
        attrs.push(`sap:label="${esc(p.label)}"`);
        if (p.extension) attrs.push('sap:is-extension-field="true"');
        if (set.name === 'A_OutbDeliveryHeader' && !HEADER_UPDATABLE.has(p.name))
          attrs.push('sap:updatable="false"');
        lines.push(`    <Property ${attrs.join(' ')}/>`);
      }
      for (const [name, nav] of Object.entries(set.navs)) {
        const target = svc.sets.get(nav.target) as EntitySetDef;
        const assoc = `assoc_${set.type}_${name}`;
        lines.push(
          `    <NavigationProperty Name="${name}" Relationship="${svc.id}.${assoc}" FromRole="FromRole_${assoc}" ToRole="ToRole_${assoc}"/>`,
        );
        assocs.push(
          `   <Association Name="${assoc}" sap:content-version="1"><End Type="${svc.id}.${set.type}" Multiplicity="1" Role="FromRole_${assoc}"/>` +
            `<End Type="${svc.id}.${target.type}" Multiplicity="${nav.many ? '*' : '0..1'}" Role="ToRole_${assoc}"/></Association>`,
        );
        assocSets.push(
          `    <AssociationSet Name="${assoc}_set" Association="${svc.id}.${assoc}" sap:creatable="false" sap:updatable="false" sap:deletable="false" sap:content-version="1">` +
            `<End EntitySet="${set.name}" Role="FromRole_${assoc}"/><End EntitySet="${target.name}" Role="ToRole_${assoc}"/></AssociationSet>`,
        );
      }
      lines.push('   </EntityType>');
    }
    if (svc.id === SERVICE_IDS.delivery) {
      lines.push('   <ComplexType Name="PickingReport">');
      for (const name of [
        'SystemMessageIdentification',
        'SystemMessageNumber',
        'SystemMessageType',
        'SystemMessageVariable1',
        'SystemMessageVariable2',
        'DeliveryDocument',
        'DeliveryDocumentItem',
      ]) {
        lines.push(`    <Property Name="${name}" Type="Edm.String"/>`);
      }
      lines.push('   </ComplexType>');
    }
    lines.push(...assocs);
    lines.push(
      `   <EntityContainer Name="${svc.id}_Entities" m:IsDefaultEntityContainer="true" sap:supported-formats="json">`,
    );
    for (const set of svc.sets.values()) {
      lines.push(
        `    <EntitySet Name="${set.name}" EntityType="${svc.id}.${set.type}" sap:content-version="1"/>`,
      );
    }
    lines.push(...assocSets);
    for (const fn of svc.functions.values()) {
      lines.push(
        `    <FunctionImport Name="${fn.name}" ReturnType="Collection(${svc.id}.${fn.returnType})" m:HttpMethod="POST" sap:action-for="${svc.id}.A_OutbDeliveryHeaderType">`,
      );
      for (const param of fn.params)
        lines.push(
          `     <Parameter Name="${param.name}" Type="Edm.String" Mode="In" MaxLength="${param.maxLength}"/>`,
        );
      lines.push('    </FunctionImport>');
    }
    lines.push('   </EntityContainer>', '  </Schema>', ' </edmx:DataServices>', '</edmx:Edmx>');
    return lines.join('\n');
  }
}

/** `(…)` key predicate of an entity: `('80000001')` or `(A='x',B='y')`. */
function keyPredicate(set: EntitySetDef, wire: Wire): string {
  const q = (v: unknown) =>
    set.map.get('SAP_UUID') && set.keys[0] === 'SAP_UUID'
      ? `guid'${wireText(v)}'`
      : `'${wireText(v).replace(/'/g, "''")}'`;
  if (set.keys.length === 1) return `(${q(wire[set.keys[0] as string])})`;
  return `(${set.keys.map((k) => `${k}='${wireText(wire[k]).replace(/'/g, "''")}'`).join(',')})`;
}

/** The `__next` link of a server-paged collection. */
function nextLink(requestUrl: string, offset: number, top: number | undefined, served: number): string {
  const url = new URL(requestUrl);
  url.searchParams.delete('$skip');
  url.searchParams.set('$skiptoken', String(offset));
  if (top !== undefined) url.searchParams.set('$top', String(top - served));
  return url.toString();
}

function jsonObject(body: unknown): Record<string, unknown> {
  if (typeof body === 'string' && body.trim() !== '') {
    throw new ODataError(415, MESSAGES.unsupportedMedia, 'Content type not supported; send application/json');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ODataError(400, MESSAGES.badRequest, 'The request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

const edmDateString = z.string().refine((s) => parseEdmDate(s) !== undefined, 'expected /Date(<ms>)/');
const decimalString = z.string().regex(/^-?\d{1,13}(\.\d{1,6})?$/, 'expected a decimal in a string');

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

const BillingItemInput = z
  .object({
    __metadata: z.unknown().optional(),
    BillingDocumentRequestItem: z.string().max(6).optional(),
    Material: z.string().min(1).max(40),
    BillingDocumentRequestItemText: z.string().max(40).optional(),
    BillingQuantity: decimalString,
    BillingQuantityUnit: z.string().min(1).max(3),
    NetAmount: decimalString.refine((s) => Number(s) >= 0, 'must not be negative'),
    TransactionCurrency: z.string().max(5).optional(),
    YY1_UnitPrice_BDI: decimalString.optional(),
  })
  .strict();

const BillingInput = z
  .object({
    __metadata: z.unknown().optional(),
    BillingDocumentRequestType: z.string().min(1).max(4).optional(),
    SoldToParty: z.string().min(1).max(10),
    ReferenceDocument: z.string().min(1).max(10),
    PurchaseOrderByCustomer: z.string().max(35).optional(),
    TransactionCurrency: z.literal('USD'),
    TotalNetAmount: decimalString,
    YY1_ApprovedBy_BDR: z.string().max(40).optional(),
    to_Item: z.union([
      z.object({ results: z.array(BillingItemInput).min(1).max(50) }),
      z.array(BillingItemInput).min(1).max(50),
    ]),
  })
  .strict();

function parseBody<T>(schema: z.ZodType<T>, body: Record<string, unknown>): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const target = issue ? issue.path.map(String).join('/') : '';
  const message =
    issue?.code === 'unrecognized_keys'
      ? `Property '${String(issue.keys[0]).slice(0, 60)}' is invalid`
      : `Property '${target}': ${issue?.message ?? 'invalid value'}`;
  throw new ODataError(400, MESSAGES.propertyInvalid, message, target);
}
