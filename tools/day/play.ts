import { setTimeout as sleep } from 'node:timers/promises';
import axios from 'axios';
import { simAt, type ClockSettings } from '../../src/domain/clock.js';
import type { Order } from '../../src/domain/model.js';
import { loadConfig, sandboxToken } from '../../src/platform/config.js';
import { releaseNow, upsertReleaseSchedule } from '../../src/platform/release.js';
import type { FullStack } from '../stack.js';
import { DayOperator } from './operator.js';

export { DayOperator, type ActOutcome } from './operator.js';

/**
 * The operator of a running stack, acting through its gateway with the sandbox profile's agent token and
 * its two finance principals' tokens (charges above the four-eyes threshold need both).
 */
export function operatorFor(stack: FullStack, orders: readonly Order[], actor: string): DayOperator {
  return new DayOperator({
    client: stack.client,
    api: axios.create({ baseURL: stack.gatewayUrl, validateStatus: () => true, timeout: 10_000 }),
    orders,
    actor,
    tokens: {
      agent: sandboxToken('agent'),
      finance: sandboxToken('finance'),
      secondFinance: sandboxToken('finance', 1),
    },
  });
}

/**
 * Opens the business day at simulated 04:00: the ERP releases `shipments` deliveries for the stack's
 * planning day, the release Schedule is created and one release pass runs (the ERP's push has started
 * most shipments already). Returns the released orders.
 */
export async function releaseDay(
  stack: FullStack,
  o: { shipments: number; seed: number; mismatchRate: number },
  say: (line: string) => void,
): Promise<Order[]> {
  await sleep(Math.max(0, stack.clock.anchorRealMs - Date.now()));
  const orders = stack.erp.seed(o.shipments, {
    date: stack.date,
    seed: o.seed,
    mismatchRate: o.mismatchRate,
  });
  const config = loadConfig({ ...process.env, SHIPSYNC_TEMPORAL_ADDRESS: stack.temporalAddress });
  await upsertReleaseSchedule(stack.client, config, config.SHIPSYNC_RELEASE_INTERVAL_MINUTES);
  // A campaign may restart Temporal while the pass runs: its result then cannot be read, but the pass (a
  // workflow) goes on, and the release Schedule's next pass starts whatever it missed.
  const pass = await releaseNow(stack.client, config).catch((err: unknown) => {
    say(`release pass: its result could not be read (${err instanceof Error ? err.message : String(err)})`);
    return undefined;
  });
  say(
    `ERP: ${orders.length} deliveries released for ${stack.date}` +
      (pass
        ? `; release pass started ${pass.started}, ${pass.attached} already started by the push webhook`
        : ''),
  );
  return orders;
}

/** How a day is played: when to stop, how often to look, what to do around each look. */
export interface PlayOptions {
  /** Real epoch ms after which the day is given up. */
  deadlineMs: number;
  /** Real ms between two passes. */
  everyMs: number;
  /** `all` lists every shipment (phases, results); `waiting` only those waiting for an agent or finance. */
  mode?: 'all' | 'waiting';
  /** Before each pass, e.g. to inject a fault or restart a process that died. */
  beforePass?: () => Promise<void>;
  /** After each pass with the open shipments by phase; returning true ends the day. */
  afterPass?: (phases: Record<string, number>) => boolean | void | Promise<boolean | void>;
  /** Whether the day is over; by default when every shipment closed. */
  done?: () => boolean;
  /** A pass that failed (e.g. Temporal restarting); the next pass tries again. */
  onError?: (err: unknown) => void;
}

/** Plays the day: passes of the operator until the day is done, `afterPass` ends it or the deadline passes. */
export async function playDay(operator: DayOperator, o: PlayOptions): Promise<void> {
  const done = o.done ?? (() => operator.allClosed);
  while (!done() && Date.now() < o.deadlineMs) {
    await o.beforePass?.();
    let phases: Record<string, number> = {};
    try {
      if (o.mode === 'waiting') await operator.actOnWaiting();
      else phases = await operator.pass();
    } catch (err) {
      phases = { 'temporal-unreachable': 1 };
      o.onError?.(err);
    }
    if ((await o.afterPass?.(phases)) === true) break;
    if (done()) break;
    await sleep(o.everyMs);
  }
}

/** One progress line: simulated time, closed shipments and the open ones by phase. */
export function progressLine(
  clock: ClockSettings,
  operator: DayOperator,
  phases: Record<string, number>,
): string {
  const sim = new Date(simAt(clock, Date.now())).toISOString().slice(0, 16).replace('T', ' ');
  const closed = operator.results.size + operator.closedWithoutResult.size;
  return `sim ${sim}  closed ${closed}/${operator.ids.length}  ${Object.entries(phases)
    .map(([k, v]) => `${k} ${v}`)
    .join('  ')}`;
}
