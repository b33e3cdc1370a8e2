import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';

/**
 * OData V2 primitives as SAP Gateway speaks them: EDM wire formats, the error body, key predicates,
 * system query options and a `$filter` parser. Nothing here knows about deliveries.
 */

/** The EDM types the sandbox's entity sets use. */
export type EdmType =
  | 'Edm.String'
  | 'Edm.DateTime'
  | 'Edm.DateTimeOffset'
  | 'Edm.Time'
  | 'Edm.Decimal'
  | 'Edm.Boolean'
  | 'Edm.Int16'
  | 'Edm.Guid';

/** One property of an entity type, enough for `$metadata`, `$filter`, `$select` and write validation. */
export interface PropSpec {
  name: string;
  type: EdmType;
  maxLength?: number;
  precision?: number;
  scale?: number;
  nullable?: boolean;
  label: string;
  /** Digits-only values are compared as SAP's ALPHA conversion stores them: left-padded with zeros. */
  alpha?: boolean;
  /** Custom field added through key-user extensibility (`sap:is-extension-field`). */
  extension?: boolean;
}

/** An OData error the route handlers throw; the error handler turns it into SAP Gateway's error body. */
export class ODataError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target = '',
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ODataError';
  }
}

/** The message codes the sandbox answers with (SAP message class / number style). */
export const MESSAGES = {
  notFound: '/IWBEP/CM_MGW_RT/020',
  badRequest: '/IWBEP/CM_MGW_RT/004',
  filterSyntax: '/IWBEP/CM_MGW_RT/005',
  notSupported: '/IWBEP/CM_MGW_RT/021',
  methodNotAllowed: '/IWBEP/CM_MGW_RT/003',
  unsupportedMedia: '/IWBEP/CM_MGW_RT/025',
  csrf: '/IWFND/CM_BEC/026',
  preconditionRequired: '/IWBEP/CM_MGW_RT/105',
  preconditionFailed: '/IWBEP/CM_MGW_RT/106',
  repeatabilityMismatch: '/IWBEP/CM_MGW_RT/150',
  repeatabilityInvalid: '/IWBEP/CM_MGW_RT/151',
  deliveryMissing: 'VL/302',
  alreadyIssued: 'VL/609',
  alreadyBilled: 'VF/016',
  billingInvalid: 'VF/051',
  billingBlocked: 'VF/019',
  milestoneInvalid: 'YY1_SHIPMENTMILESTONE/001',
  propertyInvalid: '/IWBEP/CM_MGW_RT/040',
  serviceUnavailable: '/IWFND/CM_BEC/004',
  rateLimited: '/IWFND/CM_BEC/429',
  internal: '/IWFND/CM_BEC/000',
} as const;

/** SAP's timestamp notation, `YYYYMMDDhhmmss.fffffff`, used in error bodies and ETags. */
export function sapTimestamp(ms: number, ticks = 0): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const fraction = p(d.getUTCMilliseconds(), 3) + p(ticks, 4);
  return (
    `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}` +
    `${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}.${fraction}`
  );
}

/** SAP Gateway's JSON error body for one message. */
export function errorBody(serviceId: string, code: string, message: string, target = '') {
  return {
    error: {
      code,
      message: { lang: 'en', value: message },
      innererror: {
        application: {
          component_id: serviceId.startsWith('API_BILLING')
            ? 'SD-BIL-API'
            : serviceId.startsWith('API_SLSPRICING')
              ? 'SD-MD-CM'
              : 'LE-SHP-API',
          service_namespace: '/SAP/',
          service_id: serviceId,
          service_version: '0002',
        },
        transactionid: randomBytes(16).toString('hex').toUpperCase(),
        timestamp: sapTimestamp(Date.now()),
        Error_Resolution: {
          SAP_Transaction:
            'For backend administrators: use ADT feed reader "SAP Gateway Error Log" or run transaction ' +
            '/IWFND/ERROR_LOG on SAP Gateway hub system and search for entries with the timestamp above for more details',
          SAP_Note:
            'See SAP Note 1797736 for error analysis (https://service.sap.com/sap/support/notes/1797736)',
        },
        errordetails: [{ code, message, propertyref: target, severity: 'error', target, transition: false }],
      },
    },
  };
}

