import { z } from 'zod';
import { METADATA_TYPES } from './onfleet.js';

/** Request bodies and queries of the Onfleet API the sandbox accepts, validated as Onfleet does. */

/** A [longitude, latitude] pair. */
export const LngLatSchema = z.tuple([z.number().min(-180).max(180), z.number().min(-90).max(90)]);

const text = (max: number) => z.string().max(max);

/** An Onfleet address; either the parts or an unparsed one-line address. */
export const AddressSchema = z
  .object({
    number: text(50).optional(),
    street: text(200).optional(),
    apartment: text(100).optional(),
    city: text(100).optional(),
    state: text(100).optional(),
    postalCode: text(20).optional(),
    country: text(100).optional(),
    name: text(200).optional(),
    unparsed: text(500).optional(),
  })
  .refine((a) => a.unparsed !== undefined || (a.street !== undefined && a.city !== undefined), {
    message: 'an address needs street and city, or unparsed',
    path: ['street'],
  });

/** A task destination; the sandbox has no geocoder, so it needs the location. */
export const DestinationSchema = z.object({
  address: AddressSchema,
  location: LngLatSchema.optional(),
  notes: text(10_000).optional(),
});

/** A recipient; Onfleet needs a name and a phone number. */
export const RecipientSchema = z.object({
  name: z.string().trim().min(1).max(200),
  phone: z.string().regex(/^\+?[0-9]{7,15}$/, 'expected an E.164 phone number'),
  notes: text(10_000).optional(),
  skipSMSNotifications: z.boolean().optional(),
});

const valueMatches: Record<(typeof METADATA_TYPES)[number], (v: unknown) => boolean> = {
  boolean: (v) => typeof v === 'boolean',
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  string: (v) => typeof v === 'string',
  object: (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  array: (v) => Array.isArray(v),
};

/** One metadata entry; its value must have the declared type. */
export const MetadataSchema = z
  .object({
    name: z.string().min(1).max(100),
    type: z.enum(METADATA_TYPES),
    value: z.unknown(),
    visibility: z
      .array(z.enum(['api', 'dashboard', 'worker']))
      .max(3)
      .optional(),
  })
  .refine((m) => valueMatches[m.type](m.value), { message: 'value does not match type', path: ['value'] });

/** A metadata list; names are unique. */
export const MetadataListSchema = z
  .array(MetadataSchema)
  .max(100)
  .refine((list) => new Set(list.map((m) => m.name)).size === list.length, {
    message: 'metadata names must be unique',
  });

/** Completion requirements. */
export const RequirementsSchema = z.object({
  signature: z.boolean().optional(),
  photo: z.boolean().optional(),
  notes: z.boolean().optional(),
  minimumAge: z.number().int().min(0).max(120).optional(),
});

/** Where a new task goes. */
export const ContainerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('TEAM'), team: z.string().min(1).max(64) }),
  z.object({ type: z.literal('WORKER'), worker: z.string().min(1).max(64) }),
  z.object({ type: z.literal('ORGANIZATION'), organization: z.string().min(1).max(64) }),
]);

const epochMs = z.number().int().min(0).max(8_640_000_000_000);

/** POST /tasks body. */
export const CreateTaskBody = z.object({
  destination: DestinationSchema,
  recipients: z.array(RecipientSchema).max(10).optional(),
  recipientName: text(200).optional(),
  recipientNotes: text(10_000).optional(),
  completeAfter: epochMs.optional(),
  completeBefore: epochMs.optional(),
  quantity: z.number().min(0).max(10_000).optional(),
  serviceTime: z.number().min(0).max(1440).optional(),
  notes: text(10_000).optional(),
  metadata: MetadataListSchema.optional(),
  requirements: RequirementsSchema.optional(),
  container: ContainerSchema.optional(),
  pickupTask: z.boolean().optional(),
});
/** A parsed POST /tasks body. */
export type CreateTaskBody = z.infer<typeof CreateTaskBody>;

/** Most tasks Onfleet takes in one POST /tasks/batch. */
export const BATCH_TASK_LIMIT = 500;

/**
 * POST /tasks/batch body: `{ tasks: [...] }`. Each task is validated on its own (as POST /tasks would), so
 * the envelope only checks that `tasks` is a non-empty array within the limit.
 */
export const BatchCreateBody = z.object({
  tasks: z
    .array(z.unknown())
    .min(1)
    .max(BATCH_TASK_LIMIT, { message: `at most ${BATCH_TASK_LIMIT} tasks per batch` }),
});

