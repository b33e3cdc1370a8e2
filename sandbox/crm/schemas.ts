import { z } from 'zod';
import { TICKET_PRIORITIES, TICKET_STATUSES, type FieldProblem } from './zendesk.js';

/** Zendesk keeps at most 1 KB of custom metadata per audit. */
export const MAX_METADATA_BYTES = 1024;

const fieldValue = z.union([z.string().max(65_535), z.number(), z.boolean(), z.null(), z.array(z.string())]);

const customField = z.object({
  id: z.union([
    z.number().int().positive(),
    z
      .string()
      .regex(/^\d{1,18}$/)
      .transform(Number),
  ]),
  value: fieldValue,
});

const comment = z.object({
  body: z.string().max(65_535).optional(),
  html_body: z.string().max(65_535).optional(),
  public: z.boolean().optional(),
  author_id: z.number().int().positive().optional(),
});

const tag = z.string().max(80);
const metadata = z
  .record(z.string().max(100), z.unknown())
  .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES, {
    message: `custom metadata is limited to ${MAX_METADATA_BYTES} bytes`,
  });

/** The `ticket` object of `POST /api/v2/tickets.json`. */
export const TicketCreate = z.object({
  subject: z.string().max(250).optional(),
  comment: comment.optional(),
  description: z.string().max(65_535).optional(),
  external_id: z.string().max(255).nullable().optional(),
  custom_fields: z.array(customField).max(400).optional(),
  tags: z.array(tag).max(200).optional(),
  priority: z.enum(TICKET_PRIORITIES).nullable().optional(),
  status: z.enum(TICKET_STATUSES).optional(),
  type: z.enum(['problem', 'incident', 'question', 'task']).nullable().optional(),
  requester: z
    .object({
      name: z.string().max(255).optional(),
      email: z.email().max(255).optional(),
      locale_id: z.number().int().optional(),
    })
    .optional(),
  requester_id: z.number().int().positive().optional(),
  assignee_id: z.number().int().positive().nullable().optional(),
  metadata: metadata.optional(),
});
/** A parsed ticket create request. */
export type TicketCreate = z.infer<typeof TicketCreate>;

/** The `ticket` object of `PUT /api/v2/tickets/{id}.json`. */
export const TicketUpdate = z.object({
  subject: z.string().max(250).optional(),
  comment: comment.optional(),
  external_id: z.string().max(255).nullable().optional(),
  custom_fields: z.array(customField).max(400).optional(),
  tags: z.array(tag).max(200).optional(),
  additional_tags: z.array(tag).max(200).optional(),
  remove_tags: z.array(tag).max(200).optional(),
  priority: z.enum(TICKET_PRIORITIES).nullable().optional(),
  status: z.enum(TICKET_STATUSES).optional(),
  type: z.enum(['problem', 'incident', 'question', 'task']).nullable().optional(),
  assignee_id: z.number().int().positive().nullable().optional(),
  metadata: metadata.optional(),
});
/** A parsed ticket update request. */
export type TicketUpdate = z.infer<typeof TicketUpdate>;

/** Capitalised first path segment, the way Zendesk names a field in a validation message. */
function fieldLabel(field: string): string {
  return field
    .split('_')
    .map((w, i) => (i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w))
    .join(' ');
}

/** Zendesk `RecordInvalid` problems for a zod error on a ticket body. */
export function problemsOf(error: z.ZodError): FieldProblem[] {
  return error.issues.map((issue) => {
    const field = issue.path.length ? String(issue.path[0]) : 'base';
    const where = issue.path.length > 1 ? ` (${issue.path.map(String).join('.')})` : '';
    return {
      field,
      description: `${fieldLabel(field)}${where}: ${issue.message}`,
      error: issue.code === 'too_big' ? 'TooLong' : 'InvalidValue',
    };
  });
}

/** Whether a value is a plain JSON object (not an array, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
