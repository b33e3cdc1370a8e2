import type PQueue from 'p-queue';
import axios, { type AxiosInstance, type AxiosResponse, isAxiosError } from 'axios';
import { ShipsyncError } from '../../domain/errors.js';
import type { PriceList } from '../../domain/billing.js';
import type { BillingDocument, Order } from '../../domain/model.js';
import { OAuthTokenSource, type OAuthClientCredentials } from './oauth.js';
import { createLogger, type AppLogger } from '../../platform/logger.js';
import type {
  ErpBillingRecord,
  ErpMilestoneRecord,
  ErpPort,
  MilestoneReport,
  RejectedDelivery,
  ReleasedPage,
} from '../ports.js';

export type { RejectedDelivery } from '../ports.js';
import {
  DELIVERY_EXPAND,
  alphaOut,
  billingDocumentIdFrom,
  billingFromOData,
  deliveriesFilter,
  milestoneFromOData,
  billingToOData,
  commitDateToOData,
  milestoneToOData,
  odataErrorOf,
  orderFromDelivery,
  releasedFilter,
  repeatabilityRequestId,
} from './mappers.js';
import {
  CONDITION_SELECT,
  ConditionRecordCache,
  conditionRecordsFilter,
  conditionRowsFrom,
  priceListAt,
  type ConditionRow,
} from './pricing.js';
import { DEFAULT_BULK, bulkOperation, type BulkOperation, type BulkOptions } from '../bulk.js';
import { requestPacer } from '../pacing.js';
import {
  MAX_BATCH_CHANGESETS,
  buildBatchRequest,
  parseBatchResponse,
  type BatchPart,
  type BatchPartAnswer,
  type BatchPartResponse,
  type BatchRequestPart,
} from './batch.js';

/** Service roots on the SAP Gateway, relative to the base URL. */
export const ERP_PATHS = {
  delivery: '/sap/opu/odata/sap/API_OUTBOUND_DELIVERY_SRV;v=0002',
  milestone: '/sap/opu/odata/sap/YY1_SHIPMENTMILESTONE_CDS',
  billing: '/sap/opu/odata/sap/API_BILLING_DOCUMENT_REQUEST_SRV',
  pricing: '/sap/opu/odata/sap/API_SLSPRICINGCONDITIONRECORD_SRV',
} as const;

/** How long a worker prices with the condition records it read before reading them again, by default. */
export const DEFAULT_PRICE_LIST_TTL_MS = 5 * 60_000;

/** Most pages of condition records one read follows. */
const MAX_CONDITION_PAGES = 20;

/** Largest page the adapter asks for (the gateway pages larger reads on its own). */
export const MAX_PAGE_SIZE = 1000;

/** Deliveries named in one `$filter` (an `or` of equalities keeps the URL well under gateway limits). */
export const FILTER_CHUNK = 40;

/** Pages one filtered read follows at most (a safety net against a gateway that links to itself). */
const MAX_READ_PAGES = 1000;

/** A released delivery the ERP returned in a shape shipsync cannot accept, with the offending field. */

/** A page of released deliveries, plus those skipped because their ERP data failed validation. */
export interface ReleasedPageWithRejects extends ReleasedPage {
  rejected: RejectedDelivery[];
}

/** How to reach the ERP. */
export interface SapErpAdapterOptions {
  /** Gateway base URL, e.g. `http://127.0.0.1:4001`. */
  baseUrl: string;
  /** Per-request timeout; a timeout is ERP_UNAVAILABLE. */
  timeoutMs?: number;
  logger?: AppLogger;
  /** Basic authentication of the communication user, when the gateway requires it. */
  username?: string;
  password?: string;
  /** OAuth 2.0 client credentials instead: a bearer token, cached until shortly before it expires. */
  oauth?: OAuthClientCredentials;
  /** How long the condition records read for pricing are kept (0 reads them for every pricing). */
  priceListTtlMs?: number;
  /** The clock of the price list cache (tests move it). */
  now?: () => number;
  /** How concurrent calls are coalesced into the vendor's bulk requests (DEFAULT_BULK when unset). */
  bulk?: BulkOptions;
  /** Requests a second this adapter starts at most (a `$batch` is one); unlimited when unset. */
  requestsPerSecond?: number;
}

