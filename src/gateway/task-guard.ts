import { QueryNotRegisteredError, type Client } from '@temporalio/client';
import type { DispatchEvent } from '../domain/events.js';
import { statusQuery } from '../workflows/shipment/contract.js';
import { isWorkflowNotFound, withTemporalDeadline } from './temporal.js';

/** Whether a dispatch event may go to its shipment. */
export type TaskCheck = { ok: true; known: boolean } | { ok: false; reason: string };

/** Tuning of the task guard. */
export interface TaskGuardOptions {
  /** How long the status query may take before the guard lets the event through unchecked. */
  queryTimeoutMs?: number;
  /** After a status query failed (worker down or slow), events pass unchecked this long. */
  pauseAfterFailureMs?: number;
  /** Task ids remembered, one per shipment attempt. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * Refuses a dispatch event about a task the shipment did not create, before it is signalled: a task cloned
 * in Onfleet carries the original's metadata (shipment id, attempt), so only the task id tells them apart.
 *
 * The guard asks the shipment's status query for the task of the event's attempt and remembers the answer
 * (a shipment creates exactly one task per attempt). It refuses only what it can tell for sure: an event
 * whose attempt is the shipment's current one, with another task id. Everything else goes through and the
 * workflow decides: an event of an earlier attempt, of an attempt whose task is still being created, of a
 * shipment without a task yet, or any event while the status query cannot be answered (workers down), so
 * signals never wait for a worker.
 */
export class TaskGuard {
  private readonly tasks = new Map<string, string>();
  private pausedUntil = 0;
  private readonly o: Required<TaskGuardOptions>;

  constructor(
    private readonly client: Client,
    opts: TaskGuardOptions = {},
  ) {
    this.o = {
      queryTimeoutMs: opts.queryTimeoutMs ?? 2_000,
      pauseAfterFailureMs: opts.pauseAfterFailureMs ?? 15_000,
      maxEntries: opts.maxEntries ?? 50_000,
      now: opts.now ?? Date.now,
    };
  }

  /** Decides whether the event's task is the one the shipment created for the event's attempt. */
  async check(workflowId: string, event: DispatchEvent): Promise<TaskCheck> {
    const { taskId, attempt } = event.data;
    const key = `${workflowId}#${attempt}`;
    const known = this.tasks.get(key);
    if (known !== undefined) return this.verdict(workflowId, attempt, taskId, known);
    if (this.o.now() < this.pausedUntil) return { ok: true, known: false };
    let status: { taskId?: string; attempts: number };
    try {
      status = await withTemporalDeadline(
        this.client,
        () => this.client.workflow.getHandle(workflowId).query(statusQuery),
        this.o.queryTimeoutMs,
      );
    } catch (err) {
      // No answer: the signal path and the workflow decide. While workers are down, stop asking a while.
      if (!isWorkflowNotFound(err) && !(err instanceof QueryNotRegisteredError)) {
        this.pausedUntil = this.o.now() + this.o.pauseAfterFailureMs;
      }
      return { ok: true, known: false };
    }
    if (status.taskId === undefined || status.attempts !== attempt) return { ok: true, known: false };
    this.remember(key, status.taskId);
    return this.verdict(workflowId, attempt, taskId, status.taskId);
  }

  private verdict(workflowId: string, attempt: number, taskId: string, created: string): TaskCheck {
    if (taskId === created) return { ok: true, known: true };
    return {
      ok: false,
      reason: `dispatch task ${taskId} is not the task ${workflowId} created for attempt ${attempt} (${created})`,
    };
  }

  private remember(key: string, taskId: string) {
    if (this.tasks.size >= this.o.maxEntries) {
      const oldest = this.tasks.keys().next().value;
      if (oldest !== undefined) this.tasks.delete(oldest);
    }
    this.tasks.set(key, taskId);
  }
}
