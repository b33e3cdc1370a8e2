import { simAt, type ClockSettings } from '../../../src/domain/clock.js';
import type { EffectLog } from '../../common/effects.js';
import { localDateOf } from '../../../src/domain/local-time.js';
import {
  type LngLat,
  type OnfleetErrorName,
  type OnfleetRecipient,
  type OnfleetTask,
  type OnfleetTeam,
  type OnfleetWorker,
  type TaskContainer,
  type TriggerName,
} from '../onfleet.js';
import { type PlannerUnassigned } from '../planner.js';
import { IdFactory, type SeededOrganization, type WorkerProfile } from '../seed.js';
import { type DriverSimulator } from '../simulator.js';
import type { ActionContext, WebhookHub } from '../webhooks.js';
import type { z } from 'zod';

/** An Onfleet-shaped failure a state operation reports; the HTTP layer turns it into the error body. */
export class DispatchError extends Error {
  /** Creates the error with the Onfleet error class and the cause string. */
  constructor(
    readonly errorName: OnfleetErrorName,
    readonly detail?: string,
  ) {
    super(detail ?? errorName);
    this.name = 'DispatchError';
  }
}

/** The routes of one team on one local date. */
export interface Plan {
  key: string;
  teamId: string;
  date: string;
  /** Epoch ms of local midnight: planner times are seconds after it. */
  origin: number;
  /** Each worker's task ids in driving order, finished and active stops first. */
  routes: Map<string, string[]>;
  unassigned: PlannerUnassigned[];
  plannedAt: number;
  maxTasksPerRoute: number;
}

/** What a team dispatch reports back (the sandbox adds the plan summary to Onfleet's dispatch id). */
export interface DispatchSummary {
  dispatchId: string;
  team: string;
  date: string;
  routes: number;
  assigned: number;
  unassigned: PlannerUnassigned[];
}

/** A GPS ping of a worker. */
export interface PositionPing {
  workerId: string;
  at: number;
  location: LngLat;
}

/** Below this an ETA change is noise and fires no taskEta. */
export const ETA_NOTIFY_MIN_CHANGE_MS = 60_000;
/** While driving, a taskEta goes out only when the ETA moved this much since the last one... */
export const DRIVING_ETA_MIN_CHANGE_MS = 120_000;
/** ...and at most once per this simulated interval per task (Onfleet throttles taskEta per task too). */
export const DRIVING_ETA_MIN_INTERVAL_MS = 10 * 60_000;
export const PAGE_SIZE = 64;
export const MAX_POSITIONS = 10_000;
export const DEFAULT_MAX_TASKS_PER_ROUTE = 100;
export const COMPLETION_METADATA = new Set(['mileageKm', 'liftgate', 'waitingMinutes']);

export type Parsed<T extends z.ZodType> = z.infer<T>;

/** The dispatch platform's state: tasks, plans, positions, the seeded organisation, lookups and webhook wiring. */
export class DispatchStore {
  readonly tasks = new Map<string, OnfleetTask>();
  readonly plans = new Map<string, Plan>();
  readonly positions: PositionPing[] = [];
  simulator: DriverSimulator | undefined;
  protected readonly order: string[] = [];
  protected readonly taskTeam = new Map<string, string>();
  protected readonly taskPlan = new Map<string, string>();
  protected readonly lastEtaSent = new Map<string, number>();
  protected readonly lastEtaSentAt = new Map<string, number>();
  protected readonly ids: IdFactory;
  protected chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly clock: ClockSettings,
    readonly org: SeededOrganization,
    protected readonly opts: {
      seed: number;
      effects: EffectLog;
      webhooks: WebhookHub;
      planning: { timeLimitMs: number; maxIterations?: number };
    },
  ) {
    this.ids = new IdFactory(opts.seed ^ 0x7a5c);
  }

  /** Simulated epoch ms now. */
  simNow(): number {
    return simAt(this.clock, Date.now());
  }

  /** Runs state changes one at a time, so a slow plan never interleaves with another write. */
  serialize<T>(fn: () => T): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  // --- lookups -------------------------------------------------------------------------------------

  /** A team by id or by name (the region code). */
  team(ref: string): OnfleetTeam | undefined {
    return this.org.teams.find((t) => t.id === ref) ?? this.org.teams.find((t) => t.name === ref);
  }

  /** A worker by id. */
  worker(id: string): OnfleetWorker | undefined {
    return this.org.workers.find((w) => w.id === id);
  }

  /** A task by id. */
  task(id: string): OnfleetTask | undefined {
    return this.tasks.get(id);
  }

  protected profile(workerId: string): WorkerProfile {
    const p = this.org.profiles.get(workerId);
    if (!p) throw new Error(`no profile for worker ${workerId}`);
    return p;
  }

  protected hubLocation(teamId: string): LngLat {
    const team = this.team(teamId);
    const hub = this.org.hubs.find((h) => h.id === team?.hub);
    if (!hub) throw new Error(`no hub for team ${teamId}`);
    return hub.location;
  }

  protected timezone(teamId: string): string {
    return this.org.teamSeeds.get(teamId)?.timezone ?? 'UTC';
  }

  protected dateOf(task: OnfleetTask, teamId: string): string {
    const ref =
      task.completeAfter ?? (task.completeBefore !== null ? task.completeBefore - 1 : task.timeCreated);
    return localDateOf(ref, this.timezone(teamId));
  }

  protected planKey(teamId: string, date: string): string {
    return `${teamId}|${date}`;
  }

  // --- wiring ---------------------------------------------------------------------------------------

  protected resolveTeam(container: TaskContainer | undefined, location: LngLat): string {
    if (container?.type === 'TEAM') {
      const team = this.team(container.team);
      if (!team)
        throw new DispatchError('invalidArgument', `container.team: team ${container.team} does not exist`);
      return team.id;
    }
    if (container?.type === 'WORKER') {
      const worker = this.worker(container.worker);
      if (!worker)
        throw new DispatchError(
          'invalidArgument',
          `container.worker: worker ${container.worker} does not exist`,
        );
      return worker.teams[0]!;
    }
    // Without a team the task goes to the team of the nearest hub, so plain Onfleet clients still get routed.
    let best = this.org.teams[0]!.id;
    let bestDistance = Infinity;
    for (const team of this.org.teams) {
      const hub = this.hubLocation(team.id);
      const d = (hub[0] - location[0]) ** 2 + (hub[1] - location[1]) ** 2;
      if (d < bestDistance) {
        bestDistance = d;
        best = team.id;
      }
    }
    return best;
  }

  protected recipient(
    r: {
      name: string;
      phone: string;
      notes?: string | undefined;
      skipSMSNotifications?: boolean | undefined;
    },
    now: number,
  ): OnfleetRecipient {
    return {
      id: this.ids.next(),
      organization: this.org.organizationId,
      timeCreated: now,
      timeLastModified: now,
      name: r.name,
      phone: r.phone.startsWith('+') ? r.phone : `+${r.phone}`,
      notes: r.notes ?? '',
      skipSMSNotifications: r.skipSMSNotifications ?? false,
      metadata: [],
    };
  }

  protected admin(): ActionContext {
    return { type: 'ADMIN', id: this.org.adminId };
  }

  protected publish(
    trigger: TriggerName,
    task: OnfleetTask | undefined,
    time: number,
    actionContext: ActionContext,
    extra: {
      worker?: OnfleetWorker | undefined;
      etaSeconds?: number;
      distance?: number;
      status?: number;
    } = {},
  ): void {
    this.opts.webhooks.publish({ trigger, task, time, actionContext, ...extra });
  }
}
