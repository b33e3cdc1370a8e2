import { randomBytes } from 'node:crypto';
import { Client, Connection, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { vi } from 'vitest';
import type { CrmActivities } from '../../../src/activities/crm.js';
import type { DispatchActivities } from '../../../src/activities/dispatch.js';
import type { ErpActivities } from '../../../src/activities/erp.js';
import type { OrchestrationActivities } from '../../../src/activities/orchestration.js';
import { TARIFF, priceQuantities } from '../../../src/domain/billing.js';
import { simAt, type ClockSettings } from '../../../src/domain/clock.js';
import type { DispatchEvent, DispatchEventType } from '../../../src/domain/events.js';
import type {
  Address,
  BillingDocument,
  ExceptionKind,
  GeoPoint,
  Job,
  Order,
  TimeWindow,
} from '../../../src/domain/model.js';
import type { MilestoneReport } from '../../../src/integrations/ports.js';
import { ShipmentWorkflow } from '../../../src/workflows/index.js';
import {
  ShipmentSettings,
  dispatchEventSignal,
  shipmentWorkflowId,
  statusQuery,
  type ShipmentInput,
  type ShipmentStatus,
} from '../../../src/workflows/shipment/contract.js';
import { taskQueues } from '../../../src/workflows/task-queues.js';
import { dispatchEventFor, sampleOrder } from '../../support/fixtures.js';
import { temporalAddress } from '../../support/temporal.js';
import { workflowBundleOptions } from '../../../src/workers/workers.js';

/**
 * Fast workflow tests: the real ShipmentWorkflow on the run's Temporal dev server, with in-memory stand-ins
 * for every activity it calls (no sandboxes, no HTTP) on task queues of the test's own prefix, and a
 * compressed clock so the playbook timers fire within seconds.
 */

/** Worker lines every stub run produces by design: activity-only workers, and the failures a test plants. */
const EXPECTED_NOISE = [/^No workflows registered/, /^Activity failed/, /^Completing activity as failed/];

try {
  // Warnings and errors still show; lifecycle lines and the failures a test asked for do not.
  Runtime.install({
    logger: new DefaultLogger('WARN', (entry) => {
      if (EXPECTED_NOISE.some((re) => re.test(entry.message))) return;
      console.warn(`[${entry.level}] ${entry.message}`, entry.meta ?? '');
    }),
    telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, console: {} } },
  });
} catch {
  // Another module of this test file installed the runtime already.
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The workflow bundle, made once per test file. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode(workflowBundleOptions({ logger: new DefaultLogger('WARN') }));
  return bundle;
}

/** Simulated instant at which every shipment's clock starts: a Tuesday, before the region's 06:00 cutoff. */
export const SIM_START = Date.parse('2026-12-01T05:30:00Z');

/** An ISO instant `minutes` of simulated time after SIM_START. */
export function simMinute(minutes: number): string {
  return new Date(SIM_START + minutes * 60_000).toISOString();
}

/** The pricing version the stand-in ERP prices with. */
export const STUB_PRICING_VERSION = '20000101000000-00000000';

/** The activities the shipment workflow calls, each stood in for by the harness. */
export type StubbedActivities = Pick<
  ErpActivities,
  'erpPostMilestone' | 'erpPostGoodsIssue' | 'erpPostBilling' | 'erpPriceCharges'
> &
  Pick<
    DispatchActivities,
    | 'geocodeAddress'
    | 'dispatchCreateTask'
    | 'dispatchRescheduleTask'
    | 'dispatchUpdateDestination'
    | 'dispatchCancelTask'
  > &
  Pick<
    CrmActivities,
    'crmOpenCase' | 'crmNotifyCustomer' | 'crmCloseCase' | 'crmReplyOnTicket' | 'crmRaiseCasePriority'
  > &
  Pick<OrchestrationActivities, 'ensureRegionPlanning'>;
export type StubName = keyof StubbedActivities;
type Input<N extends StubName> = Parameters<StubbedActivities[N]>[0];