const DELIVERY_ID = /^[0-9A-Z-]{1,10}$/;

/** Milliseconds to wait from a Retry-After header (delta seconds or an HTTP date); 1 s when absent. */
export function retryAfterMs(header: unknown, nowMs = Date.now()): number {
  if (typeof header !== 'string' || header.trim() === '') return 1000;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : 1000;
}

/** What classifying an ERP answer needs: a whole response, or one part of a `$batch` answer. */
export interface ErpAnswer {
  status: number;
  data: unknown;
  headers: Record<string, unknown>;
}

/** A write whose If-Match needs the delivery's current ETag (commit date, goods issue). */
interface EtagWrite {
  deliveryId: string;
  method: string;
  /** Relative to the delivery service root. */
  url: string;
  data?: unknown;
  key: string;
  what: string;
}

function isCsrfRejection(res: ErpAnswer): boolean {
  const header = res.headers['x-csrf-token'];
  return res.status === 403 && typeof header === 'string' && header.toLowerCase() === 'required';
}

/** Turns a non-2xx ERP answer into shipsync's error taxonomy. */
export function classifyResponse(res: ErpAnswer, what: string): ShipsyncError {
  const { message, target, code } = odataErrorOf(res.data);
  const text = `${what}: ERP answered ${res.status}${message ? ` (${message})` : ''}`;
  const details = {
    status: res.status,
    ...(target ? { field: target } : {}),
    body: code ? { code, message } : undefined,
  };
  if (res.status === 404) return new ShipsyncError('ERP_DELIVERY_NOT_FOUND', text, details);
  if (res.status === 428) return new ShipsyncError('ERP_PRECONDITION_REQUIRED', text, details);
  if (res.status === 412) return new ShipsyncError('ERP_PRECONDITION_FAILED', text, details);
  if (res.status === 429) {
    return new ShipsyncError('ERP_RATE_LIMITED', text, {
      ...details,
      retryAfterMs: retryAfterMs(res.headers['retry-after']),
    });
  }
  if (isCsrfRejection(res)) return new ShipsyncError('ERP_CSRF_REJECTED', text, details);
  if (res.status >= 500) {
    const retry = res.headers['retry-after'];
    return new ShipsyncError(
      'ERP_UNAVAILABLE',
      text,
      retry === undefined ? details : { ...details, retryAfterMs: retryAfterMs(retry) },
    );
  }
  return new ShipsyncError('ERP_BUSINESS_REJECTED', text, details);
}

function quoteKey(id: string): string {
  return `'${id.replace(/'/g, "''")}'`;
}

/** OData query string with spaces as %20 and `$` kept readable. */
function query(params: Record<string, string | number | undefined>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined)
    .map(
      ([k, v]) =>
        `${k}=${encodeURIComponent(String(v)).replace(/%24/g, '$').replace(/%2C/gi, ',').replace(/%2F/gi, '/')}`,
    );
  return parts.length ? `?${parts.join('&')}` : '';
}

/**
 * ErpPort over SAP S/4HANA OData V2: CSRF token with its session cookie (refreshed once on
 * `X-CSRF-Token: Required`), ETag read before every If-Match write (refetched and retried once on 412),
 * `Repeatability-Request-ID` derived from the idempotency key, and every failure classified into a
 * ShipsyncError with a stable code. Writes made concurrently go out together as OData `$batch` requests,
 * one change set per call, so each call still succeeds or fails on its own (docs/sandbox-erp.md, $batch).
 */
