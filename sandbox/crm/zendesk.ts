import type { FastifyReply } from 'fastify';
import type { FaultResponder } from '../common/faults.js';

/** Ticket statuses of the Zendesk Support API. */
export const TICKET_STATUSES = ['new', 'open', 'pending', 'hold', 'solved', 'closed'] as const;
/** A Zendesk ticket status. */
export type TicketStatus = (typeof TICKET_STATUSES)[number];

/** Ticket priorities of the Zendesk Support API. */
export const TICKET_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
/** A Zendesk ticket priority. */
export type TicketPriority = (typeof TICKET_PRIORITIES)[number];

/** One entry of a Zendesk `RecordInvalid` details list. */
export interface FieldProblem {
  field: string;
  description: string;
  error?: 'InvalidValue' | 'BlankValue' | 'TooLong';
}

/** Zendesk timestamps carry whole seconds: `2009-07-20T22:55:29Z`. */
export function zendeskTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The body Zendesk answers a validation failure with. */
export function recordInvalid(problems: FieldProblem[]) {
  const details: Record<string, { description: string; error: string }[]> = {};
  for (const p of problems) {
    (details[p.field] ??= []).push({ description: p.description, error: p.error ?? 'InvalidValue' });
  }
  return { error: 'RecordInvalid', description: 'Record validation errors', details };
}

/** Sends a Zendesk error body with its status. */
export function sendError(reply: FastifyReply, status: number, body: Record<string, unknown>): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(body);
}

/** 404 for an unknown record id, as Zendesk words it. */
export function recordNotFound(reply: FastifyReply): FastifyReply {
  return sendError(reply, 404, { error: 'RecordNotFound', description: 'Not found' });
}

/** 400 for a malformed request (bad JSON, a parameter of the wrong shape). */
export function badRequest(reply: FastifyReply, description: string, error = 'InvalidValue'): FastifyReply {
  return sendError(reply, 400, { error, description });
}

/** 429 with Retry-After in seconds, as Zendesk answers a spent rate-limit budget. */
export function rateLimited(reply: FastifyReply, retryAfterSeconds: number): FastifyReply {
  return sendError(reply.header('retry-after', String(retryAfterSeconds)), 429, {
    error: 'APIRateLimitExceeded',
    description: 'Number of allowed API requests per minute exceeded',
  });
}

/** Zendesk-shaped bodies for the injected 503 and 429 faults. */
export const zendeskFaultResponder: FaultResponder = {
  unavailable(reply) {
    return sendError(reply.header('retry-after', '1'), 503, {
      error: 'ServiceUnavailable',
      description: 'Zendesk is temporarily unavailable; try again shortly',
    });
  },
  rateLimited(reply, retryAfterSeconds) {
    return rateLimited(reply, retryAfterSeconds);
  },
};
