import { setTimeout as sleep } from 'node:timers/promises';
import axios, { isAxiosError, type AxiosInstance } from 'axios';
import PQueue from 'p-queue';
import { z } from 'zod';
import { ShipsyncError } from '../../domain/errors.js';
import type { ExceptionKind } from '../../domain/model.js';
import type { CaseRef, CaseView, CreateJobMemory, CreateJobRef, CrmPort, NoticeRef } from '../ports.js';
import { classifyZendeskFailure, classifyZendeskJobResult, classifyZendeskResponse } from './errors.js';
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
import type { Config } from '../../platform/config.js';
import { vendorCredentialsFromConfig } from '../auth-check.js';
import {
  DEFAULT_BULK,
  bulkFromConfig,
  bulkOperation,
  type BulkOperation,
  type BulkOptions,
} from '../bulk.js';

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
  /** How a bulk job is awaited (DEFAULT_JOB_WAIT when unset). */
  jobWait?: Partial<JobWait>;
}

/** Zendesk's own limit of tickets in one `create_many`, `update_many` or `show_many` request. */
export const ZENDESK_BULK_LIMIT = 100;

/** How the adapter awaits a bulk job: polls of `job_statuses/{id}`, each a request against the budget. */
export interface JobWait {
  /** Wait before the first poll; each further poll waits twice as long, at most `maxPollMs`. */
  firstPollMs: number;
  maxPollMs: number;
  /** Longest wait for a job; a job still queued or working then fails its calls as CRM_UNAVAILABLE (retried). */
  timeoutMs: number;
  /**
   * Polls fall on a grid of this many milliseconds shared by all jobs (a poll waits until the next grid point
   * after its own wait), so jobs started close together are polled in one `job_statuses/show_many`. 0: no grid.
   */
  pollTickMs: number;
}

/** Zendesk usually finishes a small job within a second or two; a shipment activity has 30 s in all. */
export const DEFAULT_JOB_WAIT: JobWait = {
  firstPollMs: 250,
  maxPollMs: 2_000,
  timeoutMs: 20_000,
  pollTickMs: 250,
};

/**
 * Entries each of the adapter's memories keeps (notice threads by shipment, unfinished creates by key), the
 * oldest forgotten first.
 */
const MEMORY_SIZE = 10_000;

/** Sets `key` as the newest entry of `map` and forgets the oldest beyond MEMORY_SIZE. */
function remember<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > MEMORY_SIZE) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
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
const TicketList = z.object({ tickets: z.array(ZendeskTicket) });
const JobResult = z
  .object({
    index: z.number().int().optional(),
    id: z.number().int().nullable().optional(),
    success: z.boolean().optional(),
    status: z.string().optional(),
    error: z.unknown().optional(),
    details: z.unknown().optional(),
  })
  .loose();
const JobStatus = z.object({
  id: z.string().min(1),
  status: z.string(),
  message: z.string().nullable().optional(),
  results: z.array(JobResult).nullable().optional(),
});
type JobStatus = z.infer<typeof JobStatus>;
type JobResult = z.infer<typeof JobResult>;
const JobEnvelope = z.object({ job_status: JobStatus });
const JobList = z.object({ job_statuses: z.array(JobStatus) });

/** One ticket create: the body of a single create, its Idempotency-Key, and the caller's context for errors. */
interface CreateItem {
  body: { ticket: Record<string, unknown> };
  idempotencyKey: string;
  context: string;
  /** Told the job and index once the create is in a `create_many` job. */
  started?: (job: CreateJobRef) => void;
}

/** One ticket update: the ticket, the body of a single update, and the caller's context for errors. */
interface UpdateItem {
  id: number;
  body: { ticket: Record<string, unknown> };
  context: string;
}

/** One ticket read. */
interface ReadItem {
  id: number;
  context: string;
}

/** A job's result for an item, or that item's own typed error. */
function resultOrError(
  result: JobResult | undefined,
  context: string,
  ok: (r: JobResult) => boolean,
): JobResult | ShipsyncError {
  if (!result) {
    return new ShipsyncError('CRM_UNAVAILABLE', `${context}: the Zendesk job answered nothing for this item`);
  }
  if (result.error === undefined && ok(result)) return result;
  return classifyZendeskJobResult(result, context);
}

