import { z } from 'zod';
import { realAt, type ClockSettings } from '../../src/domain/clock.js';
import { SeededRandom } from '../common/rng.js';
import { estimateTravel } from './optimizer/index.js';
import type { LngLat, OnfleetFailureReason, OnfleetTask } from './onfleet.js';
import { IdFactory } from './seed.js';

/** Driver simulator settings; rates are per stop and drawn from a generator seeded per task. */
export const SimulatorSettings = z.object({
  enabled: z.boolean().default(false),
  /** Share of stops that fail for a reason other than damage. */
  failureRate: z.number().min(0).max(1).default(0.08),
  /** Relative weights of the failure reasons. */
  failureReasons: z
    .object({
      recipient_absent: z.number().min(0).default(5),
      address_not_found: z.number().min(0).default(2),
      refused: z.number().min(0).default(3),
    })
    .default({ recipient_absent: 5, address_not_found: 2, refused: 3 }),
  /** Share of stops where the driver arrives after the window closes. */
  delayRate: z.number().min(0).max(1).default(0.1),
  /** Share of stops where the goods turn out damaged (a failed task with reason DAMAGED). */
  damageRate: z.number().min(0).max(1).default(0.02),
  /** Simulated seconds between two GPS pings while driving. */
  pingIntervalSimSeconds: z.number().int().min(10).max(3600).default(120),
});
/** Parsed simulator settings. */
export type SimulatorSettings = z.infer<typeof SimulatorSettings>;
/** Simulator settings as a caller gives them. */
export type SimulatorSettingsInput = z.input<typeof SimulatorSettings>;

/** What the driver does at one stop, decided once per task from the seed. */
export interface StopDecision {
  outcome: 'completed' | 'failed';
  failureReason: OnfleetFailureReason;
  late: boolean;
  lateMinutes: number;
  /** Travel time multiplier minus one: small positive or negative drift. */
  drift: number;
  waitingMinutes: number;
  photoUploadIds: string[];
  signatureUploadId: string;
}

/** A completed or failed stop, as the simulator reports it. */
export interface StopOutcome {
  decision: StopDecision;
  at: number;
  location: LngLat;
  startLocation: LngLat;
  legMeters: number;
  liftgateUsed: boolean;
}

/**
 * What the simulator needs from the sandbox: the routes to play and the state changes a driver makes.
 * All times are simulated epoch milliseconds.
 */
export interface SimulatorHost {
  readonly clock: ClockSettings;
  simNow(): number;
  /** Every route (plan key, worker) with work left. */
  routesWithWork(): { planKey: string; workerId: string }[];
  /** The task ids of a worker's route in driving order; undefined when the route no longer exists. */
  routeTasks(planKey: string, workerId: string): string[] | undefined;
  /** When the worker's shift starts on that plan's day, and where the route starts and ends. */
  routeFrame(planKey: string, workerId: string): { shiftStart: number; depot: LngLat } | undefined;
  task(taskId: string): OnfleetTask | undefined;
  /** The worker heads to the stop: task becomes active, taskStarted fires. */
  startTask(taskId: string, workerId: string, at: number, eta: number, location: LngLat): void;
  /** A GPS ping on the way: moves the worker; fires taskEta when the ETA moved, taskDelayed once when late. */
  ping(taskId: string, workerId: string, at: number, location: LngLat, eta: number): void;
  /** The worker reaches the stop: taskArrival fires. */
  arrive(taskId: string, workerId: string, at: number, location: LngLat): void;
  /** The stop ends: taskCompleted with proof of delivery, or taskFailed with a reason. */
  finish(taskId: string, workerId: string, outcome: StopOutcome): void;
  /** The worker moves without a task (going on duty, back to the depot). */
  moveWorker(workerId: string, at: number, location: LngLat, onDuty: boolean): void;
}

interface Step {
  at: number;
  run: () => void;
}

