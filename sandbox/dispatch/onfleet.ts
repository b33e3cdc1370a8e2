import { randomUUID } from 'node:crypto';
import type { FastifyReply } from 'fastify';

/**
 * The Onfleet API v2 vocabulary the dispatch sandbox speaks: entity shapes, webhook trigger ids, failure
 * reasons and error bodies. Field names and numeric ids follow Onfleet's public documentation.
 */

/** A [longitude, latitude] pair, Onfleet's (GeoJSON) coordinate order. */
export type LngLat = [number, number];

/** Onfleet metadata value types. */
export const METADATA_TYPES = ['boolean', 'number', 'string', 'object', 'array'] as const;
/** One Onfleet metadata entry. */
export interface OnfleetMetadata {
  name: string;
  type: (typeof METADATA_TYPES)[number];
  value: unknown;
  visibility: ('api' | 'dashboard' | 'worker')[];
}

/** An Onfleet address; `number` and `street` are split as Onfleet's geocoder does. */
export interface OnfleetAddress {
  number: string;
  street: string;
  apartment: string;
  city: string;
  state: string;
  postalCode: string;
  country: string;
  name?: string;
  unparsed?: string;
}

/** An Onfleet destination. */
export interface OnfleetDestination {
  id: string;
  timeCreated: number;
  timeLastModified: number;
  location: LngLat;
  address: OnfleetAddress;
  notes: string;
  metadata: OnfleetMetadata[];
}

/** An Onfleet recipient. */
export interface OnfleetRecipient {
  id: string;
  organization: string;
  timeCreated: number;
  timeLastModified: number;
  name: string;
  phone: string;
  notes: string;
  skipSMSNotifications: boolean;
  metadata: OnfleetMetadata[];
}

/** Onfleet task states. */
export const TASK_STATE = { unassigned: 0, assigned: 1, active: 2, completed: 3 } as const;
/** An Onfleet task state number. */
export type TaskState = (typeof TASK_STATE)[keyof typeof TASK_STATE];

/** Reasons a driver can give in Onfleet's app when failing a task. */
export const ONFLEET_FAILURE_REASONS = [
  'NONE',
  'CLOSED',
  'DAMAGED',
  'MANAGER_OVERRIDE',
  'NOT_AVAILABLE',
  'OTHER',
  'POOR_ADDRESS',
  'REFUSED',
] as const;
/** An Onfleet failure reason. */
export type OnfleetFailureReason = (typeof ONFLEET_FAILURE_REASONS)[number];

/** One entry of `completionDetails.events`. */
export interface CompletionEvent {
  name: 'start' | 'arrival' | 'departure';
  time: number;
  location: LngLat;
}

/** What the driver app records when a task ends. */
export interface CompletionDetails {
  success: boolean;
  time: number | null;
  notes: string;
  failureReason: OnfleetFailureReason;
  failureNotes: string;
  events: CompletionEvent[];
  actions: unknown[];
  firstLocation: LngLat | [];
  lastLocation: LngLat | [];
  unavailableAttachments: unknown[];
  signatureUploadId?: string;
  photoUploadId?: string;
  photoUploadIds?: string[];
  distance?: number;
}

/** Which container holds a task: a team's unassigned queue, a worker's route or the organisation. */
export type TaskContainer =
  | { type: 'TEAM'; team: string }
  | { type: 'WORKER'; worker: string }
  | { type: 'ORGANIZATION'; organization: string };

/** Completion requirements the driver app enforces. */
export interface TaskRequirements {
  signature?: boolean;
  photo?: boolean;
  notes?: boolean;
  minimumAge?: number;
}

/** An Onfleet task, as GET /tasks/:id returns it. */
export interface OnfleetTask {
  id: string;
  timeCreated: number;
  timeLastModified: number;
  organization: string;
  shortId: string;
  trackingURL: string;
  worker: string | null;
  merchant: string;
  executor: string;
  creator: string;
  dependencies: string[];
  state: TaskState;
  completeAfter: number | null;
  completeBefore: number | null;
  pickupTask: boolean;
  notes: string;
  completionDetails: CompletionDetails;
  feedback: unknown[];
  metadata: OnfleetMetadata[];
  overrides: Record<string, unknown>;
  quantity: number;
  serviceTime: number;
  container: TaskContainer;
  recipients: OnfleetRecipient[];
  destination: OnfleetDestination;
  requirements: TaskRequirements;
  estimatedArrivalTime: number | null;
  estimatedCompletionTime: number | null;
  eta: number | null;
  delayTime: number | null;
  trackingViewed: boolean;
  sourceTaskId?: string;
}

/** A worker's vehicle. */
export interface OnfleetVehicle {
  id: string;
  type: 'CAR' | 'MOTORCYCLE' | 'BICYCLE' | 'TRUCK';
  description: string;
  licensePlate: string;
  color: string;
  capacity: number;
}

/** An Onfleet worker (driver). */
export interface OnfleetWorker {
  id: string;
  timeCreated: number;
  timeLastModified: number;
  organization: string;
  name: string;
  displayName: string;
  phone: string;
  activeTask: string | null;
  tasks: string[];
  onDuty: boolean;
  isResponding: boolean;
  timeLastSeen: number | null;
  capacity: number;
  accountStatus: 'ACCEPTED';
  teams: string[];
  location: LngLat | null;
  vehicle: OnfleetVehicle;
  metadata: OnfleetMetadata[];
  addresses: { routing: string | null };
}

/** An Onfleet hub (depot). */
export interface OnfleetHub {
  id: string;
  name: string;
  location: LngLat;
  address: OnfleetAddress;
  teams: string[];
}