/** Sends an OData error with its status and headers. */
export function sendODataError(reply: FastifyReply, serviceId: string, err: ODataError): FastifyReply {
  for (const [k, v] of Object.entries(err.headers)) reply.header(k, v);
  return reply
    .code(err.status)
    .header('content-type', 'application/json; charset=utf-8')
    .header('dataserviceversion', '1.0')
    .send(errorBody(serviceId, err.code, err.message, err.target));
}

// ---------------------------------------------------------------------------------------------------------
// EDM wire formats (OData V2 JSON "verbose" format)

/** `Edm.DateTime` as V2 JSON writes it: `/Date(<ms since epoch>)/`. */
export function edmDateTime(ms: number): string {
  return `/Date(${ms})/`;
}

/** `Edm.DateTimeOffset` as SAP writes it in V2 JSON: `/Date(<ms>+0000)/`. */
export function edmDateTimeOffset(ms: number): string {
  return `/Date(${ms}+0000)/`;
}

/** `Edm.Time` as V2 JSON writes it: an ISO 8601 duration `PT14H30M00S`. */
export function edmTime(seconds: number): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `PT${p(Math.floor(seconds / 3600))}H${p(Math.floor((seconds % 3600) / 60))}M${p(seconds % 60)}S`;
}

/** Epoch ms of a `/Date(...)/` value (the offset, when present, is informational), or undefined. */
export function parseEdmDate(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^\/Date\((-?\d{1,15})([+-]\d{4})?\)\/$/.exec(value);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** Seconds since midnight of a `PT..H..M..S` value, or undefined. */
export function parseEdmTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^PT(\d{1,2})H(\d{1,2})M(\d{1,2})S$/.exec(value);
  if (!m) return undefined;
  const [h, mi, s] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return h < 24 && mi < 60 && s < 60 ? h * 3600 + mi * 60 + s : undefined;
}

/** True when a value is acceptable on the wire for a property of this type. */
export function validWireValue(spec: PropSpec, value: unknown): boolean {
  if (value === null) return spec.nullable === true;
  switch (spec.type) {
    case 'Edm.String':
      return typeof value === 'string' && (spec.maxLength === undefined || value.length <= spec.maxLength);
    case 'Edm.DateTime':
    case 'Edm.DateTimeOffset':
      return parseEdmDate(value) !== undefined;
    case 'Edm.Time':
      return parseEdmTime(value) !== undefined;
    case 'Edm.Decimal':
      return typeof value === 'string' && /^-?\d{1,15}(\.\d{1,6})?$/.test(value);
    case 'Edm.Boolean':
      return typeof value === 'boolean';
    case 'Edm.Int16':
      return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= 32767;
    case 'Edm.Guid':
      return typeof value === 'string' && /^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/.test(value);
  }
}