export class SapErpAdapter implements ErpPort {
  private readonly http: AxiosInstance;
  private readonly logger: AppLogger;
  private readonly cookies = new Map<string, string>();
  private csrfToken: string | undefined;
  private csrfFetch: Promise<string> | undefined;
  /** The OAuth access tokens, when the adapter authenticates with client credentials. */
  readonly oauth: OAuthTokenSource | undefined;
  /** The condition records pricing reads, kept for the configured TTL. */
  readonly conditions: ConditionRecordCache;
  /** Milestones: concurrent calls go out as one `$batch`, one change set each. */
  readonly milestones: BulkOperation<MilestoneReport, void>;
  /** Billing document requests, batched the same way. */
  readonly billingRequests: BulkOperation<
    { doc: BillingDocument; key: string },
    { billingDocumentId: string }
  >;
  /** If-Match writes on deliveries: one `$batch` reads the ETags, one more carries the change sets. */
  readonly deliveryWrites: BulkOperation<EtagWrite, void>;

  /** Paces every request to the ERP (SHIPSYNC_ERP_REQUESTS_PER_SECOND). */
  private readonly pacer: PQueue;

  constructor(opts: SapErpAdapterOptions) {
    this.logger = opts.logger ?? createLogger({ level: 'warn', name: 'erp-adapter' });
    if (opts.oauth && opts.username)
      throw new ShipsyncError(
        'CONFIG_INVALID',
        'the ERP adapter takes basic authentication or OAuth, not both',
      );
    this.oauth = opts.oauth ? new OAuthTokenSource(opts.oauth, Date.now, opts.timeoutMs) : undefined;
    this.conditions = new ConditionRecordCache(
      () => this.readConditionRecords(),
      opts.priceListTtlMs ?? DEFAULT_PRICE_LIST_TTL_MS,
      opts.now,
    );
    this.pacer = requestPacer(opts.requestsPerSecond);
    const bulk = opts.bulk ?? DEFAULT_BULK;
    const batching = { ...bulk, maxItems: Math.min(bulk.maxItems, MAX_BATCH_CHANGESETS) };
    // A batch goes out once the pacing has room: under load, calls gather behind the pace into one $batch.
    const ready = async () => {
      while (this.pacer.size > 0) await this.pacer.onEmpty();
    };
    this.milestones = bulkOperation((items) => this.sendMilestones(items), batching, ready);
    this.billingRequests = bulkOperation((items) => this.sendBillingRequests(items), batching, ready);
    this.deliveryWrites = bulkOperation((items) => this.sendDeliveryWrites(items), batching, ready);
    this.http = axios.create({
      baseURL: opts.baseUrl.replace(/\/+$/, ''),
      timeout: opts.timeoutMs ?? 10_000,
      validateStatus: () => true,
      headers: { accept: 'application/json' },
      ...(opts.username ? { auth: { username: opts.username, password: opts.password ?? '' } } : {}),
    });
  }

  /** Released, not yet goods-issued, unblocked deliveries in delivery number order, after the cursor. */
  async listReleasedDeliveries(opts: {
    cursor?: string;
    pageSize: number;
  }): Promise<ReleasedPageWithRejects> {
    if (!Number.isInteger(opts.pageSize) || opts.pageSize < 1 || opts.pageSize > MAX_PAGE_SIZE) {
      throw new ShipsyncError('VALIDATION_FAILED', `pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`, {
        field: 'pageSize',
      });
    }
    if (opts.cursor !== undefined && !DELIVERY_ID.test(opts.cursor)) {
      throw new ShipsyncError('VALIDATION_FAILED', 'cursor must be an ERP delivery number', {
        field: 'cursor',
      });
    }
    const url =
      `${ERP_PATHS.delivery}/A_OutbDeliveryHeader` +
      query({
        $filter: releasedFilter(opts.cursor),
        $orderby: 'DeliveryDocument asc',
        $top: opts.pageSize,
        $expand: DELIVERY_EXPAND,
        $inlinecount: 'allpages',
        $format: 'json',
      });
    const res = await this.send('GET', url, {}, 'list released deliveries');
    if (res.status !== 200) throw classifyResponse(res, 'list released deliveries');
    const d = (res.data as { d?: { results?: unknown; __count?: unknown; __next?: unknown } } | null)?.d;
    if (!d || !Array.isArray(d.results)) {
      throw new ShipsyncError(
        'VALIDATION_FAILED',
        'list released deliveries: the ERP answer has no d.results array',
        { field: 'd.results' },
      );
    }
    const orders: Order[] = [];
    const rejected: RejectedDelivery[] = [];
    let lastId: string | undefined;
    for (const entity of d.results as unknown[]) {
      const id = (entity as { DeliveryDocument?: unknown } | null)?.DeliveryDocument;
      if (typeof id === 'string') lastId = alphaOut(id);
      try {
        orders.push(orderFromDelivery(entity));
      } catch (err) {
        if (!(err instanceof ShipsyncError)) throw err;
        rejected.push({
          deliveryId: typeof id === 'string' ? id : '',
          field: err.details.field,
          message: err.message,
          entity,
        });
        this.logger.warn(
          { deliveryId: id, field: err.details.field, code: err.code },
          'released delivery rejected by validation',
        );
      }
    }
    const total = typeof d.__count === 'string' ? Number(d.__count) : Number.NaN;
    const more = Number.isFinite(total)
      ? total > d.results.length
      : d.results.length === opts.pageSize || typeof d.__next === 'string';
    return { orders, rejected, ...(more && lastId !== undefined ? { nextCursor: lastId } : {}) };
  }