/** Zendesk refused to change a closed ticket (`Status: closed prevents ticket update`). */
function isClosedRefusal(err: unknown): boolean {
  return (
    err instanceof ShipsyncError &&
    err.code === 'CRM_REJECTED' &&
    err.details.field === 'status' &&
    /closed/i.test(`${err.message} ${JSON.stringify(err.details.body ?? '')}`)
  );
}

function authHeader(email: string | undefined, token: string | undefined): string {
  if (token && !email) return `Bearer ${token}`;
  const user = email ?? 'shipsync@sandbox.zendesk.test';
  return `Basic ${Buffer.from(`${user}/token:${token ?? 'sandbox'}`).toString('base64')}`;
}

function isNotFound(err: unknown): boolean {
  return err instanceof ShipsyncError && err.code === 'CRM_TICKET_NOT_FOUND';
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
 * tag, the idempotency key in a ticket field). Customer notices are public comments on the case ticket or on
 * one notice ticket per shipment; Zendesk comments take no idempotency key, so each carries its key in the
 * audit's custom metadata and a retry reads the ticket's comments before adding one. Concurrent creates,
 * updates and reads of one worker share Zendesk's bulk requests (create_many, update_many, show_many).
 */
export class ZendeskCrmAdapter implements CrmPort {
  /** Paces requests so that no rolling minute carries more than the budget. */
  private readonly pacer: PQueue;
  private resumeAt = 0;
  /** Ticket creates, coalesced into `create_many` (a lone one is a single create with its Idempotency-Key). */
  private readonly creates: BulkOperation<CreateItem, number>;
  /** Ticket updates, coalesced into `update_many` (a lone one is a single update). */
  private readonly updates: BulkOperation<UpdateItem, void>;
  /** Ticket reads, coalesced into `show_many` (a lone one is a single read). */
  private readonly reads: BulkOperation<ReadItem, ZendeskTicket>;
  /** Polls of concurrent jobs, coalesced into `job_statuses/show_many` (a lone one is a single poll). */
  private readonly polls: BulkOperation<string, JobStatus>;
  private readonly jobWait: JobWait;
  /** Each shipment's notice thread as last found or opened by this worker. */
  private readonly threads = new Map<string, number>();
  /** Thread lookups under way, so concurrent notices of one shipment share one. */
  private readonly threadLookups = new Map<string, Promise<number>>();
  /**
   * Creates whose `create_many` job was still queued or working when its calls gave up, by idempotency key:
   * the job and the item's index in it. A retry awaits that job rather than create the ticket a second time.
   */
  private readonly unfinished = new Map<string, { jobId: string; index: number }>();

  constructor(
    private readonly http: AxiosInstance,
    private readonly ids: ZendeskFieldIds = DEFAULT_FIELD_IDS,
    requestsPerMinute = Infinity,
    opts: { bulk?: BulkOptions; jobWait?: Partial<JobWait> } = {},
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
    const bulk = opts.bulk ?? DEFAULT_BULK;
    // Creates, updates and reads close their windows together, so the jobs of one moment share their polls.
    const capped = { ...bulk, maxItems: Math.min(bulk.maxItems, ZENDESK_BULK_LIMIT), aligned: true };
    // A batch goes out once the pacing has room: under load, calls gather behind the pace into one request.
    const ready = () => this.paceHasRoom();
    this.creates = bulkOperation((items) => this.sendCreates(items), capped, ready);
    this.updates = bulkOperation((items) => this.sendUpdates(items), capped, ready);
    this.reads = bulkOperation((items) => this.sendReads(items), capped, ready);
    // Polls are spaced by the job wait already: they share a request with the polls due at the same moment.
    this.polls = bulkOperation(
      (ids) => this.sendPolls(ids),
      { ...capped, windowMs: DEFAULT_BULK.windowMs, aligned: false },
      ready,
    );
    this.jobWait = { ...DEFAULT_JOB_WAIT, ...opts.jobWait };
  }

  /** Resolves when a request would go out at once: no Retry-After hold, nothing waiting for the pace. */
  private async paceHasRoom(): Promise<void> {
    for (;;) {
      const hold = this.resumeAt - Date.now();
      if (hold > 0) await sleep(hold);
      else if (this.pacer.size > 0) await this.pacer.onEmpty();
      else return;
    }
  }

  /** Bulk requests sent and the items they carried, per operation. */
  bulkStats() {
    return {
      creates: this.creates.stats,
      updates: this.updates.stats,
      reads: this.reads.stats,
      polls: this.polls.stats,
    };
  }

