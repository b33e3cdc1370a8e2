import type { Client } from '@temporalio/client';
import type { DispatchEvent } from '../domain/events.js';
import { DISPATCH_TASK_MEMO, type DispatchTaskMemo } from '../workflows/shipment/contract.js';
import { isWorkflowNotFound, withTemporalDeadline } from './temporal.js';

/** Whether a dispatch event may go to its shipment. */
export type TaskCheck = { ok: true; known: boolean } | { ok: false; reason: string };

/** Tuning of the task guard. */
export interface TaskGuardOptions {
  /** How long Temporal may take to describe the shipment before the guard lets the event through unchecked. */
  describeTimeoutMs?: number;
  /** After a describe failed (Temporal down or slow), events pass unchecked this long. */
  pauseAfterFailureMs?: number;
  /** Task ids remembered, one per shipment attempt. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * Refuses a dispatch event about a task the shipment did not create, before it is signalled: a task cloned
 * in Onfleet carries the original's metadata (shipment id, attempt), so only the task id tells them apart.
 *
 * The shipment names the task of its current attempt in its memo; the guard reads it with a describe, which
 * Temporal answers without a worker, and remembers the answer (a shipment creates exactly one task per
 * attempt). It refuses only what it can tell for sure: an event whose attempt is the shipment's current one,
 * with another task id. Everything else goes through and the workflow decides: an event of an earlier
 * attempt, of an attempt whose task is still being created, of a shipment without a task yet or started
 * before it wrote the memo, or any event while Temporal cannot answer, so signals never wait on the guard.
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
      describeTimeoutMs: opts.describeTimeoutMs ?? 2_000,
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
    let task: Partial<DispatchTaskMemo> | undefined;
    try {
      const described = await withTemporalDeadline(
        this.client,
        () => this.client.workflow.getHandle(workflowId).describe(),
        this.o.describeTimeoutMs,
      );
      task = described.memo?.[DISPATCH_TASK_MEMO] as Partial<DispatchTaskMemo> | undefined;
    } catch (err) {
      // No answer: the signal path and the workflow decide. While Temporal cannot answer, stop asking a while.
      if (!isWorkflowNotFound(err)) this.pausedUntil = this.o.now() + this.o.pauseAfterFailureMs;
      return { ok: true, known: false };
    }
    if (typeof task?.taskId !== 'string' || task.attempt !== attempt) return { ok: true, known: false };
    this.remember(key, task.taskId);
    return this.verdict(workflowId, attempt, taskId, task.taskId);
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
