import { setTimeout as sleep } from 'node:timers/promises';
import axios, { isAxiosError, type AxiosInstance } from 'axios';
import PQueue from 'p-queue';
import { z } from 'zod';
import { ShipsyncError } from '../../domain/errors.js';
import type { ExceptionKind } from '../../domain/model.js';
import type { CaseRef, CaseView, CrmPort } from '../ports.js';
import { classifyZendeskFailure } from './errors.js';
import {
  DEFAULT_FIELD_IDS,
  NOTIFICATION_TAG,
  ZendeskComment,
  ZendeskTicket,
  caseToTicketCreate,
  closeCaseUpdate,
  commentKey,
  fieldValue,
  noticeCommentUpdate,
  noticeThreadCreate,
  ticketToCase,
  priorityUpdate,
  replyCommentUpdate,
  type NotifyCustomerInput,
  type OpenCaseInput,
  type ZendeskFieldIds,
} from './mappers.js';
import type { BulkOptions } from '../bulk.js';

/** A case ticket as the CRM records it, in ISO-8601 instants of the CRM's clock. */
export interface CrmCaseRecord {
  caseId: string;
  kind: ExceptionKind;
  status: string;
  openedAt: string;
  resolvedAt?: string;
}

/** Options of the Zendesk CRM adapter. */
export interface CrmAdapterOptions {
  /** Zendesk base URL, e.g. `https://acme.zendesk.com` or the sandbox's `http://127.0.0.1:4003`. */
  baseUrl: string;
  /** Agent email for API-token authentication (`{email}/token:{token}`). */
  email?: string;
  /** API token; with no email it is sent as an OAuth bearer token. */
  token?: string;
  /** Per-request timeout; a timeout is classified CRM_UNAVAILABLE. */
  timeoutMs?: number;
  /** Ticket field ids of the target account. */
  fieldIds?: Partial<ZendeskFieldIds>;
  /**
   * API requests per minute this adapter sends at most (Zendesk meters the whole account per minute). Requests
   * beyond it wait their turn instead of drawing 429s; each worker process needs its share of the plan's limit.
   */
  requestsPerMinute?: number;
  /** How concurrent calls are coalesced into the vendor's bulk requests (DEFAULT_BULK when unset). */
  bulk?: BulkOptions;
}

const PAGE_SIZE = 100;
/** Safety stop for cursor walks, far above any real shipment's ticket or comment count. */
const MAX_PAGES = 60;

const TicketEnvelope = z.object({ ticket: ZendeskTicket });
const CursorMeta = z
  .object({ has_more: z.boolean().default(false), after_cursor: z.string().nullable().optional() })
  .optional();
const TicketPage = z.object({ tickets: z.array(ZendeskTicket), meta: CursorMeta });
const CommentPage = z.object({ comments: z.array(ZendeskComment), meta: CursorMeta });

function authHeader(email: string | undefined, token: string | undefined): string {
  if (token && !email) return `Bearer ${token}`;
  const user = email ?? 'shipsync@sandbox.zendesk.test';
  return `Basic ${Buffer.from(`${user}/token:${token ?? 'sandbox'}`).toString('base64')}`;
}

function parse<T>(schema: z.ZodType<T>, data: unknown, context: string): T {
  const result = schema.safeParse(data);
  if (!result.success) {
    throw new ShipsyncError('CRM_REJECTED', `${context}: unexpected Zendesk response shape`, { body: data });
  }
  return result.data;
}

/**
 * CrmPort over the Zendesk Support API. Cases are tickets (one per case, external_id = shipment id, a kind
 * tag, created with an Idempotency-Key). Customer notices are public comments on the case ticket or on one
 * notice ticket per shipment; Zendesk comments take no idempotency key, so each carries its key in the
 * audit's custom metadata and the adapter reads the ticket's comments before adding one.
 */
export class ZendeskCrmAdapter implements CrmPort {
  /** Paces requests so that no rolling minute carries more than the budget. */
  private readonly pacer: PQueue;
  private resumeAt = 0;

  constructor(
    private readonly http: AxiosInstance,
    private readonly ids: ZendeskFieldIds = DEFAULT_FIELD_IDS,
    requestsPerMinute = Infinity,
  ) {
    // Ten rolling windows a minute (fewer for tiny budgets): smooth, and never more than the budget in any minute.
    const windows = Math.max(1, Math.min(10, Math.floor(requestsPerMinute)));
    this.pacer = Number.isFinite(requestsPerMinute)
      ? new PQueue({
          intervalCap: Math.floor(requestsPerMinute / windows),
          interval: 60_000 / windows,
          strict: true,
        })
      : new PQueue();
  }