interface RoutePlay {
  key: string;
  planKey: string;
  workerId: string;
  /** Where the driver is when free. */
  position: LngLat;
  /** Simulated time at which the driver is free. */
  freeAt: number;
  /** Steps of the stop being played, earliest first. */
  steps: Step[];
  currentTaskId?: string;
  timer?: NodeJS.Timeout;
  onDuty: boolean;
  finished: boolean;
}

/** setTimeout's delay is a signed 32-bit number of ms; longer waits re-arm. */
const MAX_TIMER_MS = 2_147_483_647;
/** At most this many pings per leg, whatever the ping interval. */
const MAX_PINGS_PER_LEG = 30;
const FAILURE_NOTES: Record<string, string> = {
  NOT_AVAILABLE: 'Nobody at the delivery address; card left.',
  POOR_ADDRESS: 'Address could not be found on site.',
  REFUSED: 'Recipient refused the delivery.',
  DAMAGED: 'Goods found damaged at the stop; not handed over.',
};
const REASON_CODES: Record<'recipient_absent' | 'address_not_found' | 'refused', OnfleetFailureReason> = {
  recipient_absent: 'NOT_AVAILABLE',
  address_not_found: 'POOR_ADDRESS',
  refused: 'REFUSED',
};

/**
 * Plays planned routes on the compressed clock: one timer per route, armed for the next step's real
 * instant (`realAt`), never a busy loop. Each stop's outcome comes from a generator seeded with the sandbox
 * seed and the task's idempotency key, so a seed gives the same outcomes whatever the timing.
 */
export class DriverSimulator {
  settings: SimulatorSettings;
  private readonly plays = new Map<string, RoutePlay>();
  private stopped = false;

  constructor(
    private readonly host: SimulatorHost,
    private readonly seed: number,
    initial: SimulatorSettingsInput = {},
  ) {
    this.settings = SimulatorSettings.parse(initial);
  }

  /** Changes settings; enabling starts every route with work, disabling pauses all of them. */
  update(patch: Partial<SimulatorSettingsInput>): SimulatorSettings {
    const merged = {
      ...this.settings,
      ...patch,
      failureReasons: { ...this.settings.failureReasons, ...patch.failureReasons },
    };
    this.settings = SimulatorSettings.parse(merged);
    if (this.settings.enabled) this.resumeAll();
    else this.pauseAll();
    return this.settings;
  }

  /** Called after a plan changed a route: starts or wakes its play. */
  routeChanged(planKey: string, workerId: string): void {
    if (!this.settings.enabled || this.stopped) return;
    const key = `${planKey}|${workerId}`;
    const play = this.plays.get(key) ?? this.createPlay(planKey, workerId);
    if (!play) return;
    if (play.steps.length === 0 && !play.timer) {
      // A driver back at the depot leaves again no earlier than now for stops added later.
      if (play.finished) play.freeAt = Math.max(play.freeAt, this.host.simNow());
      play.finished = false;
      this.advance(play);
    }
  }

  /** Stops every timer for good (sandbox shutdown). */
  stop(): void {
    this.stopped = true;
    this.pauseAll();
  }

  /** The decision for a task, the same for the same seed and key. */
  decide(task: OnfleetTask): StopDecision {
    const stored = task.metadata.find((m) => m.name === 'shipsyncKey')?.value;
    const key = typeof stored === 'string' ? stored : task.id;
    const seed = hash32(`${this.seed}|${key}`);
    const rng = new SeededRandom(seed);
    const ids = new IdFactory(seed ^ 0x9e37);
    const s = this.settings;
    const roll = rng.next();
    let outcome: StopDecision['outcome'] = 'completed';
    let failureReason: OnfleetFailureReason = 'NONE';
    if (roll < s.damageRate) {
      outcome = 'failed';
      failureReason = 'DAMAGED';
    } else if (roll < s.damageRate + s.failureRate) {
      outcome = 'failed';
      failureReason = pickReason(rng.next(), s.failureReasons);
    }
    const late = rng.next() < s.delayRate;
    const lateMinutes = rng.int(10, 150);
    const drift = -0.1 + rng.next() * 0.35;
    const waitingMinutes = rng.next() < 0.2 ? rng.int(5, 45) : 0;
    const photos = rng.int(1, 2);
    return {
      outcome,
      failureReason,
      late,
      lateMinutes,
      drift,
      waitingMinutes,
      photoUploadIds: Array.from({ length: photos }, () => ids.next()),
      signatureUploadId: ids.next(),
    };
  }

