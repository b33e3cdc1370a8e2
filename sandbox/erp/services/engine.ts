import { z } from 'zod';
import { HEADER_UPDATABLE, type Wire } from '../entities.js';
import {
  MESSAGES,
  ODataError,
  comparable,
  compileFilter,
  parseEdmDate,
  parseOrderBy,
  wireText,
  type PathSegment,
  type PropSpec,
  type QueryOptions,
} from '../odata.js';

/** Service names as they appear in `/sap/opu/odata/sap/<name>`. */
export const SERVICE_IDS = {
  delivery: 'API_OUTBOUND_DELIVERY_SRV',
  billing: 'API_BILLING_DOCUMENT_REQUEST_SRV',
  milestone: 'YY1_SHIPMENTMILESTONE_CDS',
  pricing: 'API_SLSPRICINGCONDITIONRECORD_SRV',
} as const;

/** Largest page the sandbox serves before it pages on the server side with `__next`. */
export const MAX_PAGE_SIZE = 1000;

/** A navigation property: where it leads and how to follow it from a record. */
export interface NavDef {
  target: string;
  many: boolean;
  resolve(rec: unknown): unknown;
}

/** One entity set: its type, key, properties, rows and navigation. */
export interface EntitySetDef {
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
export interface FunctionImportDef {
  name: string;
  params: { name: string; maxLength: number }[];
  returnType: string;
}

/** One OData service: its entity sets, function imports and the writes it accepts. */
export interface ServiceDef {
  id: string;
  sets: Map<string, EntitySetDef>;
  functions: Map<string, FunctionImportDef>;
  writes: WriteRoute[];
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

/**
 * A write a service accepts: the methods, the entity set or function import it addresses, whether a key
 * is given, and its handler (which gets the engine, the service, the addressed segment, the query
 * parameters, the raw body and the write's context).
 */
export interface WriteRoute {
  methods: string[];
  name: string;
  addressed: boolean;
  handle(
    engine: ODataEngine,
    svc: ServiceDef,
    first: PathSegment,
    params: Map<string, string[]>,
    body: unknown,
    ctx: WriteContext,
  ): WriteResult;
}

/**
 * The generic OData V2 engine over a set of service definitions: reads (collections, entities,
 * navigation, `$expand`, `$select`, `$filter`, `$orderby`, paging, `$count`), write dispatch to each
 * service's routes, and `$metadata`.
 */
export class ODataEngine {
  constructor(readonly services: Map<string, ServiceDef>) {}

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

  setOf(svc: ServiceDef, name: string): EntitySetDef {
    const set = svc.sets.get(name);
    if (!set)
      throw new ODataError(404, MESSAGES.notFound, `Resource not found for segment '${name.slice(0, 60)}'`);
    return set;
  }

  keysOf(set: EntitySetDef, seg: PathSegment): Record<string, string> {
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

  matchesKeys(set: EntitySetDef, rec: unknown, keys: Record<string, string>): boolean {
    const wire = set.wire(rec);
    return set.keys.every(
      (k) =>
        comparable(set.map.get(k) as PropSpec, wire[k]) === comparable(set.map.get(k) as PropSpec, keys[k]),
    );
  }

  findByKey(set: EntitySetDef, seg: PathSegment): unknown {
    const keys = this.keysOf(set, seg);
    const rec = set.find(keys);
    if (rec === undefined)
      throw new ODataError(404, MESSAGES.notFound, `Resource not found for segment '${set.type}'`);
    return rec;
  }

  expandTree(svc: ServiceDef, set: EntitySetDef, paths: string[]): Map<string, unknown> {
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

  // -------------------------------------------------------------------------------------------------------
  // Writes

  /** Dispatches a write (POST, PATCH/MERGE/PUT, DELETE) to the service's route for it. */
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
    const addressed = first.keys !== undefined || first.soleKey !== undefined;
    if (path.length > 1)
      throw new ODataError(
        405,
        MESSAGES.methodNotAllowed,
        `Method ${method} is not allowed on a navigation property`,
      );
    const route = svc.writes.find(
      (r) => r.name === first.name && r.addressed === addressed && r.methods.includes(method),
    );
    if (route) return route.handle(this, svc, first, params, body, ctx);
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
export function keyPredicate(set: EntitySetDef, wire: Wire): string {
  const q = (v: unknown) =>
    set.map.get('SAP_UUID') && set.keys[0] === 'SAP_UUID'
      ? `guid'${wireText(v)}'`
      : `'${wireText(v).replace(/'/g, "''")}'`;
  if (set.keys.length === 1) return `(${q(wire[set.keys[0] as string])})`;
  return `(${set.keys.map((k) => `${k}='${wireText(wire[k]).replace(/'/g, "''")}'`).join(',')})`;
}

/** The `__next` link of a server-paged collection. */
export function nextLink(
  requestUrl: string,
  offset: number,
  top: number | undefined,
  served: number,
): string {
  const url = new URL(requestUrl);
  url.searchParams.delete('$skip');
  url.searchParams.set('$skiptoken', String(offset));
  if (top !== undefined) url.searchParams.set('$top', String(top - served));
  return url.toString();
}

export /** The body as a JSON object, or the error SAP answers. */
function jsonObject(body: unknown): Record<string, unknown> {
  if (typeof body === 'string' && body.trim() !== '') {
    throw new ODataError(415, MESSAGES.unsupportedMedia, 'Content type not supported; send application/json');
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ODataError(400, MESSAGES.badRequest, 'The request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

export const edmDateString = z.string().refine((s) => parseEdmDate(s) !== undefined, 'expected /Date(<ms>)/');
export const decimalString = z.string().regex(/^-?\d{1,13}(\.\d{1,6})?$/, 'expected a decimal in a string');

/** Parses a request body, answering the first problem as SAP does. */
export function parseBody<T>(schema: z.ZodType<T>, body: Record<string, unknown>): T {
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