/** The activities the shipment also runs as local activities, on its own worker (as src/workers/workers.ts). */
const LOCAL: ReadonlySet<StubName> = new Set(['dispatchRescheduleTask']);

/** Which queue of the prefix each stub is served on. */
const QUEUE_OF: Record<StubName, 'erp' | 'dispatch' | 'crm' | 'shipments'> = {
  erpPostMilestone: 'erp',
  erpPostGoodsIssue: 'erp',
  erpPostBilling: 'erp',
  erpPriceCharges: 'erp',
  geocodeAddress: 'dispatch',
  dispatchCreateTask: 'dispatch',
  dispatchRescheduleTask: 'dispatch',
  dispatchUpdateDestination: 'dispatch',
  dispatchCancelTask: 'dispatch',
  crmOpenCase: 'crm',
  crmNotifyCustomer: 'crm',
  crmCloseCase: 'crm',
  crmReplyOnTicket: 'crm',
  crmRaiseCasePriority: 'crm',
  ensureRegionPlanning: 'shipments',
};

/** One call of a stubbed activity, as the worker received it. */
export interface StubCall<N extends StubName = StubName> {
  name: N;
  input: Input<N>;
  /** Real epoch ms at which the call started. */
  at: number;
}

/** A task as the stand-in dispatch platform holds it: the job as created, then moved or re-addressed. */
export interface DispatchTask {
  taskId: string;
  job: Job;
  window: TimeWindow;
  address: Address;
  location: GeoPoint;
  cancelled: boolean;
}

/** A case as the stand-in CRM holds it. */
export interface CrmCase {
  caseId: string;
  kind: ExceptionKind;
  priority: string;
  subject: string;
  description: string;
  open: boolean;
  resolution?: string;
}

/** A customer notice as the stand-in CRM holds it. */
export interface CrmNotice {
  message: string;
  caseId?: string;
  plan?: { eta: string; window: TimeWindow };
  idempotencyKey: string;
  /** The notice ticket the workflow named (an earlier notice's answer). */
  threadId?: string;
  /** Set on the shipment's first notice. */
  firstNotice?: boolean;
}

/** A gate an activity stub waits on until the test opens it. */
export interface Gate {
  /** Resolves with the activity's input once the stub is waiting on the gate. */
  reached: Promise<unknown>;
  open(): void;
}

/**
 * Where an address lies, as the stand-in geocoder says: a fixed point per street and ZIP, so a corrected
 * address always lands somewhere else than the original one.
 */
