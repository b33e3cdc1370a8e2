import type { TicketCreate, TicketUpdate } from './schemas.js';
import { zendeskTime, type FieldProblem, type TicketPriority, type TicketStatus } from './zendesk.js';

/** The agent every authenticated API call acts as. */
export const SANDBOX_AGENT = { id: 1, name: 'Sandbox Agent', email: 'agent@sandbox.zendesk.test' };

/** One comment on a ticket, as stored. */
export interface CommentRecord {
  id: number;
  ticketId: number;
  auditId: number;
  authorId: number;
  body: string;
  public: boolean;
  createdAt: number;
  /** Custom audit metadata sent with the update that added the comment. */
  custom: Record<string, unknown>;
}

/** One ticket, as stored. */
export interface TicketRecord {
  id: number;
  externalId: string | null;
  subject: string;
  description: string;
  priority: TicketPriority | null;
  status: TicketStatus;
  type: string | null;
  tags: string[];
  customFields: { id: number; value: unknown }[];
  requesterId: number;
  submitterId: number;
  assigneeId: number | null;
  createdAt: number;
  updatedAt: number;
  comments: CommentRecord[];
}

/** What a create or update changed, so the server can record effects. */
export interface ChangeResult {
  ticket: TicketRecord;
  comment?: CommentRecord;
  auditId?: number;
  solvedNow: boolean;
}