  /** Opens a case ticket, or returns the one an earlier call with the same key opened. */
  async openCase(input: OpenCaseInput): Promise<CaseRef> {
    const context = `open ${input.kind} case for ${input.shipmentId}`;
    // Zendesk forgets idempotency keys after 2 h, and a create sent in a create_many carries none: the key
    // kept in a ticket field is what a retry finds. A first try has nothing to find (a lone one still goes
    // with its Idempotency-Key).
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
    const id = await this.createTicket(
      { body: caseToTicketCreate(input, this.ids), idempotencyKey: input.idempotencyKey, context },
      input.createJobs,
    );
    return { caseId: String(id) };
  }

  /**
   * Adds the notice as a public comment, once per idempotency key, on the case's ticket or the shipment's
   * notice ticket: the one the caller names, else the one this worker remembers, else the one found or
   * opened. A shipment's first notice on a first try opens that ticket with the notice as its first comment.
   */
  async notifyCustomer(input: NotifyCustomerInput): Promise<NoticeRef> {
    const context = `notify customer of ${input.shipmentId}`;
    if (input.caseId) {
      const ticketId = this.ticketId(input.caseId, context);
      await this.addNotice(ticketId, input, context);
      return { ticketId: String(ticketId), thread: false };
    }
    const named = input.threadId === undefined ? undefined : this.ticketId(input.threadId, context);
    const known = named ?? this.threads.get(input.shipmentId);
    if (
      known === undefined &&
      input.firstNotice &&
      input.firstTry &&
      !this.threadLookups.has(input.shipmentId)
    ) {
      const opened = this.rememberThread(
        input.shipmentId,
        this.createTicket(
          {
            body: noticeThreadCreate(input, this.ids, input),
            idempotencyKey: `${input.shipmentId}:notice-thread`,
            context,
          },
          input.createJobs,
        ),
      );
      return { ticketId: String(await opened), thread: true };
    }
    const ticketId = known ?? (await this.noticeThread(input, context));
    try {
      await this.addNotice(ticketId, input, context);
      return { ticketId: String(ticketId), thread: true };
    } catch (err) {
      // The thread named or remembered was closed or deleted since: find or open the shipment's thread again.
      if (known === undefined || !(isClosedRefusal(err) || isNotFound(err))) throw err;
      this.threads.delete(input.shipmentId);
      const again = await this.noticeThread(input, context);
      await this.addNotice(again, input, context);
      return { ticketId: String(again), thread: true };
    }
  }

  private async addNotice(ticketId: number, input: NotifyCustomerInput, context: string): Promise<void> {
    // Comments take no idempotency key: a retry looks for its own comment first; a first try cannot find one.
    if (!input.firstTry && (await this.hasCommentWithKey(ticketId, input.idempotencyKey, context))) return;
    await this.updates.submit({ id: ticketId, body: noticeCommentUpdate(input), context });
  }

  /** Solves the case with an internal comment; a case already solved or closed is left as it is. */
  async closeCase(caseId: string, resolution: string, idempotencyKey: string): Promise<void> {
    const context = `close case ${caseId}`;
    const id = this.ticketId(caseId, context);
    // Zendesk solves a solved ticket again (another closing comment), so the read stays; reads are shared too.
    const ticket = await this.reads.submit({ id, context });
    if (ticket.status === 'solved' || ticket.status === 'closed') return;
    try {
      await this.updates.submit({ id, body: closeCaseUpdate(resolution, idempotencyKey), context });
    } catch (err) {
      // Closed between the read and the update (only a solved ticket closes): the case is closed already.
      if (isClosedRefusal(err)) return;
      throw err;
    }
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
    await this.updates.submit({ id, body: replyCommentUpdate(input.message, input.idempotencyKey), context });
  }

  /** Raises a case's priority with an internal note; a case already solved, or already that urgent, is left. */
  async raiseCasePriority(input: Parameters<CrmPort['raiseCasePriority']>[0]): Promise<void> {
    const context = `raise priority of case ${input.caseId}`;
    const id = this.ticketId(input.caseId, context);
    // Both the read and the change share Zendesk's bulk requests with the other calls of the moment.
    const ticket = await this.reads.submit({ id, context });
    if (ticket.status === 'solved' || ticket.status === 'closed') return;
    if (ticket.priority === input.priority) return;
    await this.updates.submit({
      id,
      body: priorityUpdate(input.priority, input.note, input.idempotencyKey),
      context,
    });
  }