  /** One outbound delivery with its items and ship-to address. */
  async getDelivery(deliveryId: string): Promise<Order> {
    this.checkId(deliveryId);
    const url = `${ERP_PATHS.delivery}/A_OutbDeliveryHeader(${quoteKey(deliveryId)})${query({ $expand: DELIVERY_EXPAND, $format: 'json' })}`;
    const res = await this.send('GET', url, {}, `read delivery ${deliveryId}`);
    if (res.status !== 200) throw classifyResponse(res, `read delivery ${deliveryId}`);
    return orderFromDelivery(res.data);
  }

  /**
   * Creates the milestone record; for `planned`/`delayed` with an ETA then moves the commit date. Concurrent
   * calls share one `$batch` on the milestone service (a change set each), and their commit dates one more
   * pair on the delivery service (ETags, then the If-Match changes), since a change set cannot span services.
   */
  async postMilestone(report: MilestoneReport): Promise<void> {
    await this.milestones.submit(report);
    if (report.eta && (report.milestone === 'planned' || report.milestone === 'delayed')) {
      await this.deliveryWrites.submit({
        deliveryId: report.deliveryId,
        method: 'PATCH',
        url: this.headerPath(report.deliveryId).slice(ERP_PATHS.delivery.length + 1),
        data: commitDateToOData(report.eta),
        key: `${report.idempotencyKey}#commit-date`,
        what: `move commit date of ${report.deliveryId}`,
      });
    }
  }

  /** Calls the PostGoodsIssue function import with the delivery's ETag (batched with concurrent calls). */
  async postGoodsIssue(deliveryId: string, idempotencyKey: string): Promise<void> {
    this.checkId(deliveryId);
    await this.deliveryWrites.submit({
      deliveryId,
      method: 'POST',
      url: `PostGoodsIssue${query({ DeliveryDocument: quoteKey(deliveryId) })}`,
      key: idempotencyKey,
      what: `post goods issue for ${deliveryId}`,
    });
  }

  /** Creates the external billing document request; a replay returns the same document number. */
  async postBilling(doc: BillingDocument, idempotencyKey: string): Promise<{ billingDocumentId: string }> {
    return this.billingRequests.submit({ doc, key: idempotencyKey });
  }

  /** One `$batch` of milestone change sets; each call gets its own change set's outcome. */
  private async sendMilestones(items: readonly MilestoneReport[]): Promise<(void | Error)[]> {
    return this.sendChangesets(
      ERP_PATHS.milestone,
      items.map((r) => ({
        what: `post milestone ${r.milestone} for ${r.deliveryId}`,
        change: () => ({
          method: 'POST',
          url: 'YY1_ShipmentMilestone',
          json: milestoneToOData(r),
          headers: this.repeatHeaders(r.idempotencyKey),
        }),
      })),
      () => undefined,
    );
  }