/** The text of a wire value (strings as they are, numbers and booleans printed, anything else as JSON). */
export function wireText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** A comparable form of a wire value: strings, numbers (dates as ms, times as seconds) or booleans. */
export function comparable(spec: PropSpec, value: unknown): string | number | boolean | null {
  if (value === null || value === undefined) return null;
  switch (spec.type) {
    case 'Edm.String': {
      const s = wireText(value);
      return spec.alpha && spec.maxLength && /^\d+$/.test(s) ? s.padStart(spec.maxLength, '0') : s;
    }
    case 'Edm.Guid':
      return wireText(value).toLowerCase();
    case 'Edm.DateTime':
    case 'Edm.DateTimeOffset':
      return parseEdmDate(value) ?? null;
    case 'Edm.Time':
      return parseEdmTime(value) ?? null;
    case 'Edm.Decimal':
    case 'Edm.Int16':
      return Number(value);
    case 'Edm.Boolean':
      return value === true;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Resource paths

/** One segment of a resource path: a name and, when addressed by key, its key values. */
export interface PathSegment {
  name: string;
  keys?: Record<string, string>;
  /** The single unnamed key value of `Set('x')`. */
  soleKey?: string;
}

/** Splits `A('x')/to_Item` into segments, honouring quotes (a key may hold a slash). */
export function parseResourcePath(path: string): PathSegment[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of path) {
    if (ch === "'") quoted = !quoted;
    if (ch === '/' && !quoted) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  if (quoted)
    throw new ODataError(400, MESSAGES.badRequest, 'Unterminated string literal in the resource path');
  parts.push(current);
  return parts.filter((p) => p !== '').map(parseSegment);
}

function parseSegment(raw: string): PathSegment {
  const m = /^(\$?[A-Za-z_][A-Za-z0-9_]{0,80})(?:\((.*)\))?$/s.exec(raw);
  if (!m?.[1])
    throw new ODataError(400, MESSAGES.badRequest, `Invalid resource path segment "${raw.slice(0, 80)}"`);
  const segment: PathSegment = { name: m[1] };
  if (m[2] === undefined) return segment;
  const inner = m[2].trim();
  const sole = /^(?:guid)?'((?:[^']|'')*)'$/.exec(inner);
  if (sole?.[1] !== undefined) return { ...segment, soleKey: sole[1].replace(/''/g, "'") };
  const keys: Record<string, string> = {};
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:guid)?'((?:[^']|'')*)'\s*(,|$)/gy;
  let consumed = 0;
  for (let k = re.exec(inner); k; k = re.exec(inner)) {
    if (k[1] === undefined || k[2] === undefined) break;
    keys[k[1]] = k[2].replace(/''/g, "'");
    consumed = re.lastIndex;
    if (k[3] === '') break;
  }
  if (consumed !== inner.length || Object.keys(keys).length === 0) {
    throw new ODataError(400, MESSAGES.badRequest, `Invalid key predicate in "${raw.slice(0, 80)}"`);
  }
  return { ...segment, keys };
}

/** Parses `A=1&B=2` with OData's decoding (`+` is a space); a malformed escape is a 400. */
export function parseQueryString(raw: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const pair of raw.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const [k, v] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent(k.replace(/\+/g, ' '));
      value = decodeURIComponent(v.replace(/\+/g, ' '));
    } catch {
      throw new ODataError(400, MESSAGES.badRequest, 'Malformed percent-encoding in the query string');
    }
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

/** The system query options of one request, validated. */
export interface QueryOptions {
  top?: number;
  skip: number;
  filter?: string;
  orderby?: string;
  select?: string[];
  expand: string[];
  inlinecount: boolean;
  skiptoken?: number;
  format?: string;
}

const KNOWN_OPTIONS = new Set([
  '$top',
  '$skip',
  '$filter',
  '$orderby',
  '$select',
  '$expand',
  '$inlinecount',
  '$skiptoken',
  '$format',
]);

function nonNegativeInt(name: string, raw: string): number {
  if (!/^\d{1,9}$/.test(raw)) {
    throw new ODataError(
      400,
      MESSAGES.badRequest,
      `Invalid value "${raw.slice(0, 40)}" for system query option ${name}`,
    );
  }
  return Number(raw);
}