  private resumeAll(): void {
    if (this.stopped) return;
    for (const { planKey, workerId } of this.host.routesWithWork()) this.routeChanged(planKey, workerId);
    for (const play of this.plays.values()) if (play.steps.length > 0 && !play.timer) this.arm(play);
  }

  private pauseAll(): void {
    for (const play of this.plays.values()) {
      if (play.timer) clearTimeout(play.timer);
      play.timer = undefined;
    }
  }

  private createPlay(planKey: string, workerId: string): RoutePlay | undefined {
    const frame = this.host.routeFrame(planKey, workerId);
    if (!frame) return undefined;
    const play: RoutePlay = {
      key: `${planKey}|${workerId}`,
      planKey,
      workerId,
      position: frame.depot,
      freeAt: Math.max(frame.shiftStart, 0),
      steps: [],
      onDuty: false,
      finished: false,
    };
    this.plays.set(play.key, play);
    return play;
  }

  /** Plans the steps of the next stop (or the drive back to the depot) and arms the timer. */
  private advance(play: RoutePlay): void {
    if (!this.settings.enabled || this.stopped) return;
    const next = this.nextTask(play);
    if (!next) {
      this.returnToDepot(play);
      return;
    }
    this.planStop(play, next);
    this.arm(play);
  }

  private nextTask(play: RoutePlay): OnfleetTask | undefined {
    const ids = this.host.routeTasks(play.planKey, play.workerId) ?? [];
    const tasks = ids
      .map((id) => this.host.task(id))
      .filter((t): t is OnfleetTask => t !== undefined && t.worker === play.workerId);
    return tasks.find((t) => t.state === 2) ?? tasks.find((t) => t.state === 1);
  }

  private planStop(play: RoutePlay, task: OnfleetTask): void {
    const decision = this.decide(task);
    const dest = task.destination.location;
    const leg = estimateTravel(play.position, dest);
    const travelMs = leg.duration * 1000;
    const planned = task.estimatedArrivalTime ?? play.freeAt + travelMs;
    const depart = Math.round(Math.max(play.freeAt, planned - travelMs));
    let actualMs = Math.round(Math.max(60_000, travelMs * (1 + decision.drift)));
    if (decision.late && task.completeBefore !== null) {
      actualMs = Math.max(actualMs, task.completeBefore + decision.lateMinutes * 60_000 - depart);
    }
    const arrival = depart + actualMs;
    const onSiteMs =
      decision.outcome === 'completed'
        ? task.serviceTime * 60_000 + decision.waitingMinutes * 60_000
        : Math.min(task.serviceTime * 60_000, 8 * 60_000) + decision.waitingMinutes * 60_000;
    const finishAt = Math.round(arrival + Math.max(60_000, onSiteMs));
    const from = play.position;
    const taskId = task.id;
    const workerId = play.workerId;
    const steps: Step[] = [];
    if (!play.onDuty) {
      steps.push({ at: depart, run: () => this.host.moveWorker(workerId, depart, from, true) });
      play.onDuty = true;
    }
    if (task.state !== 2) {
      steps.push({
        at: depart,
        run: () => this.host.startTask(taskId, workerId, depart, depart + travelMs, from),
      });
    }
    const intervalMs = Math.ceil(
      Math.max(this.settings.pingIntervalSimSeconds * 1000, actualMs / MAX_PINGS_PER_LEG),
    );
    for (let at = depart + intervalMs; at < arrival; at += intervalMs) {
      const f = (at - depart) / actualMs;
      const location = lerp(from, dest, f);
      const eta = Math.round(depart + travelMs + (actualMs - travelMs) * f);
      steps.push({ at, run: () => this.host.ping(taskId, workerId, at, location, eta) });
    }
    steps.push({ at: arrival, run: () => this.host.arrive(taskId, workerId, arrival, dest) });
    const liftgateUsed = task.metadata.some((m) => m.name === 'liftgate' && m.value === true);
    steps.push({
      at: finishAt,
      run: () => {
        this.host.finish(taskId, workerId, {
          decision,
          at: finishAt,
          location: dest,
          startLocation: from,
          legMeters: leg.distance,
          liftgateUsed: liftgateUsed && decision.outcome === 'completed',
        });
        play.position = dest;
        play.freeAt = finishAt;
        play.currentTaskId = undefined;
      },
    });
    play.steps = steps;
    play.currentTaskId = taskId;
  }