  /** One `$batch` of billing change sets (deep inserts). */
  private async sendBillingRequests(
    items: readonly { doc: BillingDocument; key: string }[],
  ): Promise<({ billingDocumentId: string } | Error)[]> {
    return this.sendChangesets(
      ERP_PATHS.billing,
      items.map(({ doc, key }) => ({
        what: `post billing for ${doc.deliveryId}`,
        change: () => ({
          method: 'POST',
          url: 'A_BillingDocumentRequest',
          json: billingToOData(doc),
          headers: this.repeatHeaders(key),
        }),
      })),
      (res) => ({ billingDocumentId: billingDocumentIdFrom(res.data) }),
    );
  }

  /**
   * Sends one change set per item in one `$batch` and maps each answer: a committed change set gives the
   * item's result, a rolled-back one its error, classified as a single request's answer would be. An item
   * whose body cannot be built fails alone, before anything is sent.
   */
  private async sendChangesets<R>(
    service: string,
    items: readonly { what: string; change: () => BatchRequestPart }[],
    result: (res: BatchPartResponse) => R,
  ): Promise<(R | Error)[]> {
    const out: (R | Error)[] = new Array<R | Error>(items.length);
    const sent: number[] = [];
    const parts: BatchPart[] = [];
    items.forEach((item, i) => {
      try {
        parts.push({ changeset: [item.change()] });
        sent.push(i);
      } catch (err) {
        out[i] = err instanceof Error ? err : new Error(String(err));
      }
    });
    if (parts.length === 0) return out;
    const answers = await this.batch(
      service,
      parts,
      `${items[0]?.what ?? 'write'} and ${parts.length - 1} more`,
    );
    sent.forEach((index, k) => {
      const what = (items[index] as { what: string }).what;
      try {
        out[index] = result(this.changesetOutcome(answers[k] as BatchPartAnswer, what));
      } catch (err) {
        out[index] = err instanceof Error ? err : new Error(String(err));
      }
    });
    return out;
  }

  /** The single change of a committed change set, or the classified error of a rolled-back one. */
  private changesetOutcome(answer: BatchPartAnswer, what: string): BatchPartResponse {
    const first = answer.responses[0] as BatchPartResponse;
    if (answer.committed && first.status >= 200 && first.status < 300) return first;
    throw classifyResponse(first, what);
  }

  /**
   * If-Match writes for several deliveries: one `$batch` of GETs reads the ETags, one `$batch` carries a
   * change set per write; the writes that met a stale ETag (412) read it again and go once more, as a single
   * call does.
   */
  private async sendDeliveryWrites(items: readonly EtagWrite[]): Promise<(void | Error)[]> {
    const out: (void | Error)[] = new Array<void | Error>(items.length);
    let pending = items.map((_, i) => i);
    for (let round = 1; round <= 2 && pending.length > 0; round++) {
      try {
        pending = await this.deliveryWriteRound(items, pending, out, round);
      } catch (err) {
        // The first round's failure is every call's; a retry round's only that of the calls it carried.
        if (round === 1) throw err;
        for (const i of pending) out[i] = err instanceof Error ? err : new Error(String(err));
        break;
      }
    }
    return out;
  }