/** Reads and checks the `$` options; non-`$` parameters (e.g. `sap-client`) are left alone. */
export function parseQueryOptions(params: Map<string, string[]>): QueryOptions {
  const one = (name: string): string | undefined => {
    const v = params.get(name);
    if (v === undefined) return undefined;
    if (v.length > 1)
      throw new ODataError(400, MESSAGES.badRequest, `System query option ${name} given more than once`);
    return v[0];
  };
  for (const key of params.keys()) {
    if (key.startsWith('$') && !KNOWN_OPTIONS.has(key)) {
      throw new ODataError(
        400,
        MESSAGES.notSupported,
        `System query option ${key.slice(0, 40)} is not supported`,
      );
    }
  }
  const opts: QueryOptions = { skip: 0, expand: [], inlinecount: false };
  const top = one('$top');
  if (top !== undefined) opts.top = nonNegativeInt('$top', top);
  const skip = one('$skip');
  if (skip !== undefined) opts.skip = nonNegativeInt('$skip', skip);
  const skiptoken = one('$skiptoken');
  if (skiptoken !== undefined) opts.skiptoken = nonNegativeInt('$skiptoken', skiptoken);
  opts.filter = one('$filter');
  opts.orderby = one('$orderby');
  const select = one('$select');
  if (select !== undefined)
    opts.select = select
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const expand = one('$expand');
  if (expand !== undefined)
    opts.expand = expand
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const inlinecount = one('$inlinecount');
  if (inlinecount !== undefined) {
    if (inlinecount !== 'allpages' && inlinecount !== 'none') {
      throw new ODataError(
        400,
        MESSAGES.badRequest,
        `Invalid value "${inlinecount.slice(0, 40)}" for $inlinecount`,
      );
    }
    opts.inlinecount = inlinecount === 'allpages';
  }
  const format = one('$format');
  if (format !== undefined && format !== 'json' && format !== 'application/json') {
    throw new ODataError(
      415,
      MESSAGES.unsupportedMedia,
      `Format "${format.slice(0, 40)}" is not supported; use $format=json`,
    );
  }
  opts.format = format;
  return opts;
}

/** One `$orderby` term. */
export interface OrderTerm {
  prop: PropSpec;
  desc: boolean;
}

/** Parses `$orderby=A desc,B` against the entity's properties. */
export function parseOrderBy(raw: string, props: Map<string, PropSpec>): OrderTerm[] {
  return raw
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
    .map((term) => {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:\s+(asc|desc))?$/.exec(term);
      const prop = m?.[1] ? props.get(m[1]) : undefined;
      if (!m || !prop)
        throw new ODataError(400, MESSAGES.badRequest, `Invalid $orderby term "${term.slice(0, 60)}"`);
      return { prop, desc: m[2] === 'desc' };
    });
}

// ---------------------------------------------------------------------------------------------------------
// $filter

type Literal =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'date'; value: number }
  | { kind: 'guid'; value: string }
  | { kind: 'null' };

type Token =
  { t: 'ident'; v: string } | { t: 'lit'; v: Literal } | { t: 'lparen' } | { t: 'rparen' } | { t: 'comma' };

/** A compiled `$filter`: true when a row matches. */
export type RowPredicate = (row: Record<string, unknown>) => boolean;

const MAX_FILTER_LENGTH = 2000;

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const fail = (msg: string): never => {
    throw new ODataError(400, MESSAGES.filterSyntax, `Invalid filter expression: ${msg} at position ${i}`);
  };
  const readQuoted = (): string => {
    i++;
    let s = '';
    for (;;) {
      if (i >= src.length) fail('unterminated string literal');
      const ch = src[i] as string;
      if (ch === "'") {
        if (src[i + 1] === "'") {
          s += "'";
          i += 2;
          continue;
        }
        i++;
        return s;
      }
      s += ch;
      i++;
    }
  };
  while (i < src.length) {
    const ch = src[i] as string;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '(') {
      tokens.push({ t: 'lparen' });
      i++;
    } else if (ch === ')') {
      tokens.push({ t: 'rparen' });
      i++;
    } else if (ch === ',') {
      tokens.push({ t: 'comma' });
      i++;
    } else if (ch === "'") {
      tokens.push({ t: 'lit', v: { kind: 'string', value: readQuoted() } });
    } else if (/[-0-9]/.test(ch)) {
      const m = /^-?\d+(\.\d+)?([eE][-+]?\d+)?[mMdDlLfF]?/.exec(src.slice(i));
      if (!m) fail('malformed number');
      const text = (m as RegExpExecArray)[0];
      const value = Number(text.replace(/[mMdDlLfF]$/, ''));
      if (!Number.isFinite(value)) fail('malformed number');
      tokens.push({ t: 'lit', v: { kind: 'number', value } });
      i += text.length;
    } else if (/[A-Za-z_]/.test(ch)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i)) as RegExpExecArray;
      const word = m[0];
      i += word.length;
      if (src[i] === "'" && /^(datetime|datetimeoffset|guid|time)$/i.test(word)) {
        const raw = readQuoted();
        const kind = word.toLowerCase();
        if (kind === 'guid') {
          if (!/^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/.test(raw))
            fail('malformed guid literal');
          tokens.push({ t: 'lit', v: { kind: 'guid', value: raw.toLowerCase() } });
        } else if (kind === 'time') {
          const secs = parseEdmTime(raw);
          if (secs === undefined) fail('malformed time literal');
          tokens.push({ t: 'lit', v: { kind: 'number', value: secs as number } });
        } else {
          const iso = /([zZ]|[+-]\d{2}:\d{2})$/.test(raw) ? raw : `${raw}Z`;
          const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?([zZ]|[+-]\d{2}:\d{2})$/.test(iso)
            ? Date.parse(iso.replace(/(\.\d{3})\d+/, '$1'))
            : NaN;
          if (!Number.isFinite(ms)) fail(`malformed ${kind} literal`);
          tokens.push({ t: 'lit', v: { kind: 'date', value: ms } });
        }
      } else if (word === 'true' || word === 'false') {
        tokens.push({ t: 'lit', v: { kind: 'boolean', value: word === 'true' } });
      } else if (word === 'null') {
        tokens.push({ t: 'lit', v: { kind: 'null' } });
      } else {
        tokens.push({ t: 'ident', v: word });
      }
    } else {
      fail(`unexpected character "${ch}"`);
    }
  }
  return tokens;
}