/** POST /tasks/:id/complete body (Onfleet's force completion). */
export const CompleteTaskBody = z.object({
  completionDetails: z.object({
    success: z.boolean(),
    notes: text(10_000).optional(),
  }),
});
/** A parsed POST /tasks/:id/complete body. */
export type CompleteTaskBody = z.infer<typeof CompleteTaskBody>;

/** PUT /tasks/:id body: any updatable field; null clears a window bound. */
export const UpdateTaskBody = z.object({
  destination: DestinationSchema.optional(),
  recipients: z.array(RecipientSchema).max(10).optional(),
  completeAfter: epochMs.nullable().optional(),
  completeBefore: epochMs.nullable().optional(),
  quantity: z.number().min(0).max(10_000).optional(),
  serviceTime: z.number().min(0).max(1440).optional(),
  notes: text(10_000).optional(),
  metadata: MetadataListSchema.optional(),
  requirements: RequirementsSchema.optional(),
});
/** A parsed PUT /tasks/:id body. */
export type UpdateTaskBody = z.infer<typeof UpdateTaskBody>;

/** POST /tasks/:id/clone body. */
export const CloneTaskBody = z.object({
  includeMetadata: z.boolean().optional(),
  includeBarcodes: z.boolean().optional(),
  includeDependencies: z.boolean().optional(),
  overrides: z
    .object({
      completeAfter: epochMs.optional(),
      completeBefore: epochMs.optional(),
      destination: DestinationSchema.optional(),
      metadata: MetadataListSchema.optional(),
      notes: text(10_000).optional(),
      pickupTask: z.boolean().optional(),
      recipients: z.array(RecipientSchema).max(10).optional(),
      serviceTime: z.number().min(0).max(1440).optional(),
    })
    .optional(),
});

/** POST /tasks/metadata body: the entries a task's metadata must all contain. */
export const MetadataQueryBody = z
  .array(
    z.object({
      name: z.string().min(1).max(100),
      type: z.enum(METADATA_TYPES).optional(),
      value: z.unknown(),
    }),
  )
  .min(1)
  .max(20);

const unixSeconds = z.number().int().min(0).max(8_640_000_000);
const secondsWindow = z
  .tuple([unixSeconds, unixSeconds])
  .refine(([s, e]) => e > s, { message: 'window end must be after start' });

/** POST /teams/:id/dispatch body (Onfleet's team auto-dispatch). */
export const DispatchBody = z.object({
  maxTasksPerRoute: z.number().int().min(1).max(200).optional(),
  taskTimeWindow: secondsWindow.optional(),
  scheduleTimeWindow: secondsWindow.optional(),
  serviceTime: z.number().int().min(0).max(1440).optional(),
  routeEnd: z.string().max(200).nullable().optional(),
  maxAllowedDelay: z.number().int().min(0).max(1440).optional(),
});

/** POST /webhooks body. */
export const CreateWebhookBody = z.object({
  url: z.string().min(1).max(2000),
  trigger: z.number().int().min(0).max(100),
  name: z.string().min(1).max(200).optional(),
  threshold: z.number().min(0).max(1_000_000).optional(),
});

/** GET /tasks/all query. */
export const ListTasksQuery = z.object({
  from: z.coerce.number().int().min(0).max(8_640_000_000_000),
  to: z.coerce.number().int().min(0).max(8_640_000_000_000).optional(),
  lastId: z.string().min(1).max(64).optional(),
  state: z
    .string()
    .regex(/^[0-3](,[0-3])*$/, 'expected comma-separated states 0-3')
    .optional(),
  worker: z.string().min(1).max(64).optional(),
});

/** POST /__sandbox/simulator body. */
export const SimulatorPatch = z
  .object({
    enabled: z.boolean(),
    failureRate: z.number().min(0).max(1),
    failureReasons: z
      .object({
        recipient_absent: z.number().min(0).max(1000),
        address_not_found: z.number().min(0).max(1000),
        refused: z.number().min(0).max(1000),
      })
      .partial(),
    delayRate: z.number().min(0).max(1),
    damageRate: z.number().min(0).max(1),
    pingIntervalSimSeconds: z.number().int().min(10).max(3600),
  })
  .partial()
  .strict();

/** The dotted path and message of a validation failure, Onfleet's `cause`. */
export function causeOf(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid request';
  const path = issue.path.map(String).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}