  private returnToDepot(play: RoutePlay): void {
    const frame = this.host.routeFrame(play.planKey, play.workerId);
    if (!frame || play.finished || !play.onDuty) {
      play.finished = true;
      return;
    }
    const leg = estimateTravel(play.position, frame.depot);
    const at = play.freeAt + leg.duration * 1000;
    const workerId = play.workerId;
    play.steps = [
      {
        at,
        run: () => {
          this.host.moveWorker(workerId, at, frame.depot, false);
          play.position = frame.depot;
          play.freeAt = at;
          play.onDuty = false;
          play.finished = true;
        },
      },
    ];
    this.arm(play);
  }

  /** Arms the route's single timer for its next step. */
  private arm(play: RoutePlay): void {
    if (play.timer) clearTimeout(play.timer);
    play.timer = undefined;
    const step = play.steps[0];
    if (!step || !this.settings.enabled || this.stopped) return;
    const wait = realAt(this.host.clock, step.at) - Date.now();
    play.timer = setTimeout(() => this.fire(play), Math.min(MAX_TIMER_MS, Math.max(0, wait)));
  }

  private fire(play: RoutePlay): void {
    play.timer = undefined;
    const step = play.steps[0];
    if (!step) return;
    if (realAt(this.host.clock, step.at) > Date.now() + 1) {
      this.arm(play);
      return;
    }
    play.steps.shift();
    if (play.currentTaskId !== undefined && !this.stillMine(play.currentTaskId, play.workerId)) {
      // The task was deleted, re-assigned or finished elsewhere: drop the stop and drive on.
      play.steps = [];
      play.currentTaskId = undefined;
      play.freeAt = Math.max(play.freeAt, step.at);
    } else {
      step.run();
    }
    if (play.steps.length > 0) this.arm(play);
    else if (!play.finished) this.advance(play);
  }

  private stillMine(taskId: string, workerId: string): boolean {
    const t = this.host.task(taskId);
    return t !== undefined && t.worker === workerId && t.state !== 3;
  }
}

function pickReason(r: number, weights: SimulatorSettings['failureReasons']): OnfleetFailureReason {
  const entries = Object.entries(weights) as ['recipient_absent' | 'address_not_found' | 'refused', number][];
  const total = entries.reduce((s, [, w]) => s + w, 0);
  if (total <= 0) return 'NOT_AVAILABLE';
  let x = r * total;
  for (const [name, w] of entries) {
    if (x < w) return REASON_CODES[name];
    x -= w;
  }
  return REASON_CODES.recipient_absent;
}

function lerp(a: LngLat, b: LngLat, f: number): LngLat {
  const t = Math.min(1, Math.max(0, f));
  return [round6(a[0] + (b[0] - a[0]) * t), round6(a[1] + (b[1] - a[1]) * t)];
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** FNV-1a, 32 bits: a stable seed from a string. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The failure note the simulated driver leaves for a reason. */
export function failureNote(reason: OnfleetFailureReason): string {
  return FAILURE_NOTES[reason] ?? 'Delivery attempt failed.';
}
