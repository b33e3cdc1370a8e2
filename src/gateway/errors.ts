import type { FastifyError } from 'fastify';
import { z } from 'zod';
import { ERROR_CODES, ShipsyncError, type ErrorCode } from '../domain/errors.js';

/** Codes only the gateway gives, beside the domain's: how Temporal and its workers can fail a call. */
export const GATEWAY_ERROR_CODES = {
  WORKER_UNAVAILABLE: {
    retryable: true,
    http: 503,
    meaning: "Temporal answers but no worker serves the shipment's task queue right now; retry later",
  },
  RATE_LIMITED: {
    retryable: true,
    http: 429,
    meaning:
      'too many requests from this client address, principal or webhook source in the window; retry after Retry-After seconds',
  },
} as const satisfies Record<string, { retryable: boolean; http: number; meaning: string }>;

/** Any code the gateway may put in an error body. */
export type GatewayErrorCode = ErrorCode | keyof typeof GATEWAY_ERROR_CODES;

function isGatewayOnly(code: string): code is keyof typeof GATEWAY_ERROR_CODES {
  return Object.hasOwn(GATEWAY_ERROR_CODES, code);
}

/** HTTP status of a code. */
export function httpStatusOf(code: GatewayErrorCode): number {
  return isGatewayOnly(code) ? GATEWAY_ERROR_CODES[code].http : ERROR_CODES[code].http;
}

/** True when a string is a code the gateway knows. */
export function isKnownCode(code: unknown): code is GatewayErrorCode {
  return typeof code === 'string' && (Object.hasOwn(ERROR_CODES, code) || isGatewayOnly(code));
}

/** The body of every error response. */
export const ErrorBody = z
  .object({
    code: z.string().describe('stable error code'),
    message: z.string(),
    field: z.string().optional().describe('dot path of the offending field'),
    eventId: z.string().optional(),
  })
  .meta({ id: 'ErrorBody' });
export type ErrorBody = z.infer<typeof ErrorBody>;

/** An error the gateway turns into an HTTP response with its code's status. */
export class GatewayError extends Error {
  readonly status: number;
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    readonly extra: { field?: string; eventId?: string; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = 'GatewayError';
    this.status = httpStatusOf(code);
  }

  /** The response body. */
  body(): ErrorBody {
    return {
      code: this.code,
      message: this.message,
      ...(this.extra.field !== undefined ? { field: this.extra.field } : {}),
      ...(this.extra.eventId !== undefined ? { eventId: this.extra.eventId } : {}),
    };
  }
}

/** Fastify's own request errors, by fastify code. */
const FASTIFY_CODES: Record<string, { code: GatewayErrorCode; message: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'content type must be application/json',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', message: 'request body is over the size limit' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'VALIDATION_FAILED',
    message: 'content-length does not match the body',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'VALIDATION_FAILED', message: 'body must not be empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'VALIDATION_FAILED', message: 'body is not valid JSON' },
  FST_ERR_BAD_URL: { code: 'ROUTE_NOT_FOUND', message: 'malformed URL' },
  FST_ERR_ASYNC_CONSTRAINT: { code: 'ROUTE_NOT_FOUND', message: 'no such route' },
};

interface ValidationIssue {
  instancePath?: string;
  message?: string;
}

/**
 * Turns any error raised while handling a request into a status and a body with a stable code. Errors
 * caused by the request are 4xx; only the gateway's own failures are 5xx.
 */
export function toErrorResponse(err: unknown): {
  status: number;
  body: ErrorBody;
  retryAfterSeconds?: number;
} {
  if (err instanceof GatewayError) {
    return { status: err.status, body: err.body(), retryAfterSeconds: err.extra.retryAfterSeconds };
  }
  if (err instanceof ShipsyncError) {
    const status = httpStatusOf(err.code);
    return {
      status,
      body: {
        code: err.code,
        message: err.message,
        ...(err.details.field !== undefined ? { field: err.details.field } : {}),
      },
    };
  }
  const fe = err as Partial<FastifyError> & { validation?: ValidationIssue[]; validationContext?: string };
  if (Array.isArray(fe.validation) && fe.validation.length > 0) {
    const first = fe.validation[0]!;
    const path = (first.instancePath ?? '').replace(/^\//, '').split('/').filter(Boolean).join('.');
    const where = fe.validationContext === 'body' || !fe.validationContext ? '' : `${fe.validationContext}.`;
    const field = path ? `${where}${path}` : where.replace(/\.$/, '') || undefined;
    return {
      status: 400,
      body: {
        code: 'VALIDATION_FAILED',
        message: `${field ?? 'request'}: ${first.message ?? 'invalid'}`,
        ...(field ? { field } : {}),
      },
    };
  }
  const known = fe.code && Object.hasOwn(FASTIFY_CODES, fe.code) ? FASTIFY_CODES[fe.code] : undefined;
  if (known) return { status: httpStatusOf(known.code), body: { code: known.code, message: known.message } };
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const code: GatewayErrorCode =
      fe.statusCode === 413
        ? 'PAYLOAD_TOO_LARGE'
        : fe.statusCode === 415
          ? 'UNSUPPORTED_MEDIA_TYPE'
          : fe.statusCode === 404
            ? 'ROUTE_NOT_FOUND'
            : 'VALIDATION_FAILED';
    return { status: httpStatusOf(code), body: { code, message: fe.message ?? 'bad request' } };
  }
  return {
    status: 500,
    body: { code: 'INTERNAL_ERROR', message: 'unexpected gateway error; see the gateway log' },
  };
}