  private ticketId(caseId: string, context: string): number {
    if (!/^\d{1,18}$/.test(caseId)) {
      throw new ShipsyncError('CRM_TICKET_NOT_FOUND', `${context}: "${caseId}" is not a Zendesk ticket id`);
    }
    return Number(caseId);
  }

  /**
   * The shipment's open notice ticket, created (idempotently) when there is none; remembered, and one lookup
   * at a time per shipment in this worker.
   */
  private noticeThread(input: NotifyCustomerInput, context: string): Promise<number> {
    return (
      this.threadLookups.get(input.shipmentId) ??
      this.rememberThread(input.shipmentId, this.findOrOpenThread(input, context))
    );
  }

  /** Remembers the thread `lookup` finds or opens; concurrent notices of the shipment meanwhile share it. */
  private rememberThread(shipmentId: string, lookup: Promise<number>): Promise<number> {
    const remembered = lookup
      .then((id) => {
        remember(this.threads, shipmentId, id);
        return id;
      })
      .finally(() => this.threadLookups.delete(shipmentId));
    this.threadLookups.set(shipmentId, remembered);
    return remembered;
  }

  private async findOrOpenThread(input: NotifyCustomerInput, context: string): Promise<number> {
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
    return this.createTicket(
      { body: noticeThreadCreate(input, this.ids), idempotencyKey: key, context },
      input.createJobs,
    );
  }

