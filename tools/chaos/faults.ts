import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import axios from 'axios';
import { sql } from 'kysely';
import type { Store } from '../../src/storage/store.js';
import type { FullStack } from '../stack.js';
import type { Recovery } from './plan.js';

const execFileAsync = promisify(execFile);

/** Seconds since `t0`, to a tenth. */
export function secondsSince(t0: number, t = Date.now()): number {
  return Math.round((t - t0) / 100) / 10;
}

/** Polls `probe` every `everyMs` until it is true; resolves with the seconds since `t0`, or undefined after the timeout. */
export async function secondsUntil(
  t0: number,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  everyMs = 250,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return secondsSince(t0);
    await sleep(everyMs);
  }
  return undefined;
}

/** What a gateway's /readyz says, or undefined when it does not answer. */
export async function readiness(url: string): Promise<{ status: number; backlog?: number } | undefined> {
  try {
    const res = await axios.get<{ backlog?: number }>(`${url}/readyz`, {
      timeout: 2_000,
      validateStatus: () => true,
    });
    return { status: res.status, backlog: res.data?.backlog };
  } catch {
    return undefined;
  }
}

/** Inbox rows waiting for delivery, read from the store itself; undefined while it does not answer. */
export async function inboxBacklog(store: Store): Promise<number | undefined> {
  try {
    return await store.inbox.backlog();
  } catch {
    return undefined;
  }
}

/** True when the store answers a trivial query. */
export async function storeAnswers(store: Store): Promise<boolean> {
  try {
    await sql`select 1`.execute(store.db.kysely);
    return true;
  } catch {
    return false;
  }
}

/** True when every process id in `pids` polls the workflow task queue. */
export async function pollersInclude(stack: FullStack, queue: string, pids: readonly (number | undefined)[]) {
  const res = await stack.client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: queue },
    taskQueueType: 1,
  });
  const fresh = (res.pollers ?? []).filter(
    (p) => Date.now() - Number(p.lastAccessTime?.seconds ?? 0) * 1000 < 10_000,
  );
  return pids.every((pid) => fresh.some((p) => p.identity?.startsWith(`${pid}@`)));
}

/** A watch on the inbox backlog from a fault's start until it is back where it was. */
export interface BacklogWatch {
  /** Tells the watch the affected process or service serves again: from now on a low enough reading ends it. */
  served(): void;
  /** The peak seen and the seconds from `t0` until the backlog was at or below `before` after `served()`. */
  result: Promise<Pick<Recovery, 'backlogPeak' | 'backlogDrainedAfterSeconds'>>;
}

/**
 * Samples the inbox backlog every half second from the fault's start (`t0`), so the peak during the outage
 * is seen; once `served()` was called, the first reading at or below `before` ends the watch. Gives up
 * `timeoutMs` after `served()` (or after the start when it is never called).
 */
export function watchBacklog(
  store: Store,
  t0: number,
  before: number | undefined,
  timeoutMs: number,
): BacklogWatch {
  let servedAt: number | undefined;
  const result = (async () => {
    let peak = before ?? 0;
    while (Date.now() - (servedAt ?? t0) < timeoutMs) {
      const n = await inboxBacklog(store);
      if (n !== undefined) {
        peak = Math.max(peak, n);
        if (servedAt !== undefined && n <= (before ?? 0))
          return { backlogPeak: peak, backlogDrainedAfterSeconds: secondsSince(t0) };
      }
      await sleep(500);
    }
    return { backlogPeak: peak };
  })();
  return {
    served: () => {
      servedAt ??= Date.now();
    },
    result,
  };
}

/** The PostgreSQL cluster version on this machine (the first under /etc/postgresql), or 15. */
function clusterVersion(): string {
  try {
    return (
      readdirSync('/etc/postgresql')
        .filter((d) => /^\d+$/.test(d))
        .sort()
        .at(-1) ?? '15'
    );
  } catch {
    return '15';
  }
}

/** The command that restarts the machine's PostgreSQL (override with SHIPSYNC_CHAOS_PG_RESTART, split on spaces). */
export function postgresRestartCommand(env: NodeJS.ProcessEnv = process.env): string[] {
  const custom = env.SHIPSYNC_CHAOS_PG_RESTART?.trim();
  if (custom) return custom.split(/\s+/);
  return ['pg_ctlcluster', clusterVersion(), 'main', 'restart'];
}

/** Restarts the machine's PostgreSQL; resolves when the command returned. */
export async function restartPostgres(): Promise<string> {
  const [cmd, ...args] = postgresRestartCommand();
  await execFileAsync(cmd!, args, { timeout: 120_000 });
  return [cmd, ...args].join(' ');
}