/** An Onfleet team; the sandbox has one per shipsync region. */
export interface OnfleetTeam {
  id: string;
  timeCreated: number;
  timeLastModified: number;
  name: string;
  workers: string[];
  managers: string[];
  hub: string;
  enableSelfAssignment: boolean;
}

/** A registered webhook. */
export interface OnfleetWebhook {
  id: string;
  name: string;
  url: string;
  trigger: number;
  threshold?: number;
  isEnabled: boolean;
  count: number;
}

/** Onfleet's webhook triggers, id to name. */
export const WEBHOOK_TRIGGERS = {
  taskStarted: 0,
  taskEta: 1,
  taskArrival: 2,
  taskCompleted: 3,
  taskFailed: 4,
  workerDuty: 5,
  taskCreated: 6,
  taskUpdated: 7,
  taskDeleted: 8,
  taskAssigned: 9,
  taskUnassigned: 10,
  taskDelayed: 12,
  taskCloned: 13,
  smsRecipientResponseMissed: 14,
  workerCreated: 15,
  workerDeleted: 16,
  SMSRecipientOptOut: 17,
  autoDispatchJobCompleted: 18,
} as const;
/** A webhook trigger name. */
export type TriggerName = keyof typeof WEBHOOK_TRIGGERS;

/** The trigger name of a numeric trigger id, or undefined for an unknown id. */
export function triggerNameOf(id: number): TriggerName | undefined {
  return (Object.keys(WEBHOOK_TRIGGERS) as TriggerName[]).find((n) => WEBHOOK_TRIGGERS[n] === id);
}

/** Onfleet error classes by HTTP status, with the sub-code and message the sandbox uses for each. */
export const ONFLEET_ERRORS = {
  invalidArgument: {
    status: 400,
    code: 'InvalidArgument',
    error: 1000,
    message: 'The values of one or more parameters are invalid.',
  },
  invalidTime: {
    status: 400,
    code: 'InvalidArgument',
    error: 1009,
    message: 'Invalid time constraints specified.',
  },
  geocoding: { status: 400, code: 'InvalidArgument', error: 1011, message: 'Geocoding issues were found.' },
  webhookValidation: {
    status: 400,
    code: 'InvalidArgument',
    error: 1008,
    message: 'The webhook URL provided did not pass our validation test.',
  },
  missingCredentials: {
    status: 401,
    code: 'InvalidCredentials',
    error: 1100,
    message: 'You are not currently authorized to access this service.',
  },
  invalidCredentials: {
    status: 401,
    code: 'InvalidCredentials',
    error: 1102,
    message: 'The API key provided is invalid.',
  },
  notFound: {
    status: 404,
    code: 'ResourceNotFound',
    error: 1402,
    message: 'The requested resource does not exist.',
  },
  methodNotAllowed: {
    status: 405,
    code: 'MethodNotAllowed',
    error: 1403,
    message: 'The method is not allowed on this resource.',
  },
  payloadTooLarge: {
    status: 413,
    code: 'InvalidContent',
    error: 1006,
    message: 'The request body exceeds an established limit.',
  },
  rateLimited: {
    status: 429,
    code: 'TooManyRequests',
    error: 2300,
    message: 'You have exceeded the request rate limit of your organization.',
  },
  internal: { status: 500, code: 'InternalServerError', error: 2000, message: 'An internal error occurred.' },
  unavailable: {
    status: 503,
    code: 'ServiceUnavailable',
    error: 2500,
    message: 'The service is temporarily unavailable.',
  },
} as const;
/** A named Onfleet error class. */
export type OnfleetErrorName = keyof typeof ONFLEET_ERRORS;

/** An Onfleet error response body. */
export interface OnfleetErrorBody {
  code: string;
  message: { error: number; message: string; request: string; cause?: unknown };
}

/** Builds the body Onfleet sends with an error. */
export function onfleetErrorBody(name: OnfleetErrorName, cause?: unknown): OnfleetErrorBody {
  const e = ONFLEET_ERRORS[name];
  return {
    code: e.code,
    message: {
      error: e.error,
      message: e.message,
      request: randomUUID(),
      ...(cause === undefined ? {} : { cause }),
    },
  };
}

/** One failed task of a POST /tasks/batch answer: the error (batch shape) and the body that was sent. */
export interface OnfleetBatchError {
  error: { statusCode: number; error: number; message: string; cause: string };
  task: unknown;
}

/** A batch error entry; batch errors carry statusCode, error, message and cause at their top level. */
export function onfleetBatchError(name: OnfleetErrorName, cause: string, task: unknown): OnfleetBatchError {
  const e = ONFLEET_ERRORS[name];
  return { error: { statusCode: e.status, error: e.error, message: e.message, cause }, task };
}

/** Sends an Onfleet error response. */
export function sendOnfleetError(reply: FastifyReply, name: OnfleetErrorName, cause?: unknown): FastifyReply {
  return reply.code(ONFLEET_ERRORS[name].status).send(onfleetErrorBody(name, cause));
}

/** The Onfleet error class answering an HTTP status the framework produced (parsing, size limits). */
export function errorNameForStatus(status: number): OnfleetErrorName {
  if (status === 401) return 'invalidCredentials';
  if (status === 404) return 'notFound';
  if (status === 405) return 'methodNotAllowed';
  if (status === 413) return 'payloadTooLarge';
  if (status === 429) return 'rateLimited';
  if (status === 503) return 'unavailable';
  if (status >= 500) return 'internal';
  return 'invalidArgument';
}