  /**
   * Creates a ticket once per key: when an earlier call's `create_many` job was left unfinished (in this
   * worker, or in the attempt `jobs.earlier` names), its result is what this call gets (still unfinished:
   * CRM_UNAVAILABLE again, nothing sent but the poll). A job Zendesk no longer knows, or one that failed,
   * leaves the create to go out anew; `jobs.started` hears of the job it then goes out in.
   */
  private async createTicket(item: CreateItem, jobs?: CreateJobMemory): Promise<number> {
    const earlier = jobs?.earlier?.key === item.idempotencyKey ? jobs.earlier : undefined;
    const left = this.unfinished.get(item.idempotencyKey) ?? earlier;
    if (left) {
      let job: JobStatus | undefined;
      try {
        job = await this.polls.submit(left.jobId);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      if (job?.status === 'queued' || job?.status === 'working') {
        throw new ShipsyncError(
          'CRM_UNAVAILABLE',
          `${item.context}: Zendesk job ${left.jobId}, which creates this ticket, is still ${job.status}; not creating it again`,
        );
      }
      this.unfinished.delete(item.idempotencyKey);
      if (job?.status === 'completed') {
        const r = resultOrError(
          (job.results ?? []).find((x) => x.index === left.index),
          item.context,
          (x) => typeof x.id === 'number',
        );
        if (r instanceof Error) throw r;
        return r.id as number;
      }
    }
    return this.creates.submit(jobs ? { ...item, started: (job) => jobs.started(job) } : item);
  }

  /** Remembers the items of a job left unfinished (bounded: the oldest are forgotten first). */
  private rememberUnfinished(jobId: string, items: readonly CreateItem[]): void {
    items.forEach((item, index) => remember(this.unfinished, item.idempotencyKey, { jobId, index }));
  }

  /**
   * The tickets of the given ids through the shared reads (concurrent reads of several shipments go out as
   * one `show_many`); a ticket deleted since, or an id that is no ticket's, is left out.
   */
  private async knownTickets(ids: readonly string[], context: string): Promise<ZendeskTicket[]> {
    const read = await Promise.all(
      ids.map(async (id) => {
        try {
          return await this.reads.submit({ id: this.ticketId(id, context), context });
        } catch (err) {
          if (err instanceof ShipsyncError && err.code === 'CRM_TICKET_NOT_FOUND') return undefined;
          throw err;
        }
      }),
    );
    return read.filter((t): t is ZendeskTicket => t !== undefined);
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
   * creation, resolved at its last update once solved or closed. A read for the read model, no side effect:
   * given the case ids a shipment's run opened (its close), it reads those tickets by id, through the shared
   * `show_many`; without them (a rebuild), it lists every ticket of the shipment's external id.
   */
  async caseTicketsOf(shipmentId: string, known?: readonly string[]): Promise<CrmCaseRecord[]> {
    const out: CrmCaseRecord[] = [];
    const tickets = known
      ? await this.knownTickets(known, `read case tickets of ${shipmentId}`)
      : await this.ticketsFor(shipmentId, 'list case tickets');
    for (const ticket of tickets) {
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

  /**
   * Sends a batch of creates: a lone one as a single create with its Idempotency-Key (one request, and
   * Zendesk answers its repeat with the same ticket); more as one `create_many` whose job is then awaited.
   */
  private async sendCreates(items: readonly CreateItem[]): Promise<(number | Error)[]> {
    const [only] = items;
    if (only && items.length === 1) {
      const res = await this.call(only.context, () =>
        this.http.post('/api/v2/tickets.json', only.body, {
          headers: { 'idempotency-key': only.idempotencyKey },
        }),
      );
      return [parse(TicketEnvelope, res.data, only.context).ticket.id];
    }
    const context = `create ${items.length} tickets`;
    const job = await this.runJob(
      context,
      () => this.http.post('/api/v2/tickets/create_many.json', { tickets: items.map((i) => i.body.ticket) }),
      {
        started: (jobId) =>
          items.forEach((item, index) => item.started?.({ jobId, index, key: item.idempotencyKey })),
        unfinished: (jobId) => this.rememberUnfinished(jobId, items),
      },
    );
    const byIndex = new Map((job.results ?? []).map((r) => [r.index, r]));
    return items.map((item, index) => {
      const r = resultOrError(byIndex.get(index), item.context, (x) => typeof x.id === 'number');
      return r instanceof Error ? r : (r.id as number);
    });
  }

  /**
   * Sends a batch of updates: a lone one as a single update; more as one `update_many` with one change per
   * ticket (`{tickets: [{id, ...}]}`), whose job is then awaited.
   */
  private async sendUpdates(items: readonly UpdateItem[]): Promise<(undefined | Error)[]> {
    const [only] = items;
    if (only && items.length === 1) {
      await this.call(only.context, () => this.http.put(`/api/v2/tickets/${only.id}.json`, only.body));
      return [undefined];
    }
    const context = `update ${items.length} tickets`;
    const job = await this.runJob(context, () =>
      this.http.put('/api/v2/tickets/update_many.json', {
        tickets: items.map((i) => ({ ...i.body.ticket, id: i.id })),
      }),
    );
    const results = job.results ?? [];
    // By index when the job gives one; else the n-th result for a ticket id answers the n-th item for it.
    const byIndex = new Map(results.filter((r) => r.index !== undefined).map((r) => [r.index, r]));
    const byId = new Map<number, JobResult[]>();
    for (const r of results) if (typeof r.id === 'number') byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
    return items.map((item, index) => {
      const r = byIndex.size ? byIndex.get(index) : byId.get(item.id)?.shift();
      const outcome = resultOrError(r, item.context, (x) => x.success !== false && x.status !== 'Failed');
      return outcome instanceof Error ? outcome : undefined;
    });
  }

  /** Reads a batch of tickets: a lone one with a single read; more with one `show_many`. */
  private async sendReads(items: readonly ReadItem[]): Promise<(ZendeskTicket | Error)[]> {
    const [only] = items;
    if (only && items.length === 1) {
      const res = await this.call(only.context, () => this.http.get(`/api/v2/tickets/${only.id}.json`));
      return [parse(TicketEnvelope, res.data, only.context).ticket];
    }
    const context = `read ${items.length} tickets`;
    const ids = [...new Set(items.map((i) => i.id))];
    const res = await this.call(context, () =>
      this.http.get('/api/v2/tickets/show_many.json', { params: { ids: ids.join(',') } }),
    );
    const found = new Map(parse(TicketList, res.data, context).tickets.map((t) => [t.id, t]));
    return items.map(
      (item) =>
        found.get(item.id) ??
        classifyZendeskResponse(404, {}, { error: 'RecordNotFound', description: 'Not found' }, item.context),
    );
  }

  /** Polls jobs: a lone one with `job_statuses/{id}`, more with one `job_statuses/show_many`. */
  private async sendPolls(ids: readonly string[]): Promise<(JobStatus | Error)[]> {
    const context = `poll ${ids.length} Zendesk job(s)`;
    const [only] = ids;
    if (only && ids.length === 1) {
      const res = await this.call(context, () => this.http.get(`/api/v2/job_statuses/${only}.json`));
      return [parse(JobEnvelope, res.data, context).job_status];
    }
    const unique = [...new Set(ids)];
    const res = await this.call(context, () =>
      this.http.get('/api/v2/job_statuses/show_many.json', { params: { ids: unique.join(',') } }),
    );
    const found = new Map(parse(JobList, res.data, context).job_statuses.map((j) => [j.id, j]));
    return ids.map(
      (id) =>
        found.get(id) ??
        classifyZendeskResponse(404, {}, { error: 'RecordNotFound', description: 'Not found' }, context),
    );
  }

  /**
   * Starts a bulk job and awaits it: polls `job_statuses/{id}` (each poll a request, shared with the polls of
   * other jobs due at the same point of the `pollTickMs` grid) after `firstPollMs`, then
   * twice as long each time up to `maxPollMs`. A job still unfinished after `timeoutMs`, or one Zendesk
   * reports failed, fails every call of the batch as CRM_UNAVAILABLE: retried, a call's own lookup then
   * finds what the job did. A poll refused for the moment (429, 5xx) is polled again within the bound.
   * `hear.started` hears of the job once Zendesk queued it, `hear.unfinished` of a job given up while still
   * queued or working.
   */
  private async runJob(
    context: string,
    start: () => Promise<{ data: unknown }>,
    hear: { started?: (jobId: string) => void; unfinished?: (jobId: string) => void } = {},
  ): Promise<JobStatus> {
    const res = await this.call(context, start);
    let job = parse(JobEnvelope, res.data, context).job_status;
    hear.started?.(job.id);
    const deadline = Date.now() + this.jobWait.timeoutMs;
    let wait = this.jobWait.firstPollMs;
    while (job.status === 'queued' || job.status === 'working') {
      const left = deadline - Date.now();
      if (left <= 0) {
        hear.unfinished?.(job.id);
        throw new ShipsyncError(
          'CRM_UNAVAILABLE',
          `${context}: Zendesk job ${job.id} still ${job.status} after ${this.jobWait.timeoutMs} ms`,
        );
      }
      await sleep(this.pollDelay(wait, deadline));
      wait = Math.min(wait * 2, this.jobWait.maxPollMs);
      try {
        job = await this.polls.submit(job.id);
      } catch (err) {
        if (isNotFound(err)) {
          throw new ShipsyncError('CRM_UNAVAILABLE', `${context}: Zendesk no longer knows job ${job.id}`);
        }
        if (err instanceof ShipsyncError && err.retryable && this.resumeAt < deadline) continue;
        hear.unfinished?.(job.id);
        throw err;
      }
    }
    if (job.status !== 'completed') {
      throw new ShipsyncError(
        'CRM_UNAVAILABLE',
        `${context}: Zendesk job ${job.id} ended ${job.status}${job.message ? ` (${job.message})` : ''}`,
      );
    }
    return job;
  }

  /** How long until a job's next poll: `wait`, then on to the next point of the shared grid, never past `deadline`. */
  private pollDelay(wait: number, deadline: number): number {
    const now = Date.now();
    const tick = this.jobWait.pollTickMs;
    const at = tick > 0 ? Math.ceil((now + wait) / tick) * tick : now + wait;
    return Math.max(0, Math.min(at, deadline) - now);
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
  return new ZendeskCrmAdapter(http, { ...DEFAULT_FIELD_IDS, ...opts.fieldIds }, opts.requestsPerMinute, {
    ...(opts.bulk ? { bulk: opts.bulk } : {}),
    ...(opts.jobWait ? { jobWait: opts.jobWait } : {}),
  });
}

/**
 * The Zendesk adapter a process's configuration describes: URL, credentials, its share of the plan's rate
 * and the Zendesk bulk window. The workers and the gateway's read model both take it from here.
 */
export function crmAdapterFromConfig(config: Config): ZendeskCrmAdapter {
  const { email, token } = vendorCredentialsFromConfig(config).crm;
  return createCrmAdapter({
    baseUrl: config.SHIPSYNC_CRM_URL,
    ...(email && token ? { email, token } : {}),
    requestsPerMinute: config.SHIPSYNC_CRM_REQUESTS_PER_MINUTE,
    bulk: bulkFromConfig(config, config.SHIPSYNC_CRM_BULK_WINDOW_MS),
  });
}