  /** One round of If-Match writes: their ETags, then their change sets; returns the writes to retry (412). */
  private async deliveryWriteRound(
    items: readonly EtagWrite[],
    pending: number[],
    out: (void | Error)[],
    round: number,
  ): Promise<number[]> {
    const ids = [...new Set(pending.map((i) => (items[i] as EtagWrite).deliveryId))];
    const etags = await this.etags(ids, `read ETag of ${ids.length} deliveries`);
    const ready = pending.filter((i) => {
      const item = items[i] as EtagWrite;
      const etag = etags.get(item.deliveryId);
      if (etag instanceof Error)
        out[i] = new ShipsyncError(etag.code, `${item.what}: ${etag.message}`, etag.details);
      return typeof etag === 'string';
    });
    if (ready.length === 0) return [];
    const answers = await this.batch(
      ERP_PATHS.delivery,
      ready.map((i) => {
        const item = items[i] as EtagWrite;
        return {
          changeset: [
            {
              method: item.method,
              url: item.url,
              json: item.data,
              headers: {
                ...this.repeatHeaders(item.key),
                'if-match': etags.get(item.deliveryId) as string,
              },
            },
          ],
        };
      }),
      `${(items[ready[0] as number] as EtagWrite).what} and ${ready.length - 1} more`,
    );
    const retry: number[] = [];
    ready.forEach((i, k) => {
      const item = items[i] as EtagWrite;
      try {
        this.changesetOutcome(answers[k] as BatchPartAnswer, item.what);
        out[i] = undefined;
      } catch (err) {
        if (round === 1 && err instanceof ShipsyncError && err.code === 'ERP_PRECONDITION_FAILED') {
          this.logger.info(
            { deliveryId: item.deliveryId, what: item.what },
            'ETag stale; reading the delivery again and retrying once',
          );
          retry.push(i);
        } else out[i] = err as Error;
      }
    });
    return retry;
  }

  /** The current ETags of deliveries, read with one `$batch` of GETs (an error for a delivery that failed). */
  private async etags(ids: string[], what: string): Promise<Map<string, string | ShipsyncError>> {
    const answers = await this.batch(
      ERP_PATHS.delivery,
      ids.map((id) => ({
        get: {
          method: 'GET',
          url: `A_OutbDeliveryHeader(${quoteKey(id)})${query({ $select: 'DeliveryDocument', $format: 'json' })}`,
        },
      })),
      what,
    );
    const out = new Map<string, string | ShipsyncError>();
    ids.forEach((id, k) => {
      const res = (answers[k] as BatchPartAnswer).responses[0] as BatchPartResponse;
      try {
        out.set(id, this.etagOf(res, id, `read delivery ${id}`));
      } catch (err) {
        if (!(err instanceof ShipsyncError)) throw err;
        out.set(id, err);
      }
    });
    return out;
  }

  /** `Repeatability-Request-ID` derived from the idempotency key, and the first-sent date. */
  private repeatHeaders(key: string): Record<string, string> {
    return {
      'repeatability-request-id': repeatabilityRequestId(key),
      'repeatability-first-sent': new Date().toUTCString(),
    };
  }

  /**
   * One `POST <service>/$batch` with the session's CSRF token (fetched again once when the ERP refuses it);
   * returns one answer per part. A refusal of the whole batch (429, 503, CSRF twice, ...) throws, so every
   * call in it fails with that error.
   */
  private async batch(service: string, parts: BatchPart[], what: string): Promise<BatchPartAnswer[]> {
    const { contentType, body } = buildBatchRequest(parts);
    for (let attempt = 1; ; attempt++) {
      const token = await this.token();
      const res = await this.send(
        'POST',
        `${service}/$batch`,
        {
          data: body,
          headers: { 'content-type': contentType, accept: 'multipart/mixed', 'x-csrf-token': token },
          text: true,
        },
        what,
      );
      if (res.status === 202 || res.status === 200) {
        const answers = parseBatchResponse(String(res.headers['content-type'] ?? ''), res.data);
        if (answers.length !== parts.length)
          throw new ShipsyncError(
            'VALIDATION_FAILED',
            `${what}: the ERP answered ${answers.length} part(s) to a $batch of ${parts.length}`,
            { field: '$batch' },
          );
        return answers;
      }
      const answer = { ...res, data: jsonOrText(res.data) };
      if (isCsrfRejection(answer) && attempt === 1) {
        this.logger.debug({ what }, 'CSRF token rejected; fetching a new one');
        if (this.csrfToken === token) this.csrfToken = undefined;
        this.cookies.clear();
        continue;
      }
      throw classifyResponse(answer, what);
    }
  }

