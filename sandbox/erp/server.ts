import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Order } from '../../src/domain/model.js';
import { EffectLog } from '../common/effects.js';
import { FaultInjector, type FaultResponder, type FaultSettings } from '../common/faults.js';
import { WebhookSender } from '../common/webhooks.js';
import { MILESTONE_CODES, type DeliveryRecord, type Wire } from './entities.js';
import {
  MESSAGES,
  ODataError,
  errorBody,
  parseQueryOptions,
  parseQueryString,
  parseResourcePath,
  sendODataError,
} from './odata.js';
import { ErpLogon, type ErpSandboxAuth } from './auth.js';
import { CsrfSessions, readRepeatability, requestFingerprint } from './protocol.js';
import {
  newBoundary,
  parseBatchRequest,
  writeBatchResponse,
  type BatchAnswer,
  type BatchRequest,
  type BatchResponse,
} from './batch.js';
import { deliveryRecordFromOrder } from './records.js';
import { REGIONS } from './regions.js';
import { generateOrders, nextWeekday, type SeedOptions } from './seed.js';
import {
  FREIGHT_CONDITIONS,
  changeCondition,
  seedConditionRecords,
  type ConditionChange,
} from './services/pricing.js';
import { ErpServices, SERVICE_IDS, stripAlpha, type ServiceDef } from './service.js';
import { ErpStore } from './state.js';

/** Where every OData service of the sandbox lives, as on an SAP Gateway. */
export const ODATA_ROOT = '/sap/opu/odata/sap/';

/**
 * How a request counts in `/__sandbox/requests`: method, service and entity set (or `$batch`, `$metadata`,
 * a function import), keys and query left out, e.g. `POST API_OUTBOUND_DELIVERY_SRV;v=0002/$batch`.
 */
export function odataRoute(req: { method: string; url: string }): string {
  const path = decodeURIComponent(req.url.split('?')[0] ?? '');
  const [service = '', target = ''] = path.slice(ODATA_ROOT.length).split('/');
  return `${req.method} ${service}/${target.replace(/\(.*$/, '')}`;
}
/** Base path of the outbound delivery service, version 2. */
export const DELIVERY_SERVICE_PATH = `${ODATA_ROOT}${SERVICE_IDS.delivery};v=0002/`;
/** Base path of the billing document request service. */
export const BILLING_SERVICE_PATH = `${ODATA_ROOT}${SERVICE_IDS.billing}/`;
/** Base path of the pricing condition record service. */
export const PRICING_SERVICE_PATH = `${ODATA_ROOT}${SERVICE_IDS.pricing}/`;
/** Base path of the shipment milestone custom business object service. */
export const MILESTONE_SERVICE_PATH = `${ODATA_ROOT}${SERVICE_IDS.milestone}/`;

/** Largest number of deliveries one seed call creates. */
export const MAX_SEED = 20_000;

/** How to start the ERP sandbox. */
export interface ErpSandboxOptions {
  /** Port to listen on; 0 picks a free one. */
  port?: number;
  host?: string;
  /** Seed of every generator, so the same seed gives the same deliveries. */
  seed?: number;
  faults?: Partial<FaultSettings>;
  /** When set, each newly released delivery is POSTed there (the OData header JSON, expanded). */
  releasePushUrl?: string;
  releasePushToken?: string;
  /** SQLite file to keep state in across restarts; in memory when absent. */
  dbFile?: string;
  /** Fastify request logging (off by default). */
  logger?: boolean;
  /** Credentials the OData services require (basic and/or OAuth client credentials); none by default. */
  auth?: ErpSandboxAuth;
}

/** A delivery to create as is, optionally with raw field overrides to imitate bad ERP data. */
export interface DeliveryInput {
  order: Order;
  overrides?: { header?: Wire; address?: Wire; items?: Wire[] };
}