const COMPARISON = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
const FUNCTIONS = new Set(['startswith', 'endswith', 'substringof']);

type Operand = { kind: 'prop'; spec: PropSpec } | { kind: 'lit'; lit: Literal };

function literalFits(spec: PropSpec, lit: Literal): boolean {
  switch (lit.kind) {
    case 'null':
      return true;
    case 'string':
      return spec.type === 'Edm.String';
    case 'number':
      return spec.type === 'Edm.Decimal' || spec.type === 'Edm.Int16' || spec.type === 'Edm.Time';
    case 'boolean':
      return spec.type === 'Edm.Boolean';
    case 'date':
      return spec.type === 'Edm.DateTime' || spec.type === 'Edm.DateTimeOffset';
    case 'guid':
      return spec.type === 'Edm.Guid';
  }
}

function literalValue(spec: PropSpec | undefined, lit: Literal): string | number | boolean | null {
  if (lit.kind === 'null') return null;
  if (lit.kind === 'string' && spec?.alpha && spec.maxLength && /^\d+$/.test(lit.value)) {
    return lit.value.padStart(spec.maxLength, '0');
  }
  return lit.value;
}

/** Compiles a `$filter` expression against an entity's properties; any error is a 400. */
export function compileFilter(src: string, props: Map<string, PropSpec>): RowPredicate {
  if (src.length > MAX_FILTER_LENGTH) {
    throw new ODataError(
      400,
      MESSAGES.filterSyntax,
      `Filter expression longer than ${MAX_FILTER_LENGTH} characters`,
    );
  }
  const tokens = tokenize(src);
  let pos = 0;
  let depth = 0;
  const fail = (msg: string): never => {
    throw new ODataError(400, MESSAGES.filterSyntax, `Invalid filter expression: ${msg}`);
  };
  const peek = () => tokens[pos];
  const isWord = (w: string) => {
    const t = peek();
    return t?.t === 'ident' && t.v === w;
  };
  const expect = (t: Token['t']) => {
    if (peek()?.t !== t) fail(`expected ${t}`);
    pos++;
  };

  const operand = (): Operand => {
    const t = peek();
    if (!t) return fail('unexpected end of expression');
    if (t.t === 'lit') {
      pos++;
      return { kind: 'lit', lit: t.v };
    }
    if (t.t === 'ident') {
      const spec = props.get(t.v);
      if (!spec) return fail(`property "${t.v.slice(0, 60)}" does not exist`);
      pos++;
      return { kind: 'prop', spec };
    }
    return fail('expected a property or a literal');
  };

  const valueOf = (o: Operand) =>
    o.kind === 'prop'
      ? (row: Record<string, unknown>) => comparable(o.spec, row[o.spec.name])
      : () => literalValue(undefined, o.lit);

  const callFunction = (name: string): RowPredicate => {
    expect('lparen');
    const a = operand();
    expect('comma');
    const b = operand();
    expect('rparen');
    const [hay, needle] = name === 'substringof' ? [b, a] : [a, b];
    const isStringOperand = (o: Operand) =>
      o.kind === 'prop' ? o.spec.type === 'Edm.String' : o.lit.kind === 'string';
    if (!isStringOperand(hay) || !isStringOperand(needle)) fail(`${name} takes two string arguments`);
    const h =
      hay.kind === 'prop'
        ? (row: Record<string, unknown>) => wireText(row[hay.spec.name])
        : () => String(literalValue(undefined, (hay as { lit: Literal }).lit));
    const n =
      needle.kind === 'prop'
        ? (row: Record<string, unknown>) => wireText(row[needle.spec.name])
        : () => String(literalValue(undefined, (needle as { lit: Literal }).lit));
    if (name === 'startswith') return (row) => h(row).startsWith(n(row));
    if (name === 'endswith') return (row) => h(row).endsWith(n(row));
    return (row) => h(row).includes(n(row));
  };

  const comparison = (): RowPredicate => {
    const t = peek();
    if (t?.t === 'ident' && FUNCTIONS.has(t.v) && tokens[pos + 1]?.t === 'lparen') {
      pos++;
      const fn = callFunction(t.v);
      if (isWord('eq') || isWord('ne')) {
        const negate = (peek() as { v: string }).v === 'ne';
        pos++;
        const lit = operand();
        if (lit.kind !== 'lit' || lit.lit.kind !== 'boolean')
          return fail(`${t.v}(...) compares with true or false`);
        const expected = lit.lit.value !== negate;
        return (row) => fn(row) === expected;
      }
      return fn;
    }
    const left = operand();
    const opTok = peek();
    if (opTok?.t !== 'ident' || !COMPARISON.has(opTok.v)) return fail('expected a comparison operator');
    pos++;
    const right = operand();
    const spec = left.kind === 'prop' ? left.spec : right.kind === 'prop' ? right.spec : undefined;
    if (!spec) return fail('a comparison needs a property');
    const lit = left.kind === 'lit' ? left.lit : right.kind === 'lit' ? right.lit : undefined;
    if (lit && !literalFits(spec, lit)) fail(`literal of the wrong type for property ${spec.name}`);
    const l = left.kind === 'prop' ? valueOf(left) : () => literalValue(spec, (left as { lit: Literal }).lit);
    const r =
      right.kind === 'prop' ? valueOf(right) : () => literalValue(spec, (right as { lit: Literal }).lit);
    const op = opTok.v;
    return (row) => {
      const a = l(row);
      const b = r(row);
      if (op === 'eq') return a === b;
      if (op === 'ne') return a !== b;
      if (a === null || b === null) return false;
      if (op === 'gt') return a > b;
      if (op === 'ge') return a >= b;
      if (op === 'lt') return a < b;
      return a <= b;
    };
  };

  const unary = (): RowPredicate => {
    if (isWord('not')) {
      pos++;
      const inner = unary();
      return (row) => !inner(row);
    }
    if (peek()?.t === 'lparen') {
      pos++;
      if (++depth > 20) fail('nesting deeper than 20 levels');
      const inner = orExpr();
      depth--;
      expect('rparen');
      return inner;
    }
    return comparison();
  };

  const andExpr = (): RowPredicate => {
    let acc = unary();
    while (isWord('and')) {
      pos++;
      const left = acc;
      const right = unary();
      acc = (row) => left(row) && right(row);
    }
    return acc;
  };

  function orExpr(): RowPredicate {
    let acc = andExpr();
    while (isWord('or')) {
      pos++;
      const left = acc;
      const right = andExpr();
      acc = (row) => left(row) || right(row);
    }
    return acc;
  }

  if (tokens.length === 0) fail('empty expression');
  const predicate = orExpr();
  if (pos !== tokens.length) fail('unexpected input after the expression');
  return predicate;
}