export function stubLocation(address: Address): GeoPoint {
  let h = 2166136261;
  for (const ch of `${address.street}|${address.postalCode}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  const u = (h >>> 0) / 2 ** 32;
  const v = (Math.imul(h, 2654435761) >>> 0) / 2 ** 32;
  return { lat: Math.round((30 + 15 * u) * 1e5) / 1e5, lng: Math.round((-120 + 45 * v) * 1e5) / 1e5 };
}

/** The stand-in systems: what the shipment told the ERP, dispatch and the CRM, deduplicated by key. */
export class StubSystems {
  readonly calls: StubCall[] = [];
  readonly milestones: MilestoneReport[] = [];
  readonly goodsIssues: string[] = [];
  readonly billing: { doc: BillingDocument; billingDocumentId: string }[] = [];
  readonly tasks = new Map<string, DispatchTask>();
  readonly cases: CrmCase[] = [];
  readonly notices: CrmNotice[] = [];
  private readonly keys = new Map<string, unknown>();
  private readonly overrides = new Map<StubName, (input: never) => Promise<unknown>>();
  private readonly gates = new Map<StubName, { wait: Promise<void>; reached: (input: unknown) => void }[]>();
  private readonly openers: (() => void)[] = [];

  /** The default behaviour of each activity: a plausible, idempotent vendor. */
  readonly defaults: StubbedActivities = {
    erpPostMilestone: async (report) => {
      this.once(report.idempotencyKey, () => this.milestones.push(report));
    },
    erpPostGoodsIssue: async ({ idempotencyKey }) => {
      this.once(idempotencyKey, () => this.goodsIssues.push(idempotencyKey));
    },
    erpPostBilling: async ({ doc, idempotencyKey }) =>
      this.once(idempotencyKey, () => {
        const billingDocumentId = `90${String(this.billing.length + 1).padStart(8, '0')}`;
        this.billing.push({ doc, billingDocumentId });
        return { billingDocumentId };
      }),
    // The ERP's prices are the built-in tariff here, so amounts match what the playbooks always billed.
    erpPriceCharges: async ({ quantities }) => ({
      charges: priceQuantities(quantities, TARIFF),
      pricingVersion: STUB_PRICING_VERSION,
    }),
    geocodeAddress: async (address) => ({ ...address, geo: stubLocation(address), quality: 'rooftop' }),
    dispatchCreateTask: async ({ job, idempotencyKey }) =>
      this.once(idempotencyKey, () => {
        const taskId = `tsk-${job.deliveryId}-${job.attempt}-${this.tasks.size + 1}`;
        this.tasks.set(taskId, {
          taskId,
          job,
          window: job.window,
          address: job.address,
          location: job.location,
          cancelled: false,
        });
        return { taskId };
      }),
    dispatchRescheduleTask: async ({ taskId, window }) => {
      const task = this.task(taskId);
      task.window = window;
      return { eta: new Date(Date.parse(window.start) + 45 * 60_000).toISOString() };
    },
    dispatchUpdateDestination: async ({ taskId, address, location }) => {
      const task = this.task(taskId);
      task.address = address;
      task.location = location;
    },
    dispatchCancelTask: async ({ taskId }) => {
      this.task(taskId).cancelled = true;
    },
    crmOpenCase: async (input) =>
      this.once(input.idempotencyKey, () => {
        const caseId = `case-${this.cases.length + 1}`;
        this.cases.push({
          caseId,
          kind: input.kind,
          priority: input.priority,
          subject: input.subject,
          description: input.description,
          open: true,
        });
        return { caseId };
      }),
    crmNotifyCustomer: async (input) => {
      this.once(input.idempotencyKey, () =>
        this.notices.push({
          message: input.message,
          caseId: input.caseId,
          plan: input.plan,
          idempotencyKey: input.idempotencyKey,
          threadId: input.threadId,
          firstNotice: input.firstNotice,
        }),
      );
      return input.caseId
        ? { ticketId: input.caseId, thread: false }
        : { ticketId: `notices-${input.shipmentId}`, thread: true };
    },
    crmCloseCase: async ({ caseId, resolution }) => {
      const c = this.cases.find((x) => x.caseId === caseId);
      if (!c) throw ApplicationFailure.create({ type: 'CRM_TICKET_NOT_FOUND', nonRetryable: true });
      c.open = false;
      c.resolution = resolution;
    },
    crmReplyOnTicket: async (input) => {
      this.once(input.idempotencyKey, () =>
        this.notices.push({ message: input.message, idempotencyKey: input.idempotencyKey }),
      );
    },
    crmRaiseCasePriority: async ({ caseId, priority }) => {
      const c = this.cases.find((x) => x.caseId === caseId);
      if (!c) throw ApplicationFailure.create({ type: 'CRM_TICKET_NOT_FOUND', nonRetryable: true });
      if (c.open) c.priority = priority;
    },
    ensureRegionPlanning: async () => ({ started: true }),
  };

  /** Replaces one activity's behaviour for the rest of the test (`defaults` still holds the original). */
  override<N extends StubName>(name: N, impl: StubbedActivities[N]): void {
    this.overrides.set(name, impl);
  }

  /** The next call of `name` waits until the returned gate is opened, then behaves as usual. */
  hold(name: StubName): Gate {
    let open!: () => void;
    const wait = new Promise<void>((resolve) => (open = resolve));
    let reached!: (input: unknown) => void;
    const reachedP = new Promise<unknown>((resolve) => (reached = resolve));
    this.gates.set(name, [...(this.gates.get(name) ?? []), { wait, reached }]);
    this.openers.push(open);
    return { reached: reachedP, open };
  }

  /** Opens every gate, so no activity stays blocked when the workers shut down. */
  openAll(): void {
    for (const open of this.openers) open();
  }

  /** The inputs of every call of one activity, in call order. */
  inputs<N extends StubName>(name: N): Input<N>[] {
    return this.calls.filter((c) => c.name === name).map((c) => c.input as Input<N>);
  }

  /** Calls of one activity, with their start times. */
  callsOf<N extends StubName>(name: N): StubCall<N>[] {
    return this.calls.filter((c): c is StubCall<N> => c.name === name);
  }

  /** ERP milestones as `CODE#attempt`, in the order they were posted. */
  milestoneCodes(): string[] {
    return this.milestones.map((m) => `${m.milestone.toUpperCase()}#${m.attempt}`);
  }

  /** A task the stand-in dispatch holds; throws DISPATCH_TASK_NOT_FOUND like the real one. */
  task(taskId: string): DispatchTask {
    const task = this.tasks.get(taskId);
    if (!task) throw ApplicationFailure.create({ type: 'DISPATCH_TASK_NOT_FOUND', nonRetryable: true });
    return task;
  }

  /** Activity functions for one queue of the prefix: each records its call, then waits on a gate or runs. */
  activitiesFor(
    queue: 'erp' | 'dispatch' | 'crm' | 'shipments',
  ): Record<string, (input: never) => Promise<unknown>> {
    const out: Record<string, (input: never) => Promise<unknown>> = {};
    for (const name of Object.keys(QUEUE_OF) as StubName[]) {
      if (QUEUE_OF[name] !== queue && !(queue === 'shipments' && LOCAL.has(name))) continue;
      out[name] = async (input: never) => {
        this.calls.push({ name, input, at: Date.now() });
        const gate = this.gates.get(name)?.shift();
        if (gate) {
          gate.reached(input);
          await gate.wait;
        }
        const impl = this.overrides.get(name) ?? this.defaults[name];
        return impl(input);
      };
    }
    return out;
  }

  private once<T>(key: string, effect: () => T): T {
    if (!this.keys.has(key)) this.keys.set(key, effect());
    return this.keys.get(key) as T;
  }
}

/** Options of one shipment started by the harness. */
export interface StartOptions {
  order?: Partial<Order>;
  settings?: Partial<ShipmentSettings>;
  /** Simulated milliseconds per real millisecond; 600 unless given. */
  scale?: number;
}

/** One shipment under test, with helpers that speak its ids. */
export interface TestShipment {
  workflowId: string;
  order: Order;
  clock: ClockSettings;
  settings: ShipmentSettings;
  handle: WorkflowHandle<typeof ShipmentWorkflow>;
  /** The status query, once. */
  status(): Promise<ShipmentStatus>;
  /** Polls the status query until `check` holds; returns that status. */
  until(check: (s: ShipmentStatus) => boolean, timeoutMs?: number): Promise<ShipmentStatus>;
  /** A valid dispatch event for the shipment's current task and attempt (or the ones in `data`). */
  event(type: DispatchEventType, data?: Record<string, unknown>): Promise<DispatchEvent>;
  /** Sends dispatch events of the given types, in order, each built for the current task. */
  send(...events: (DispatchEventType | [DispatchEventType, Record<string, unknown>])[]): Promise<void>;
  /** Simulated now of the shipment's clock, epoch ms. */
  simNow(): number;
}

/** A running set of workers with stub activities on one test's own task queues. */
export interface StubHarness {
  prefix: string;
  client: Client;
  systems: StubSystems;
  start(opts?: StartOptions): Promise<TestShipment>;
  /** Terminates the shipments still running, opens every gate, stops the workers. */
  stop(): Promise<void>;
}

/** A delivery id no other test uses, in the ERP's 10-character format. */
export function uniqueDeliveryId(): string {
  return `W${randomBytes(5).toString('hex').toUpperCase().slice(0, 9)}`;
}

/** Starts the shipment workflow worker and the stub activity workers on a fresh task queue prefix. */
export async function startStubHarness(): Promise<StubHarness> {
  const address = temporalAddress();
  const prefix = `stub${randomBytes(4).toString('hex')}-`;
  const q = taskQueues(prefix);
  const systems = new StubSystems();
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: 'default' });
  const common = { connection: nativeConnection, namespace: 'default', shutdownGraceTime: '1s' } as const;
  const workers = await Promise.all([
    Worker.create({
      ...common,
      taskQueue: q.shipments,
      workflowBundle: await workflowBundle(),
      activities: systems.activitiesFor('shipments'),
    }),
    Worker.create({ ...common, taskQueue: q.erp, activities: systems.activitiesFor('erp') }),
    Worker.create({ ...common, taskQueue: q.dispatch, activities: systems.activitiesFor('dispatch') }),
    Worker.create({ ...common, taskQueue: q.crm, activities: systems.activitiesFor('crm') }),
  ]);
  const running = Promise.all(workers.map((w) => w.run()));
  const started: string[] = [];

  return {
    prefix,
    client,
    systems,
    async start(opts = {}) {
      const clock: ClockSettings = {
        scale: opts.scale ?? 600,
        anchorRealMs: Date.now(),
        anchorSimMs: SIM_START,
      };
      // Planning is not simulated: without a long grace every shipment would escalate a missing assignment.
      const settings = ShipmentSettings.parse({ noAssignmentGraceMinutes: 24 * 60, ...opts.settings });
      const order = sampleOrder({
        deliveryId: uniqueDeliveryId(),
        plannedDate: '2026-12-01',
        requestedWindow: { start: simMinute(90), end: simMinute(210) },
        ...opts.order,
      });
      const workflowId = shipmentWorkflowId(order.deliveryId);
      const input: ShipmentInput = { order, clock, settings, taskQueuePrefix: prefix };
      const handle = await client.workflow.start(ShipmentWorkflow, {
        workflowId,
        taskQueue: q.shipments,
        args: [input],
      });
      started.push(workflowId);
      const simNow = () => simAt(clock, Date.now());
      let sequence = 0;
      const shipment: TestShipment = {
        workflowId,
        order,
        clock,
        settings,
        handle,
        simNow,
        status: () => handle.query(statusQuery),
        async until(check, timeoutMs = 10_000) {
          return vi.waitFor(
            async () => {
              const status = await handle.query(statusQuery);
              if (!check(status))
                throw new Error(`condition not met; last status: ${JSON.stringify(status)}`);
              return status;
            },
            { timeout: timeoutMs, interval: 50 },
          );
        },
        async event(type, data = {}) {
          const status = await handle.query(statusQuery);
          sequence++;
          const time = new Date(simNow()).toISOString();
          return dispatchEventFor({
            workflowId,
            type,
            taskId: status.taskId ?? 'unknown',
            attempt: Math.max(1, status.attempts),
            window: status.window,
            sequence,
            time,
            podLocation: stubLocation(order.address),
            source: 'stub-dispatch',
            data,
          });
        },
        async send(...events) {
          for (const e of events) {
            const [type, data] = typeof e === 'string' ? [e, {}] : e;
            await handle.signal(dispatchEventSignal, await shipment.event(type, data));
          }
        },
      };
      return shipment;
    },
    async stop() {
      systems.openAll();
      await Promise.all(
        started.map(async (id) => {
          try {
            await client.workflow.getHandle(id).terminate('test finished');
          } catch {
            // Already closed.
          }
        }),
      );
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      await connection.close();
      await nativeConnection.close();
    },
  };
}

/** The first ApplicationFailure with a type in an error's cause chain. */
export function typedCause(err: unknown): ApplicationFailure | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof ApplicationFailure && e.type) return e;
  }
  return undefined;
}

/** The business error code an update was rejected with, found anywhere in the failure's cause chain. */
export async function updateRejection(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    if (!(err instanceof WorkflowUpdateFailedError)) throw err;
    return typedCause(err)?.type ?? 'untyped';
  }
}

/** A non-retryable vendor rejection, as the activities' error classification produces it. */
export function businessFailure(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}