  /** Opens a case ticket, or returns the one an earlier call with the same key opened. */
  async openCase(input: OpenCaseInput): Promise<CaseRef> {
    const context = `open ${input.kind} case for ${input.shipmentId}`;
    // Zendesk forgets idempotency keys after 2 h; the key kept in a ticket field covers later retries. A
    // first try has nothing to find, and the Idempotency-Key header still guards it.
    const earlier = input.firstTry
      ? undefined
      : (await this.ticketsFor(input.shipmentId, context)).find(
          (t) => fieldValue(t, this.ids.idempotencyKey) === input.idempotencyKey,
        );
    if (earlier) {
      if (fieldValue(earlier, this.ids.caseKind) !== input.kind) {
        throw new ShipsyncError(
          'CRM_IDEMPOTENCY_CONFLICT',
          `${context}: key ${input.idempotencyKey} already opened ticket ${earlier.id} for another kind`,
        );
      }
      return { caseId: String(earlier.id) };
    }
    const res = await this.call(context, () =>
      this.http.post('/api/v2/tickets.json', caseToTicketCreate(input, this.ids), {
        headers: { 'idempotency-key': input.idempotencyKey },
      }),
    );
    return { caseId: String(parse(TicketEnvelope, res.data, context).ticket.id) };
  }

  /** Adds the notice as a public comment, once per idempotency key. */
  async notifyCustomer(input: NotifyCustomerInput): Promise<void> {
    const context = `notify customer of ${input.shipmentId}`;
    const ticketId = input.caseId
      ? this.ticketId(input.caseId, context)
      : await this.noticeThread(input, context);
    // Comments take no idempotency key: a retry looks for its own comment first; a first try cannot find one.
    if (!input.firstTry && (await this.hasCommentWithKey(ticketId, input.idempotencyKey, context))) return;
    await this.call(context, () =>
      this.http.put(`/api/v2/tickets/${ticketId}.json`, noticeCommentUpdate(input)),
    );
  }

  /** Solves the case with an internal comment; a case already solved or closed is left as it is. */
  async closeCase(caseId: string, resolution: string, idempotencyKey: string): Promise<void> {
    const context = `close case ${caseId}`;
    const id = this.ticketId(caseId, context);
    const res = await this.call(context, () => this.http.get(`/api/v2/tickets/${id}.json`));
    const ticket = parse(TicketEnvelope, res.data, context).ticket;
    if (ticket.status === 'solved' || ticket.status === 'closed') return;
    await this.call(context, () =>
      this.http.put(`/api/v2/tickets/${id}.json`, closeCaseUpdate(resolution, idempotencyKey)),
    );
  }

  /** The shipment's tickets (cases and the notice thread) by external id, every cursor page. */
  async listCases(shipmentId: string): Promise<CaseView[]> {
    const tickets = await this.ticketsFor(shipmentId, `list cases of ${shipmentId}`);
    return tickets.map((t) => {
      const kind = fieldValue(t, this.ids.caseKind);
      return {
        caseId: String(t.id),
        ...(typeof kind === 'string' && kind ? { kind } : {}),
        status: t.status,
        noticeThread: t.tags.includes(NOTIFICATION_TAG),
      };
    });
  }

  /** Answers the customer on their own ticket with a public comment, once per idempotency key. */
  async replyOnTicket(input: Parameters<CrmPort['replyOnTicket']>[0]): Promise<void> {
    const context = `reply on ticket ${input.ticketId}`;
    const id = this.ticketId(input.ticketId, context);
    if (!input.firstTry && (await this.hasCommentWithKey(id, input.idempotencyKey, context))) return;
    await this.call(context, () =>
      this.http.put(`/api/v2/tickets/${id}.json`, replyCommentUpdate(input.message, input.idempotencyKey)),
    );
  }

  /** Raises a case's priority with an internal note; a case already solved, or already that urgent, is left. */
  async raiseCasePriority(input: Parameters<CrmPort['raiseCasePriority']>[0]): Promise<void> {
    const context = `raise priority of case ${input.caseId}`;
    const id = this.ticketId(input.caseId, context);
    const res = await this.call(context, () => this.http.get(`/api/v2/tickets/${id}.json`));
    const ticket = parse(TicketEnvelope, res.data, context).ticket;
    if (ticket.status === 'solved' || ticket.status === 'closed') return;
    if (ticket.priority === input.priority) return;
    await this.call(context, () =>
      this.http.put(
        `/api/v2/tickets/${id}.json`,
        priorityUpdate(input.priority, input.note, input.idempotencyKey),
      ),
    );
  }

  private ticketId(caseId: string, context: string): number {
    if (!/^\d{1,18}$/.test(caseId)) {
      throw new ShipsyncError('CRM_TICKET_NOT_FOUND', `${context}: "${caseId}" is not a Zendesk ticket id`);
    }
    return Number(caseId);
  }

