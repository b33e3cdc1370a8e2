import { createHash } from 'node:crypto';
import { zendeskTime } from './zendesk.js';

/** Job statuses of the Zendesk Job Statuses API. */
export type JobState = 'queued' | 'working' | 'completed' | 'failed';

/** One background job (a `create_many` or an `update_many`), as the sandbox keeps it. */
export interface JobRecord {
  id: string;
  jobType: 'Bulk Create Tickets' | 'Bulk Update Tickets';
  status: JobState;
  total: number;
  progress: number;
  message: string | null;
  results: Record<string, unknown>[];
  createdAt: number;
}

/** Zendesk keeps a job's status for a day after it was queued. */
export const JOB_RETENTION_MS = 24 * 3600 * 1000;

/**
 * The sandbox's background jobs. A queued job starts after `delayMs` (0: on the next turn of the event loop,
 * always after the response that queued it), then works through its tasks one per turn, so a poll can see it
 * `working` with its progress, and ends `completed` with one result per task. A task that throws fails the
 * job (`failed`, with the message), as an internal error would on Zendesk.
 */
export class JobQueue {
  private readonly jobs = new Map<string, JobRecord>();
  /** Pending pauses: each timer and how to end its wait early. */
  private readonly timers = new Map<NodeJS.Timeout | NodeJS.Immediate, () => void>();
  private readonly running = new Set<Promise<void>>();
  private seq = 0;
  private closed = false;

  constructor(
    private readonly now: () => number,
    private readonly seed: number,
    /** Milliseconds a job stays queued before it starts. */
    public delayMs = 0,
  ) {}

  /** Queues a job whose tasks each produce one result entry; returns it at once (`queued`). */
  enqueue(jobType: JobRecord['jobType'], tasks: (() => Record<string, unknown>)[]): JobRecord {
    this.forgetOld();
    this.seq += 1;
    const id = createHash('sha256').update(`crm-job:${this.seed}:${this.seq}`).digest('hex').slice(0, 32);
    const job: JobRecord = {
      id,
      jobType,
      status: 'queued',
      total: tasks.length,
      progress: 0,
      message: null,
      results: [],
      createdAt: this.now(),
    };
    this.jobs.set(id, job);
    const run = this.run(job, tasks).finally(() => this.running.delete(run));
    this.running.add(run);
    return job;
  }

  /** A job by id, while Zendesk would still show it. */
  get(id: string): JobRecord | undefined {
    const job = this.jobs.get(id);
    if (job && this.now() - job.createdAt > JOB_RETENTION_MS) return undefined;
    return job;
  }

  /** Every job still kept, oldest first. */
  list(): JobRecord[] {
    return [...this.jobs.values()];
  }

  /** Waits until every queued job has finished. */
  async drain(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running]);
  }

  /** Stops starting jobs; jobs not started stay queued. */
  close(): void {
    this.closed = true;
    for (const [t, stop] of this.timers) {
      clearTimeout(t as NodeJS.Timeout);
      clearImmediate(t as NodeJS.Immediate);
      stop();
    }
    this.timers.clear();
  }

  private async run(job: JobRecord, tasks: (() => Record<string, unknown>)[]): Promise<void> {
    if (!(await this.pause(this.delayMs))) return;
    job.status = 'working';
    try {
      for (const task of tasks) {
        if (!(await this.pause(0))) return;
        job.results.push(task());
        job.progress += 1;
      }
      job.status = 'completed';
      job.message = `Completed at ${zendeskTime(this.now()).replace('T', ' ').replace('Z', ' +0000')}`;
    } catch (err) {
      job.status = 'failed';
      job.message = err instanceof Error ? err.message : String(err);
    }
  }

  /** Resolves true after `ms` (or the next turn for 0), false when the queue was closed meanwhile. */
  private pause(ms: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        this.timers.delete(timer);
        resolve(!this.closed);
      };
      const timer = ms > 0 ? setTimeout(done, ms) : setImmediate(done);
      this.timers.set(timer, () => resolve(false));
    });
  }

  private forgetOld(): void {
    const now = this.now();
    for (const [id, job] of this.jobs) {
      if (now - job.createdAt <= JOB_RETENTION_MS) break;
      if (job.status === 'completed' || job.status === 'failed') this.jobs.delete(id);
    }
  }
}

/** A job status as the Job Statuses API renders it. */
export function jobStatusJson(job: JobRecord, baseUrl: string) {
  return {
    id: job.id,
    job_type: job.jobType,
    url: `${baseUrl}/api/v2/job_statuses/${job.id}.json`,
    total: job.total,
    progress: job.status === 'queued' ? null : job.progress,
    status: job.status,
    message: job.message,
    results: job.status === 'queued' ? null : job.results.map((r) => ({ ...r })),
  };
}