/** Zendesk tags are lower case, without spaces, and unique per ticket. */
export function normaliseTags(tags: readonly string[]): string[] {
  const out: string[] = [];
  for (const raw of tags) {
    for (const t of raw.toLowerCase().split(/\s+/)) if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

function mergeFields(current: { id: number; value: unknown }[], patch: { id: number; value: unknown }[]) {
  const merged = new Map(current.map((f) => [f.id, f.value]));
  for (const f of patch) merged.set(f.id, f.value);
  return [...merged.entries()].map(([id, value]) => ({ id, value })).sort((a, b) => a.id - b.id);
}

function commentBody(c: { body?: string; html_body?: string }): string {
  // Zendesk derives the plain body from html_body when only that is given.
  return (c.body ?? c.html_body?.replace(/<[^>]*>/g, '') ?? '').trim();
}

/** The sandbox's tickets, comments and requesters, in memory. */
export class TicketStore {
  private readonly tickets = new Map<number, TicketRecord>();
  private readonly users = new Map<string, number>();
  private nextTicketId = 1;
  private nextCommentId = 10_001;
  private nextAuditId = 50_001;
  private nextUserId = 1_001;

  constructor(private readonly now: () => number) {}

  /** A ticket by id. */
  get(id: number): TicketRecord | undefined {
    return this.tickets.get(id);
  }

  /** All tickets, ascending by id. */
  all(): TicketRecord[] {
    return [...this.tickets.values()];
  }

  /** Creates a ticket; returns the problems Zendesk would answer with when the request is invalid. */
  create(input: TicketCreate): ChangeResult | FieldProblem[] {
    const body = input.comment ? commentBody(input.comment) : (input.description ?? '').trim();
    if (!body)
      return [{ field: 'description', description: 'Description: cannot be blank', error: 'BlankValue' }];
    if (input.status === 'closed') {
      return [{ field: 'status', description: 'Status: closed is not valid for a new ticket' }];
    }
    const at = this.now();
    const requesterId =
      input.requester_id ?? (input.requester?.email ? this.userFor(input.requester.email) : SANDBOX_AGENT.id);
    const status = input.status ?? 'new';
    const assigneeId = input.assignee_id ?? (status === 'new' ? null : SANDBOX_AGENT.id);
    const ticket: TicketRecord = {
      id: this.nextTicketId++,
      externalId: input.external_id ?? null,
      subject: input.subject?.trim() || body.slice(0, 80),
      description: body,
      priority: input.priority ?? null,
      status,
      type: input.type ?? null,
      tags: normaliseTags(input.tags ?? []),
      customFields: mergeFields([], input.custom_fields ?? []),
      requesterId,
      submitterId: SANDBOX_AGENT.id,
      assigneeId,
      createdAt: at,
      updatedAt: at,
      comments: [],
    };
    const auditId = this.nextAuditId++;
    const comment = this.addComment(ticket, {
      body,
      public: input.comment?.public ?? true,
      authorId: input.comment?.author_id ?? requesterId,
      auditId,
      custom: input.metadata ?? {},
    });
    this.tickets.set(ticket.id, ticket);
    return { ticket, comment, auditId, solvedNow: status === 'solved' };
  }

  /** Updates a ticket; returns problems when Zendesk would refuse the update. */
  update(ticket: TicketRecord, patch: TicketUpdate): ChangeResult | FieldProblem[] {
    if (ticket.status === 'closed') {
      return [{ field: 'status', description: 'Status: closed prevents ticket update' }];
    }
    if (patch.status === 'new' && ticket.status !== 'new') {
      return [{ field: 'status', description: 'Status: cannot be changed back to new' }];
    }
    const body = patch.comment ? commentBody(patch.comment) : undefined;
    if (patch.comment && !body) {
      return [{ field: 'comment', description: 'Comment: cannot be blank', error: 'BlankValue' }];
    }
    const before = ticket.status;
    if (patch.subject !== undefined) ticket.subject = patch.subject.trim() || ticket.subject;
    if (patch.external_id !== undefined) ticket.externalId = patch.external_id;
    if (patch.priority !== undefined) ticket.priority = patch.priority;
    if (patch.type !== undefined) ticket.type = patch.type;
    if (patch.assignee_id !== undefined) ticket.assigneeId = patch.assignee_id;
    if (patch.custom_fields) ticket.customFields = mergeFields(ticket.customFields, patch.custom_fields);
    if (patch.tags) ticket.tags = normaliseTags(patch.tags);
    if (patch.additional_tags) ticket.tags = normaliseTags([...ticket.tags, ...patch.additional_tags]);
    if (patch.remove_tags) {
      const remove = new Set(normaliseTags(patch.remove_tags));
      ticket.tags = ticket.tags.filter((t) => !remove.has(t));
    }
    if (patch.status) ticket.status = patch.status;
    else if (ticket.status === 'new' && body) ticket.status = 'open';
    // Zendesk needs an assignee to solve; an agent solving through the API becomes the assignee.
    if ((ticket.status === 'solved' || ticket.status === 'closed') && ticket.assigneeId === null) {
      ticket.assigneeId = SANDBOX_AGENT.id;
    }
    ticket.updatedAt = this.now();
    const auditId = this.nextAuditId++;
    const comment =
      body === undefined
        ? undefined
        : this.addComment(ticket, {
            body,
            public: patch.comment?.public ?? true,
            authorId: patch.comment?.author_id ?? SANDBOX_AGENT.id,
            auditId,
            custom: patch.metadata ?? {},
          });
    const solvedNow = ticket.status === 'solved' && before !== 'solved';
    return { ticket, comment, auditId, solvedNow };
  }

  /** Adds an internal note written by the sandbox itself (a simulated agent or customer action). */
  addInternalNote(ticket: TicketRecord, body: string, custom: Record<string, unknown> = {}): CommentRecord {
    ticket.updatedAt = this.now();
    return this.addComment(ticket, {
      body,
      public: false,
      authorId: SANDBOX_AGENT.id,
      auditId: this.nextAuditId++,
      custom,
    });
  }

  private addComment(
    ticket: TicketRecord,
    c: { body: string; public: boolean; authorId: number; auditId: number; custom: Record<string, unknown> },
  ): CommentRecord {
    const comment: CommentRecord = {
      id: this.nextCommentId++,
      ticketId: ticket.id,
      auditId: c.auditId,
      authorId: c.authorId,
      body: c.body,
      public: c.public,
      createdAt: this.now(),
      custom: c.custom,
    };
    ticket.comments.push(comment);
    return comment;
  }

  private userFor(email: string): number {
    const key = email.toLowerCase();
    let id = this.users.get(key);
    if (id === undefined) {
      id = this.nextUserId++;
      this.users.set(key, id);
    }
    return id;
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A ticket as the Zendesk Support API renders it. */
export function ticketJson(t: TicketRecord, baseUrl: string) {
  return {
    url: `${baseUrl}/api/v2/tickets/${t.id}.json`,
    id: t.id,
    external_id: t.externalId,
    via: { channel: 'api', source: { from: {}, to: {}, rel: null } },
    created_at: zendeskTime(t.createdAt),
    updated_at: zendeskTime(t.updatedAt),
    generated_timestamp: Math.floor(t.updatedAt / 1000),
    type: t.type,
    subject: t.subject,
    raw_subject: t.subject,
    description: t.description,
    priority: t.priority,
    status: t.status,
    recipient: null,
    requester_id: t.requesterId,
    submitter_id: t.submitterId,
    assignee_id: t.assigneeId,
    organization_id: null,
    group_id: null,
    collaborator_ids: [],
    follower_ids: [],
    email_cc_ids: [],
    forum_topic_id: null,
    problem_id: null,
    has_incidents: false,
    is_public: t.comments.some((c) => c.public),
    due_at: null,
    tags: [...t.tags],
    custom_fields: t.customFields.map((f) => ({ ...f })),
    satisfaction_rating: null,
    sharing_agreement_ids: [],
    fields: t.customFields.map((f) => ({ ...f })),
    followup_ids: [],
    ticket_form_id: null,
    brand_id: 1,
    allow_channelback: false,
    allow_attachments: true,
    from_messaging_channel: false,
  };
}

/** A comment as the Ticket Comments API renders it. */
export function commentJson(c: CommentRecord) {
  return {
    id: c.id,
    type: 'Comment',
    author_id: c.authorId,
    body: c.body,
    html_body: `<div class="zd-comment" dir="auto">${escapeHtml(c.body).replace(/\n/g, '<br>')}</div>`,
    plain_body: c.body,
    public: c.public,
    attachments: [],
    audit_id: c.auditId,
    via: { channel: 'api', source: { from: {}, to: {}, rel: null } },
    created_at: zendeskTime(c.createdAt),
    metadata: { system: { client: 'shipsync-crm-sandbox', ip_address: '127.0.0.1' }, custom: c.custom },
  };
}

/** The audit Zendesk returns beside a created or updated ticket. */
export function auditJson(change: ChangeResult) {
  const c = change.comment;
  return {
    id: change.auditId,
    ticket_id: change.ticket.id,
    created_at: zendeskTime(change.ticket.updatedAt),
    author_id: SANDBOX_AGENT.id,
    metadata: { system: { client: 'shipsync-crm-sandbox' }, custom: c?.custom ?? {} },
    events: c ? [{ id: c.id, type: 'Comment', body: c.body, public: c.public, author_id: c.authorId }] : [],
    via: { channel: 'api', source: { from: {}, to: {}, rel: null } },
  };
}