  /** The shipment's open notice ticket, created (idempotently) when there is none. */
  private async noticeThread(input: NotifyCustomerInput, context: string): Promise<number> {
    const threads = (await this.ticketsFor(input.shipmentId, context)).filter((t) =>
      t.tags.includes(NOTIFICATION_TAG),
    );
    const open = threads.find((t) => t.status !== 'closed');
    if (open) return open.id;
    // A closed ticket takes no comments; a follow-up thread gets its own key.
    const closed = threads[threads.length - 1];
    const key = closed
      ? `${input.shipmentId}:notice-thread:after-${closed.id}`
      : `${input.shipmentId}:notice-thread`;
    const res = await this.call(context, () =>
      this.http.post('/api/v2/tickets.json', noticeThreadCreate(input, this.ids), {
        headers: { 'idempotency-key': key },
      }),
    );
    return parse(TicketEnvelope, res.data, context).ticket.id;
  }

  /** Every ticket whose external_id is the shipment id, walking the cursor pages. */
  private async ticketsFor(shipmentId: string, context: string): Promise<ZendeskTicket[]> {
    const out: ZendeskTicket[] = [];
    let after: string | undefined;
    for (let i = 0; i < MAX_PAGES; i++) {
      const res = await this.call(context, () =>
        this.http.get('/api/v2/tickets.json', {
          params: {
            external_id: shipmentId,
            'page[size]': PAGE_SIZE,
            ...(after ? { 'page[after]': after } : {}),
          },
        }),
      );
      const page = parse(TicketPage, res.data, context);
      out.push(...page.tickets);
      if (!page.meta?.has_more || !page.meta.after_cursor) break;
      after = page.meta.after_cursor;
    }
    return out;
  }

  /**
   * The case tickets of a shipment with their times, as the CRM records them: opened at the ticket's
   * creation, resolved at its last update once solved or closed. A read for the read model (its rebuild and
   * the reconciliation at a shipment's close); no side effect.
   */
  async caseTicketsOf(shipmentId: string): Promise<CrmCaseRecord[]> {
    const out: CrmCaseRecord[] = [];
    for (const ticket of await this.ticketsFor(shipmentId, 'list case tickets')) {
      const c = ticketToCase(ticket, this.ids);
      if (!c || c.shipmentId !== shipmentId || !ticket.created_at) continue;
      const resolved = c.status === 'solved' || c.status === 'closed';
      out.push({
        caseId: String(ticket.id),
        kind: c.kind,
        status: c.status,
        openedAt: new Date(ticket.created_at).toISOString(),
        ...(resolved && ticket.updated_at ? { resolvedAt: new Date(ticket.updated_at).toISOString() } : {}),
      });
    }
    return out;
  }

  private async hasCommentWithKey(ticketId: number, key: string, context: string): Promise<boolean> {
    let after: string | undefined;
    for (let i = 0; i < MAX_PAGES; i++) {
      const res = await this.call(context, () =>
        this.http.get(`/api/v2/tickets/${ticketId}/comments.json`, {
          params: { 'page[size]': PAGE_SIZE, ...(after ? { 'page[after]': after } : {}) },
        }),
      );
      const page = parse(CommentPage, res.data, context);
      if (page.comments.some((c) => commentKey(c) === key)) return true;
      if (!page.meta?.has_more || !page.meta.after_cursor) return false;
      after = page.meta.after_cursor;
    }
    return false;
  }

  private async call<T>(context: string, request: () => Promise<T>): Promise<T> {
    try {
      return await this.pacer.add(async () => {
        // After a 429 (another client used the account's budget) nothing goes out until Retry-After has passed.
        const hold = this.resumeAt - Date.now();
        if (hold > 0) await sleep(hold);
        return request();
      });
    } catch (err) {
      if (isAxiosError(err) && err.response?.status === 429) {
        const seconds = Math.min(120, Math.max(1, Number(err.response.headers['retry-after']) || 1));
        this.resumeAt = Math.max(this.resumeAt, Date.now() + seconds * 1000);
      }
      throw classifyZendeskFailure(err, context);
    }
  }
}

/** Builds the Zendesk CRM adapter with its HTTP client. */
export function createCrmAdapter(opts: CrmAdapterOptions): ZendeskCrmAdapter {
  const http = axios.create({
    baseURL: opts.baseUrl.replace(/\/+$/, ''),
    timeout: opts.timeoutMs ?? 10_000,
    headers: {
      authorization: authHeader(opts.email, opts.token),
      accept: 'application/json',
      'content-type': 'application/json',
    },
  });
  return new ZendeskCrmAdapter(http, { ...DEFAULT_FIELD_IDS, ...opts.fieldIds }, opts.requestsPerMinute);
}