  /** Milestones of these deliveries: `$filter` on DeliveryDocument, 40 deliveries a request, every page. */
  async listMilestones(deliveryIds: string[]): Promise<ErpMilestoneRecord[]> {
    const rows = await this.readByDeliveries(
      `${ERP_PATHS.milestone}/YY1_ShipmentMilestone`,
      'DeliveryDocument',
      deliveryIds,
      'list milestones',
    );
    return rows.map(milestoneFromOData);
  }

  /** Billing document requests of these deliveries: `$filter` on ReferenceDocument, every page. */
  async listBillingRequests(deliveryIds: string[]): Promise<ErpBillingRecord[]> {
    const rows = await this.readByDeliveries(
      `${ERP_PATHS.billing}/A_BillingDocumentRequest`,
      'ReferenceDocument',
      deliveryIds,
      'list billing requests',
    );
    return rows.map(billingFromOData);
  }

  /**
   * Reads an entity set filtered to some deliveries, in chunks (a gateway limits the URL length) and pages:
   * the server's `__next` link (`$skiptoken`) is followed until there is none.
   */
  private async readByDeliveries(
    set: string,
    property: string,
    deliveryIds: string[],
    what: string,
  ): Promise<unknown[]> {
    for (const id of deliveryIds) this.checkId(id);
    const out: unknown[] = [];
    for (let i = 0; i < deliveryIds.length; i += FILTER_CHUNK) {
      const chunk = deliveryIds.slice(i, i + FILTER_CHUNK);
      let url: string | undefined =
        set +
        // No $top: the gateway pages on its own and links the next page (`__next` with `$skiptoken`).
        query({ $filter: deliveriesFilter(property, chunk), $format: 'json' });
      for (let page = 0; url !== undefined && page < MAX_READ_PAGES; page++) {
        const res = await this.send('GET', url, {}, what);
        if (res.status !== 200) throw classifyResponse(res, what);
        const d = (res.data as { d?: { results?: unknown; __next?: unknown } } | null)?.d;
        if (!d || !Array.isArray(d.results)) {
          throw new ShipsyncError('VALIDATION_FAILED', `${what}: the ERP answer has no d.results array`, {
            field: 'd.results',
          });
        }
        out.push(...(d.results as unknown[]));
        url = typeof d.__next === 'string' ? this.relative(d.__next) : undefined;
      }
    }
    return out;
  }

