import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ZodError } from 'zod';
import { ShipsyncError } from '../domain/errors.js';

/**
 * The one place where shipsync errors become Temporal failures: the error code is the failure type,
 * non-retryable codes stop retries at once, and a vendor's Retry-After sets the next retry delay.
 */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof ShipsyncError) {
    return ApplicationFailure.create({
      type: err.code,
      message: err.message,
      nonRetryable: !err.retryable,
      details: err.details.field ? [{ field: err.details.field }] : undefined,
      nextRetryDelay: err.retryable && err.details.retryAfterMs ? err.details.retryAfterMs : undefined,
    });
  }
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    return ApplicationFailure.create({
      type: 'VALIDATION_FAILED',
      message: `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
      nonRetryable: true,
    });
  }
  return err;
}

/** Wraps every function of an activity object so its errors pass through `toActivityFailure`. */
export function classified<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    out[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        const failure = toActivityFailure(err);
        report(name, failure);
        throw failure;
      }
    };
  }
  return out as T;
}

/**
 * A line for every failed activity attempt, through the worker's logger (pino, redacted), stamped with the
 * shipment and its correlation id; outside an activity (a direct call in a tool) there is nothing to stamp.
 */
function report(activity: string, failure: unknown) {
  let context: Context;
  try {
    context = Context.current();
  } catch {
    return;
  }
  const { workflowExecution, attempt } = context.info;
  const shipmentId = workflowExecution?.workflowId;
  const code = failure instanceof ApplicationFailure ? failure.type : undefined;
  const business = failure instanceof ApplicationFailure && failure.nonRetryable;
  const message = failure instanceof Error ? failure.message : String(failure);
  context.log[business ? 'warn' : 'info'](
    business ? 'vendor rejected the request' : 'activity attempt failed',
    {
      activity,
      attempt,
      code,
      error: message,
      shipmentId,
      correlationId: shipmentId,
    },
  );
}