/** A running ERP sandbox. */
export interface ErpSandbox {
  /** Base URL, e.g. `http://127.0.0.1:4001`. */
  url: string;
  /** Creates `n` released deliveries and returns them as canonical orders. */
  seed(n: number, opts?: SeedOptions): Order[];
  /** Creates one delivery from a canonical order (plus raw overrides). */
  addDelivery(input: DeliveryInput): void;
  /** Ends all CSRF sessions now, as a session timeout would, and again before each of the next writes. */
  expireSessions(alsoOnNextWrites?: number): void;
  /**
   * Changes the current condition record of a condition type (`ZFKM`, ...) as a key user would: a new rate,
   * a deletion flag or another unit; its last-changed stamp moves, so the price list gets a new version.
   */
  changeCondition(conditionType: string, change: ConditionChange): void;
  /** Makes the next `count` conditional writes on a delivery meet a concurrent change (412). */
  concurrentEdits(deliveryId: string, count: number): void;
  /** Waits until queued release pushes were delivered or gave up. */
  drainReleasePushes(): Promise<void>;
  /** The sender of the release pushes, when a push URL is set (its log tells what was delivered). */
  releasePushes: WebhookSender | undefined;
  /** The OData requests received so far (a `$batch` is one request, whatever it carries). */
  requests(): RequestCounts;
  effects: EffectLog;
  faults: FaultInjector;
  /** The logon checks (tokens issued, logons refused). */
  logon: ErpLogon;
  app: FastifyInstance;
  close(): Promise<void>;
}

/** OData requests the sandbox received, as an SAP system's communication monitor counts them. */
export interface RequestCounts {
  /** HTTP requests to the OData services (`/sap/...`), refused ones included. */
  total: number;
  /** The same by HTTP method. */
  byMethod: Record<string, number>;
  /** `$batch` requests among them, and the operations (retrieve requests and changes) they carried. */
  batches: number;
  batchOperations: number;
}

/** OData-shaped bodies for the injected 503 and 429 faults. */
export const odataFaultResponder: FaultResponder = {
  unavailable(reply) {
    return reply
      .code(503)
      .header('retry-after', '1')
      .header('content-type', 'application/json; charset=utf-8')
      .send(
        errorBody(
          SERVICE_IDS.delivery,
          MESSAGES.serviceUnavailable,
          'Service temporarily unavailable; try again later',
        ),
      );
  },
  rateLimited(reply, retryAfterSeconds) {
    return reply
      .code(429)
      .header('retry-after', String(retryAfterSeconds))
      .header('content-type', 'application/json; charset=utf-8')
      .send(
        errorBody(
          SERVICE_IDS.delivery,
          MESSAGES.rateLimited,
          'Too many requests; the communication arrangement limit was exceeded',
        ),
      );
  },
};

const SeedBody = z
  .object({
    count: z.number().int().min(0).max(MAX_SEED),
    date: z.iso.date().optional(),
    regions: z
      .array(z.string().refine((r) => r in REGIONS, 'unknown region'))
      .max(10)
      .optional(),
    seed: z.number().int().nonnegative().optional(),
    mismatchRate: z.number().min(0).max(1).optional(),
  })
  .strict();

const DeliveryBody = z
  .object({
    order: Order,
    overrides: z
      .object({
        header: z.record(z.string(), z.unknown()).optional(),
        address: z.record(z.string(), z.unknown()).optional(),
        items: z.array(z.record(z.string(), z.unknown())).optional(),
      })
      .optional(),
  })
  .strict();

/** Resource names that start with `$` and are not Content-ID references. */
const SYSTEM_RESOURCES = new Set(['metadata', 'batch', 'count', 'links', 'value']);

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'MERGE', 'DELETE']);

function serviceIdOf(url: string): string {
  const rest = url.startsWith(ODATA_ROOT) ? url.slice(ODATA_ROOT.length) : '';
  const name = (rest.split(/[/;?]/)[0] ?? '').toUpperCase();
  return Object.values(SERVICE_IDS).find((s) => s === name) ?? SERVICE_IDS.delivery;
}

function bodyIssue(error: z.ZodError): ODataError {
  const issue = error.issues[0];
  const target = issue ? issue.path.map(String).join('/') : '';
  return new ODataError(
    400,
    MESSAGES.badRequest,
    `${target || 'body'}: ${issue?.message ?? 'invalid'}`,
    target,
  );
}