  /** A `__next` link made relative to the adapter's base URL (the gateway may name itself by another host). */
  private relative(link: string): string {
    if (!/^https?:\/\//i.test(link)) return link;
    const u = new URL(link);
    return `${u.pathname}${u.search}`;
  }

  /** The ERP's prices valid on a date, from the cached condition records (read again after the TTL). */
  async priceList(at: string): Promise<PriceList> {
    const atMs = Date.parse(at);
    if (!Number.isFinite(atMs))
      throw new ShipsyncError('VALIDATION_FAILED', 'pricing date must be an ISO instant', { field: 'at' });
    return priceListAt(await this.conditions.rows(), atMs);
  }

  /** Reads every freight condition record not flagged deleted, following the pages. */
  private async readConditionRecords(): Promise<ConditionRow[]> {
    const rows: ConditionRow[] = [];
    for (let page = 0; page < MAX_CONDITION_PAGES; page++) {
      const url =
        `${ERP_PATHS.pricing}/A_SlsPrcgConditionRecord` +
        query({
          $filter: conditionRecordsFilter(),
          $select: CONDITION_SELECT,
          $orderby: 'ConditionRecord asc',
          $top: MAX_PAGE_SIZE,
          $skip: page * MAX_PAGE_SIZE || undefined,
          $format: 'json',
        });
      const res = await this.send('GET', url, {}, 'read pricing condition records');
      if (res.status !== 200) throw classifyResponse(res, 'read pricing condition records');
      const { rows: more } = conditionRowsFrom(res.data);
      rows.push(...more);
      if (more.length < MAX_PAGE_SIZE) return rows;
    }
    return rows;
  }

  private headerPath(deliveryId: string): string {
    this.checkId(deliveryId);
    return `${ERP_PATHS.delivery}/A_OutbDeliveryHeader(${quoteKey(deliveryId)})`;
  }

  private checkId(deliveryId: string) {
    if (!DELIVERY_ID.test(deliveryId)) {
      throw new ShipsyncError(
        'VALIDATION_FAILED',
        `"${deliveryId.slice(0, 30)}" is not an ERP delivery number`,
        { field: 'deliveryId' },
      );
    }
  }

  /** Sends one request with the session cookies; network failures and timeouts become ERP_UNAVAILABLE. */
  private async send(
    method: string,
    url: string,
    opts: { data?: unknown; headers?: Record<string, string>; text?: boolean },
    what: string,
  ): Promise<AxiosResponse> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let res: AxiosResponse;
    try {
      const bearer = this.oauth ? await this.oauth.token() : undefined;
      const request = (token: string | undefined) =>
        this.pacer.add(() =>
          this.http.request({
            method,
            url,
            data: opts.data,
            ...(opts.text ? { responseType: 'text' as const, transformResponse: (d: unknown) => d } : {}),
            headers: {
              ...(cookie ? { cookie } : {}),
              ...(token ? { authorization: `Bearer ${token}` } : {}),
              ...opts.headers,
            },
          }),
        );
      res = await request(bearer);
      // A token the server no longer honours (revoked, server restarted) is replaced once.
      if (res.status === 401 && this.oauth && bearer) {
        this.oauth.invalidate(bearer);
        res = await request(await this.oauth.token());
      }
    } catch (err) {
      if (isAxiosError(err)) {
        throw new ShipsyncError(
          'ERP_UNAVAILABLE',
          `${what}: ERP unreachable (${err.code ?? err.message})`,
          {},
        );
      }
      throw err;
    }
    const setCookie = res.headers['set-cookie'];
    for (const line of Array.isArray(setCookie) ? setCookie : []) {
      const pair = line.split(';')[0] ?? '';
      const eq = pair.indexOf('=');
      if (eq > 0) this.cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    return res;
  }

  /** The session's CSRF token, fetched once and shared by concurrent writers. */
  private async token(): Promise<string> {
    if (this.csrfToken) return this.csrfToken;
    this.csrfFetch ??= (async () => {
      const res = await this.send(
        'GET',
        `${ERP_PATHS.delivery}/`,
        { headers: { 'x-csrf-token': 'Fetch' } },
        'fetch CSRF token',
      );
      if (res.status !== 200) throw classifyResponse(res, 'fetch CSRF token');
      const token = res.headers['x-csrf-token'];
      if (typeof token !== 'string' || token === '' || token.toLowerCase() === 'required') {
        throw new ShipsyncError('ERP_CSRF_REJECTED', 'fetch CSRF token: the ERP returned no token', {
          status: res.status,
        });
      }
      this.csrfToken = token;
      return token;
    })().finally(() => {
      this.csrfFetch = undefined;
    });
    return this.csrfFetch;
  }

  /** The ETag of a delivery read: the `ETag` header, or `__metadata.etag` in the body. */
  private etagOf(res: ErpAnswer, deliveryId: string, what: string): string {
    if (res.status !== 200) throw classifyResponse(res, what);
    const header = res.headers.etag;
    const fromBody = (res.data as { d?: { __metadata?: { etag?: unknown } } } | null)?.d?.__metadata?.etag;
    const etag =
      typeof header === 'string' && header ? header : typeof fromBody === 'string' ? fromBody : undefined;
    if (!etag)
      throw new ShipsyncError(
        'VALIDATION_FAILED',
        `${what}: the ERP returned no ETag for delivery ${deliveryId}`,
        { field: 'ETag' },
      );
    return etag;
  }
}

/** A text body parsed as JSON when it is JSON (an error answer to a `$batch`), else as it is. */
function jsonOrText(data: unknown): unknown {
  if (typeof data !== 'string' || data.trim() === '') return data;
  try {
    return JSON.parse(data);
  } catch {
    return data;
  }
}

/** Creates the ERP adapter for a gateway base URL. */
export function createErpAdapter(opts: SapErpAdapterOptions): SapErpAdapter {
  return new SapErpAdapter(opts);
}