/** Starts the SAP-style ERP sandbox (OData V2 outbound deliveries, milestones, billing requests). */
export async function startErpSandbox(opts: ErpSandboxOptions = {}): Promise<ErpSandbox> {
  const baseSeed = opts.seed ?? 1;
  const store = new ErpStore(opts.dbFile);
  const effects = new EffectLog();
  for (const e of store.persistedEffects) {
    Object.assign(effects.record(e.kind, e.key, e.entityId, e.detail), {
      count: e.count,
      firstAt: e.firstAt,
      lastAt: e.lastAt,
    });
  }
  const faults = new FaultInjector(opts.faults, baseSeed);
  const webhooks = opts.releasePushUrl
    ? new WebhookSender(faults, { maxAttempts: 40, baseDelayMs: 100, maxDelayMs: 5000 })
    : undefined;
  const services = new ErpServices(store, effects);
  // A new ERP starts with the freight tariff as condition records; a restarted one keeps what it holds.
  if (store.conditions.size === 0) {
    store.batch(() => {
      for (const rec of seedConditionRecords(Date.now())) store.saveCondition(rec);
    });
  }
  const csrf = new CsrfSessions();
  const logon = new ErpLogon(opts.auth);
  let ownUrl = '';

  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: 1_048_576,
    // The router rejects undecodable URLs before any handler runs; answer those in the OData dialect too.
    frameworkErrors: (err, req, reply) => {
      const status = err.statusCode && err.statusCode < 500 ? err.statusCode : 400;
      void sendODataError(
        reply,
        serviceIdOf(req.url),
        new ODataError(status, MESSAGES.badRequest, err.message.slice(0, 200)),
      );
    },
  });
  app.addHttpMethod('MERGE', { hasBody: true });
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      // A reviver drops prototype-polluting keys, as fastify's own parser would refuse them.
      done(
        null,
        JSON.parse(text, (k: string, v: unknown) =>
          k === '__proto__' || k === 'constructor' ? undefined : v,
        ),
      );
    } catch {
      done(new ODataError(400, MESSAGES.badRequest, 'The request body is not valid JSON'), undefined);
    }
  });
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, String(body)));

  app.setErrorHandler((err: unknown, req, reply) => {
    const svc = serviceIdOf(req.url);
    if (err instanceof ODataError) return sendODataError(reply, svc, err);
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      const message = (err as Error).message || 'Bad request';
      return sendODataError(
        reply,
        svc,
        new ODataError(
          status,
          status === 415 ? MESSAGES.unsupportedMedia : MESSAGES.badRequest,
          message.slice(0, 200),
        ),
      );
    }
    req.log.error({ err }, 'erp sandbox internal error');
    return sendODataError(reply, svc, new ODataError(500, MESSAGES.internal, 'Internal server error'));
  });
  app.setNotFoundHandler((req, reply) =>
    sendODataError(
      reply,
      serviceIdOf(req.url),
      new ODataError(
        404,
        MESSAGES.notFound,
        `No service found for ${req.method} ${req.url.split('?')[0]?.slice(0, 120) ?? ''}`,
      ),
    ),
  );

  const counts: RequestCounts = { total: 0, byMethod: {}, batches: 0, batchOperations: 0 };
  app.addHook('onRequest', async (req) => {
    if (!req.url.startsWith('/sap/')) return;
    counts.total += 1;
    counts.byMethod[req.method] = (counts.byMethod[req.method] ?? 0) + 1;
  });
  const requestCounts = (): RequestCounts => structuredClone(counts);

  // Logon first, as SAP's ICF checks it before any service runs.
  logon.install(app, ODATA_ROOT);
  faults.install(app, odataFaultResponder, (url) => url.startsWith('/sap/'), requestCounts, odataRoute);
  effects.install(app);

  const pushRelease = (rec: DeliveryRecord) => {
    if (!webhooks || !opts.releasePushUrl) return;
    const base = `${ownUrl}${DELIVERY_SERVICE_PATH}`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.releasePushToken) headers.authorization = `Bearer ${opts.releasePushToken}`;
    webhooks.send({
      url: opts.releasePushUrl,
      body: JSON.stringify({ d: services.deliveryJson(rec, base) }),
      headers,
    });
  };

  const addRecords = (recs: DeliveryRecord[]) => {
    store.batch(() => {
      for (const rec of recs) store.saveDelivery(rec);
      store.saveCounters();
    });
    for (const rec of recs) pushRelease(rec);
  };

  const seed = (n: number, seedOpts: SeedOptions = {}): Order[] => {
    if (!Number.isInteger(n) || n < 0 || n > MAX_SEED)
      throw new RangeError(`seed count must be an integer from 0 to ${MAX_SEED}`);
    const batch = store.counters.seedBatches++;
    const date = seedOpts.date ?? nextWeekday(Date.now());
    const orders = generateOrders(n, store.counters.nextDelivery, {
      ...seedOpts,
      seed: seedOpts.seed ?? (Math.imul(baseSeed, 7919) + batch) >>> 0,
      date,
    });
    store.counters.nextDelivery += n;
    const created = Date.parse(`${date}T00:00:00Z`) - 7 * 3_600_000;
    addRecords(
      orders.map((order, i) =>
        deliveryRecordFromOrder(order, {
          addressId: String(store.counters.nextAddress++),
          salesOrder: String(store.counters.nextSalesOrder++),
          createdAtMs: created + i * 7_000,
        }),
      ),
    );
    return orders;
  };

  const addDelivery = (input: DeliveryInput) => {
    const id = input.order.deliveryId;
    if (store.deliveries.has(id))
      throw new ODataError(409, MESSAGES.badRequest, `Delivery ${id} already exists`, 'order/deliveryId');
    const rec = deliveryRecordFromOrder(input.order, {
      addressId: String(store.counters.nextAddress++),
      salesOrder: String(store.counters.nextSalesOrder++),
      createdAtMs: Date.now(),
    });
    Object.assign(rec.header, input.overrides?.header ?? {});
    for (const p of rec.partners) Object.assign(p.address, input.overrides?.address ?? {});
    if (input.overrides?.items) rec.items = input.overrides.items;
    if (/^\d+$/.test(id) && Number(id) >= store.counters.nextDelivery)
      store.counters.nextDelivery = Number(id) + 1;
    addRecords([rec]);
  };

  const concurrentEdits = (deliveryId: string, count: number) => {
    const rec = store.deliveries.get(deliveryId);
    if (!rec) throw new ODataError(404, MESSAGES.notFound, `Delivery ${deliveryId} does not exist`);
    rec.pendingConcurrentEdits = count;
    store.saveDelivery(rec);
  };

  app.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'MERGE'],
    url: `${ODATA_ROOT}*`,
    handler: async (req, reply) => handleOData(req, reply),
  });

  /** What one OData request (direct, or a part of a `$batch`) answers. */
  interface Answer {
    status: number;
    headers: Record<string, string>;
    /** JSON (object), text or XML (string), or nothing. */
    body?: unknown;
    contentType?: string;
  }

  const jsonAnswer = (status: number, headers: Record<string, string>, body: unknown): Answer =>
    body === undefined
      ? { status, headers }
      : { status, headers, body, contentType: 'application/json; charset=utf-8' };

  const errorAnswer = (svc: ServiceDef, err: ODataError): Answer => ({
    status: err.status,
    headers: { ...err.headers, dataserviceversion: '1.0' },
    body: errorBody(svc.id, err.code, err.message, err.target),
    contentType: 'application/json; charset=utf-8',
  });

  /** A target split into its service-relative resource path and query, as the route or a batch part names it. */
  function splitTarget(rawTarget: string): { resource: string; rawQuery: string } {
    const q = rawTarget.indexOf('?');
    const rawPath = q < 0 ? rawTarget : rawTarget.slice(0, q);
    try {
      return { resource: decodeURIComponent(rawPath), rawQuery: q < 0 ? '' : rawTarget.slice(q + 1) };
    } catch {
      throw new ODataError(400, MESSAGES.badRequest, 'Malformed percent-encoding in the resource path');
    }
  }

  /** A GET: `$metadata`, the service document, a collection, an entity, a navigation or a `$count`. */
  function readAnswer(
    svc: ServiceDef,
    resource: string,
    rawQuery: string,
    baseUrl: string,
    requestUrl: string,
  ): Answer {
    const segments = parseResourcePath(resource);
    if (segments[0]?.name === '$metadata' && segments.length === 1)
      return { status: 200, headers: {}, body: services.metadata(svc), contentType: 'application/xml' };
    if (segments[0]?.name === '$batch')
      throw new ODataError(405, MESSAGES.methodNotAllowed, '$batch must be called with POST');
    const result = services.read(
      svc,
      segments,
      parseQueryOptions(parseQueryString(rawQuery)),
      baseUrl,
      requestUrl,
    );
    const headers: Record<string, string> = result.etag ? { etag: result.etag } : {};
    if (result.text !== undefined)
      return { status: 200, headers, body: result.text, contentType: 'text/plain' };
    return jsonAnswer(200, headers, result.body);
  }

  /**
   * A modifying request: `Repeatability-Request-ID` (a replay answers as the original did, a reuse for
   * another request is a 422), then the service's handler with `If-Match`.
   */
  function writeAnswer(
    svc: ServiceDef,
    method: string,
    resource: string,
    rawQuery: string,
    headers: Record<string, string | string[] | undefined>,
    body: unknown,
    baseUrl: string,
  ): Answer {
    const segments = parseResourcePath(resource);
    const params = parseQueryString(rawQuery);
    const repeat = readRepeatability(headers);
    const fingerprint = requestFingerprint(method, `${svc.id}/${resource}`, rawQuery, body);
    if (repeat) {
      const stored = store.repeats.get(repeat.key);
      if (stored && stored.fingerprint !== fingerprint) {
        throw new ODataError(
          422,
          MESSAGES.repeatabilityMismatch,
          `Repeatability-Request-ID ${repeat.id} was already used for a different request`,
          '',
          { 'repeatability-result': 'rejected' },
        );
      }
      if (stored)
        return jsonAnswer(
          stored.status,
          { ...stored.headers, 'repeatability-result': 'accepted' },
          stored.body,
        );
    }
    const ifMatch = headers['if-match'];
    const result = services.write(svc, method, segments, params, body, {
      ifMatch: typeof ifMatch === 'string' ? ifMatch : undefined,
      effectKey: repeat?.id ?? `content:${fingerprint}`,
      repeatabilityRequestId: repeat?.id,
      baseUrl,
      now: Date.now(),
    });
    if (!repeat) return jsonAnswer(result.status, result.headers, result.body);
    store.saveRepeat(repeat.key, {
      fingerprint,
      status: result.status,
      headers: result.headers,
      body: result.body,
      at: new Date().toISOString(),
    });
    return jsonAnswer(result.status, { ...result.headers, 'repeatability-result': 'accepted' }, result.body);
  }

  /** POST, PUT, PATCH, MERGE and DELETE, after `X-HTTP-Method` tunnelling; MERGE is handled as PATCH. */
  function effectiveMethod(method: string, headers: Record<string, string | string[] | undefined>): string {
    let m = method.toUpperCase();
    const tunnelled = headers['x-http-method'];
    if (
      m === 'POST' &&
      typeof tunnelled === 'string' &&
      ['MERGE', 'PATCH', 'PUT', 'DELETE'].includes(tunnelled.toUpperCase())
    ) {
      m = tunnelled.toUpperCase();
    }
    return m === 'MERGE' ? 'PATCH' : m;
  }

  /** A batch part's target relative to the service root: relative, or an absolute path or URL into it. */
  function partTarget(
    svc: ServiceDef,
    url: string,
    locations: Map<string, string> | undefined,
    baseUrl: string,
  ): string {
    let target = url;
    // `$<Content-ID>` names an entity an earlier change of the same change set created.
    const ref = locations ? /^\$([^/?]+)(.*)$/.exec(target) : null;
    if (ref && locations && !SYSTEM_RESOURCES.has(ref[1] as string)) {
      const location = locations.get(ref[1] as string);
      if (location === undefined)
        throw new ODataError(
          404,
          MESSAGES.notFound,
          `Content-ID reference $${(ref[1] as string).slice(0, 40)} names no earlier change of this change set`,
        );
      target = `${location.startsWith(baseUrl) ? location.slice(baseUrl.length) : location}${ref[2] ?? ''}`;
    }
    if (/^https?:\/\//i.test(target)) {
      const u = new URL(target);
      target = `${u.pathname}${u.search}`;
    }
    if (!target.startsWith('/')) return target;
    if (target.startsWith(ODATA_ROOT)) {
      const rest = target.slice(ODATA_ROOT.length);
      const slash = rest.indexOf('/');
      const name = (slash < 0 ? rest : rest.slice(0, slash)).split(/[;?]/)[0]?.toUpperCase();
      if (name === svc.id) return slash < 0 ? '' : rest.slice(slash + 1);
    }
    throw new ODataError(
      400,
      MESSAGES.badRequest,
      `A $batch of service ${svc.id} can only address that service; ${target.slice(0, 80)} is outside it`,
    );
  }

  /** A part's body as the direct route would parse it: JSON for application/json, else the text. */
  function partBody(headers: Record<string, string>, body: string): unknown {
    if (body.trim() === '') return undefined;
    if ((headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() !== 'application/json')
      return body;
    try {
      return JSON.parse(body, (k: string, v: unknown) =>
        k === '__proto__' || k === 'constructor' ? undefined : v,
      );
    } catch {
      throw new ODataError(400, MESSAGES.badRequest, 'The request body is not valid JSON');
    }
  }

  const batchResponse = (a: Answer, contentId?: string): BatchResponse => ({
    status: a.status,
    headers: {
      ...(a.contentType ? { 'content-type': a.contentType } : {}),
      dataserviceversion: '2.0',
      ...a.headers,
    },
    ...(a.body === undefined ? {} : { body: typeof a.body === 'string' ? a.body : JSON.stringify(a.body) }),
    ...(contentId ? { contentId } : {}),
  });

  /**
   * `POST <service>/$batch`: retrieve requests answer one by one; each change set runs as a unit (all its
   * changes or none: a failing change rolls back the change set's earlier ones, and the change set answers
   * with that one error), while the other change sets commit.
   */
  function batchAnswer(
    svc: ServiceDef,
    contentType: string | undefined,
    body: unknown,
    baseUrl: string,
  ): Answer {
    const items = parseBatchRequest(contentType, body);
    counts.batches += 1;
    for (const item of items) counts.batchOperations += item.kind === 'retrieve' ? 1 : item.requests.length;
    const answers: BatchAnswer[] = items.map((item): BatchAnswer => {
      if (item.kind === 'retrieve') {
        const r = item.request;
        try {
          const target = partTarget(svc, r.url, undefined, baseUrl);
          const { resource, rawQuery } = splitTarget(target);
          const answer = readAnswer(svc, resource, rawQuery, baseUrl, `${baseUrl}${target}`);
          return { kind: 'single', response: batchResponse(answer, r.contentId) };
        } catch (err) {
          if (!(err instanceof ODataError)) throw err;
          return { kind: 'single', response: batchResponse(errorAnswer(svc, err), r.contentId) };
        }
      }
      let failed: BatchRequest | undefined;
      try {
        const responses = store.changeset(() => {
          const locations = new Map<string, string>();
          return item.requests.map((r) => {
            failed = r;
            const { resource, rawQuery } = splitTarget(partTarget(svc, r.url, locations, baseUrl));
            const answer = writeAnswer(
              svc,
              effectiveMethod(r.method, r.headers),
              resource,
              rawQuery,
              r.headers,
              partBody(r.headers, r.body),
              baseUrl,
            );
            const location = answer.headers.location;
            if (r.contentId && location) locations.set(r.contentId, location);
            return batchResponse(answer, r.contentId);
          });
        });
        return { kind: 'changeset', responses };
      } catch (err) {
        if (!(err instanceof ODataError)) throw err;
        return { kind: 'single', response: batchResponse(errorAnswer(svc, err), failed?.contentId) };
      }
    });
    const boundary = newBoundary('batch');
    return {
      status: 202,
      headers: {},
      body: writeBatchResponse(answers, boundary),
      contentType: `multipart/mixed; boundary=${boundary}`,
    };
  }

  function handleOData(req: FastifyRequest, reply: FastifyReply) {
    const rawUrl = req.raw.url ?? req.url;
    const { resource: path } = splitTarget(rawUrl.slice(ODATA_ROOT.length));
    const q = rawUrl.indexOf('?');
    const slash = path.indexOf('/');
    const svcSpec = slash < 0 ? path : path.slice(0, slash);
    const svc: ServiceDef | undefined = services.services.get((svcSpec.split(';')[0] ?? '').toUpperCase());
    if (!svc)
      throw new ODataError(
        404,
        MESSAGES.notFound,
        `No service found for namespace '/SAP/', name '${svcSpec.slice(0, 60)}'`,
      );
    const resource = slash < 0 ? '' : path.slice(slash + 1);
    const rawQuery = q < 0 ? '' : rawUrl.slice(q + 1);
    const host =
      typeof req.headers.host === 'string' && /^[A-Za-z0-9.[\]:-]{1,100}$/.test(req.headers.host)
        ? `http://${req.headers.host}`
        : ownUrl;
    const baseUrl = `${host}${ODATA_ROOT}${svcSpec}/`;
    reply.header('dataserviceversion', '2.0');

    const method = effectiveMethod(req.method, req.headers);
    let answer: Answer;
    if (!WRITE_METHODS.has(method)) {
      const fetchHeader = req.headers['x-csrf-token'];
      if (typeof fetchHeader === 'string' && fetchHeader.toLowerCase() === 'fetch') {
        const { token, setCookies } = csrf.fetch(req.headers.cookie);
        reply.header('x-csrf-token', token);
        if (setCookies.length) reply.header('set-cookie', setCookies);
      }
      answer = readAnswer(svc, resource, rawQuery, baseUrl, `${host}${rawUrl}`);
    } else {
      const token = req.headers['x-csrf-token'];
      csrf.check(req.headers.cookie, typeof token === 'string' ? token : undefined);
      const batch = parseResourcePath(resource)[0]?.name === '$batch';
      if (batch && method !== 'POST')
        throw new ODataError(
          405,
          MESSAGES.methodNotAllowed,
          `$batch must be called with POST, not ${method}`,
        );
      answer = batch
        ? batchAnswer(svc, req.headers['content-type'], req.body, baseUrl)
        : writeAnswer(svc, method, resource, rawQuery, req.headers, req.body, baseUrl);
    }
    for (const [k, v] of Object.entries(answer.headers)) reply.header(k, v);
    reply.code(answer.status);
    if (answer.body === undefined) return reply.send();
    return reply
      .header('content-type', answer.contentType ?? 'application/json; charset=utf-8')
      .send(answer.body);
  }

  app.get<{ Params: { id: string } }>('/__sandbox/deliveries/:id/milestones', async (req) => {
    const id = stripAlpha(req.params.id);
    if (!store.deliveries.has(id))
      throw new ODataError(404, MESSAGES.notFound, `Delivery ${id.slice(0, 20)} does not exist`);
    const milestones = store.milestones
      .filter((m) => m.wire.DeliveryDocument === id)
      .map((m) => ({
        seq: m.seq,
        uuid: m.wire.SAP_UUID,
        milestone: m.wire.MilestoneCode,
        attempt: m.wire.AttemptNumber,
        occurredAt: m.wire.OccurredAt,
        plannedEta: m.wire.PlannedETA,
        note: m.wire.Note,
        receivedAt: m.wire.SAP_CreatedDateTime,
        repeatabilityRequestId: m.repeatabilityRequestId ?? null,
      }));
    return { deliveryId: id, milestones };
  });

  // Deletes milestone records of a delivery behind shipsync's back (a key user's correction), so reconciliation
  // has a drift to find: every record of the code, or only the given attempt's.
  app.delete<{ Params: { id: string } }>('/__sandbox/deliveries/:id/milestones', async (req) => {
    const id = stripAlpha(req.params.id);
    if (!store.deliveries.has(id))
      throw new ODataError(404, MESSAGES.notFound, `Delivery ${id.slice(0, 20)} does not exist`);
    const parsed = z
      .object({
        milestone: z.enum(MILESTONE_CODES),
        attempt: z.coerce.number().int().min(1).max(99).optional(),
      })
      .strict()
      .safeParse(req.query ?? {});
    if (!parsed.success) throw bodyIssue(parsed.error);
    const { milestone, attempt } = parsed.data;
    const doomed = store.milestones.filter(
      (m) =>
        m.wire.DeliveryDocument === id &&
        m.wire.MilestoneCode === milestone &&
        (attempt === undefined || Number(m.wire.AttemptNumber) === attempt),
    );
    for (const m of doomed) store.removeMilestone(m.seq);
    return { deliveryId: id, milestone, attempt: attempt ?? null, deleted: doomed.length };
  });

  app.get('/__sandbox/billing', async () => ({
    billingRequests: [...store.billing.values()].map((b) => ({
      billingDocumentRequest: b.header.BillingDocumentRequest,
      deliveryId: b.header.ReferenceDocument,
      soldToParty: b.header.SoldToParty,
      customerReference: b.header.PurchaseOrderByCustomer,
      total: b.header.TotalNetAmount,
      currency: b.header.TransactionCurrency,
      approvedBy: b.header.YY1_ApprovedBy_BDR,
      secondApprovedBy: b.header.YY1_SecondApprovedBy_BDR,
      pricingVersion: b.header.YY1_PricingVersion_BDR,
      items: b.items.map((i) => ({
        chargeCode: i.Material,
        description: i.BillingDocumentRequestItemText,
        quantity: i.BillingQuantity,
        unit: i.BillingQuantityUnit,
        unitPrice: i.YY1_UnitPrice_BDI,
        amount: i.NetAmount,
      })),
      repeatabilityRequestId: b.repeatabilityRequestId ?? null,
    })),
  }));

  app.post('/__sandbox/seed', async (req, reply) => {
    const parsed = SeedBody.safeParse(req.body ?? {});
    if (!parsed.success) throw bodyIssue(parsed.error);
    const { count, ...rest } = parsed.data;
    const orders = seed(count, rest);
    return reply
      .code(201)
      .send({ created: orders.length, deliveries: orders.map((o) => o.deliveryId), orders });
  });

  app.post('/__sandbox/deliveries', async (req, reply) => {
    const parsed = DeliveryBody.safeParse(req.body ?? {});
    if (!parsed.success) throw bodyIssue(parsed.error);
    addDelivery(parsed.data);
    return reply.code(201).send({ deliveryId: parsed.data.order.deliveryId });
  });

  app.get('/__sandbox/business-rules', async () => store.rules);
  app.post('/__sandbox/business-rules', async (req) => {
    const parsed = z
      .object({
        rejectMilestoneCodes: z.array(z.enum(MILESTONE_CODES)).max(20).optional(),
        billingBlockReason: z.string().min(1).max(200).nullable().optional(),
      })
      .strict()
      .safeParse(req.body ?? {});
    if (!parsed.success) throw bodyIssue(parsed.error);
    const { rejectMilestoneCodes, billingBlockReason } = parsed.data;
    if (rejectMilestoneCodes) store.rules.rejectMilestoneCodes = rejectMilestoneCodes;
    if (billingBlockReason !== undefined) store.rules.billingBlockReason = billingBlockReason ?? undefined;
    return store.rules;
  });

  app.post('/__sandbox/sessions/expire', async (req) => {
    const parsed = z
      .object({ alsoOnNextWrites: z.number().int().min(0).max(100).optional() })
      .strict()
      .safeParse(req.body ?? {});
    if (!parsed.success) throw bodyIssue(parsed.error);
    csrf.expireAll(parsed.data.alsoOnNextWrites ?? 0);
    return { expired: true, alsoOnNextWrites: parsed.data.alsoOnNextWrites ?? 0 };
  });

  app.post<{ Params: { id: string } }>('/__sandbox/deliveries/:id/concurrent-edit', async (req) => {
    const parsed = z
      .object({ count: z.number().int().min(0).max(100) })
      .strict()
      .safeParse(req.body ?? {});
    if (!parsed.success) throw bodyIssue(parsed.error);
    concurrentEdits(req.params.id, parsed.data.count);
    return { deliveryId: req.params.id, pendingConcurrentEdits: parsed.data.count };
  });

  const conditionTypes = FREIGHT_CONDITIONS.map((c) => c.conditionType) as [string, ...string[]];
  app.post<{ Params: { type: string } }>('/__sandbox/pricing/conditions/:type', async (req) => {
    const type = z.enum(conditionTypes).safeParse(req.params.type);
    if (!type.success)
      throw new ODataError(404, MESSAGES.notFound, `Unknown condition type ${req.params.type.slice(0, 4)}`);
    const parsed = z
      .object({
        rate: z.number().nonnegative().max(1_000_000).optional(),
        deleted: z.boolean().optional(),
        quantityUnit: z.string().min(1).max(3).optional(),
      })
      .strict()
      .safeParse(req.body ?? {});
    if (!parsed.success) throw bodyIssue(parsed.error);
    return changeCondition(services.context, type.data, parsed.data, Date.now()).wire;
  });

  await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const shownHost = (opts.host ?? '127.0.0.1') === '0.0.0.0' ? '127.0.0.1' : (opts.host ?? '127.0.0.1');
  ownUrl = `http://${shownHost}:${port}`;

  return {
    url: ownUrl,
    seed,
    addDelivery,
    expireSessions: (alsoOnNextWrites = 0) => csrf.expireAll(alsoOnNextWrites),
    concurrentEdits,
    changeCondition: (conditionType, change) =>
      void changeCondition(services.context, conditionType, change, Date.now()),
    drainReleasePushes: async () => webhooks?.drain(),
    releasePushes: webhooks,
    requests: requestCounts,
    effects,
    faults,
    logon,
    app,
    close: async () => {
      await app.close();
      store.close();
    },
  };
}
