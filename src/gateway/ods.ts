import type { Client } from '@temporalio/client';
import PQueue from 'p-queue';
import { simAt, type ClockSettings } from '../domain/clock.js';
import { isDispatchEvent, type CanonicalEvent } from '../domain/events.js';
import type { AppLogger } from '../platform/logger.js';
import type { OdsEvent, StopChange, Store } from '../storage/store.js';
import { deliveryIdOf, statusQuery, type ShipmentStatus } from '../workflows/shipment/contract.js';
import { SA, shipmentsQuery } from '../workflows/shipment/search-attributes.js';
import type { CrmCaseRecord } from '../integrations/crm/adapter.js';
import type { DispatchTaskRecord } from '../integrations/dispatch/adapter.js';
import { errorText } from './forwarder.js';
import { listWorkflows, normalizeShipmentId, withTemporalDeadline, workflowStatusOf } from './temporal.js';

/** What the projector needs. */
export interface OdsProjectorDeps {
  client: Client;
  store: Store;
  logger: AppLogger;
  /** The compressed clock: times the projector observes are written in simulated time. */
  clock: ClockSettings;
  /** Task queue prefix of this deployment: the sweep and the rebuild list only its shipments. */
  taskQueuePrefix: string;
  /** Real milliseconds between sweeps over running shipments; 0 turns the sweep off. */
  sweepMs: number;
  /** Status queries in flight at once. */
  concurrency?: number;
  /** Deadline of one status query. */
  queryTimeoutMs?: number;
  /**
   * The vendors' own records of a shipment (dispatch tasks, CRM case tickets), read through their public
   * APIs when a shipment closes and by the rebuild. Without it the ODS knows only what the workflow and the
   * webhooks told it.
   */
  vendors?: OdsVendorReader;
}

/**
 * What asked for a status query: a delivered dispatch event, an operator's change through the API, the sweep
 * (a shipment whose phase changed, or that closed), the sweep's look at a shipment with an open exception
 * or waiting for approval whose phase did not change (`watch`), or a rebuild.
 */
export type OdsTrigger = 'event' | 'api' | 'sweep' | 'watch' | 'rebuild';

/** What the ODS reads of a shipment from the vendors' public APIs (the dispatch and CRM adapters). */
export interface OdsVendorReader {
  tasksOfShipment(shipmentId: string): Promise<DispatchTaskRecord[]>;
  /** The shipment's case tickets: the given ones by id, or (none given) every ticket of its external id. */
  caseTicketsOf(shipmentId: string, known?: readonly string[]): Promise<CrmCaseRecord[]>;
}

/** A dispatch event's change to its stop, or undefined for one that changes none. */
export function stopChangeOf(event: CanonicalEvent, shipmentId: string): StopChange | undefined {
  if (!isDispatchEvent(event)) return undefined;
  const base = { shipmentId, attempt: event.data.attempt, taskId: event.data.taskId };
  switch (event.type) {
    case 'route.assigned.v1':
      return {
        ...base,
        eta: event.data.eta,
        assigned: {
          at: event.time,
          driverId: event.data.driverId,
          ...(event.data.routeId ? { routeId: event.data.routeId } : {}),
        },
      };
    case 'stop.started.v1':
      return event.data.eta ? { ...base, eta: event.data.eta } : base;
    case 'stop.eta.v1':
    case 'delivery.delayed.v1':
      return { ...base, eta: event.data.eta };
    case 'stop.arrived.v1':
      return { ...base, arrivedAt: event.data.arrivedAt };
    case 'delivery.completed.v1':
      return { ...base, completedAt: event.time };
    case 'delivery.failed.v1':
      return { ...base, failedAt: event.data.failedAt, failureReason: event.data.reason };
    case 'route.unassigned.v1':
      return base;
  }
}

/** The timeline detail of a dispatch event: what an operator wants to read, never personal data. */
function eventDetail(event: CanonicalEvent): Record<string, unknown> {
  const d = event.data as Record<string, unknown>;
  const keep = [
    'attempt',
    'taskId',
    'driverId',
    'routeId',
    'eta',
    'driftSeconds',
    'delaySeconds',
    'arrivedAt',
  ];
  const out: Record<string, unknown> = {};
  for (const k of keep) if (d[k] !== undefined) out[k] = d[k];
  if (event.type === 'delivery.failed.v1') out.reason = event.data.reason;
  if (event.type === 'delivery.completed.v1') {
    out.mileageKm = event.data.mileageKm;
    out.accessorials = event.data.accessorials;
  }
  if (event.type === 'reschedule.requested.v1') out.window = event.data.window;
  return out;
}

/**
 * Keeps the ODS read model in step with what already flows: every dispatch event the forwarder delivered is
 * applied to its stop (once per event id), and the shipment it touched is projected again from its
 * workflow's status query. A periodic sweep projects the running shipments too, so milestones that no
 * webhook announces (publication, billing, cases opened by timers) reach the read model within a sweep.
 * The workflow stays the only source of truth: nothing here is ever read back into it.
 */
export class OdsProjector {
  private readonly queue: PQueue;
  private readonly queued = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private lastPassStartedAt: number | undefined;
  /** Each running shipment's phase in visibility at the last sweep, and how many sweeps have run. */
  private visiblePhases = new Map<string, string | null>();
  private passes = 0;
  private stopped = false;
  /** Projections written and failed since start (for tests and the console's health view). */
  readonly stats = {
    projected: 0,
    failed: 0,
    sweeps: 0,
    lastSweepAt: null as string | null,
    /** Status queries asked since start, by what asked for them (`shipsync_ods_status_queries`). */
    queries: { event: 0, api: 0, sweep: 0, watch: 0, rebuild: 0 } as Record<OdsTrigger, number>,
  };

  constructor(private readonly d: OdsProjectorDeps) {
    this.queue = new PQueue({ concurrency: d.concurrency ?? 8 });
  }

  /** The current simulated time as an ISO string. */
  now(): string {
    return new Date(simAt(this.d.clock, Date.now())).toISOString();
  }

  /** Starts the periodic sweep (when configured). */
  start(): void {
    if (this.d.sweepMs <= 0 || this.timer) return;
    const tick = () => {
      this.timer = setTimeout(() => {
        void this.sweep().finally(() => {
          if (!this.stopped) tick();
        });
      }, this.d.sweepMs);
      this.timer.unref?.();
    };
    tick();
  }

  /** Stops the sweep and waits for the projections in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    // Queued projections are dropped; the ones in flight end within their query deadline.
    this.queue.clear();
    await this.queue.onIdle();
    await this.sweeping;
  }

  /** Called after the forwarder delivered an event: applies it and projects its shipment again. */
  async onDelivered(event: CanonicalEvent): Promise<void> {
    const shipmentId = normalizeShipmentId(event.subject);
    if (!shipmentId) return;
    try {
      await this.applyEvent(event, shipmentId);
    } catch (err) {
      this.d.logger.warn(
        { err: errorText(err), eventId: event.id, shipmentId },
        'ODS could not apply an event',
      );
    }
    // The workflow just took the event, so it runs: one status query, no describe.
    this.schedule(shipmentId, 'RUNNING', 'event');
  }

  /** Applies one canonical event to the read model; false when it was applied before. */
  async applyEvent(event: CanonicalEvent, shipmentId: string): Promise<boolean> {
    const entry: OdsEvent = {
      eventId: event.id,
      shipmentId,
      type: event.type,
      at: event.time,
      detail: eventDetail(event),
    };
    const change = stopChangeOf(event, shipmentId);
    if (change) return this.d.store.ods.applyStopEvent(entry, change);
    return (await this.d.store.ods.recordEvents([entry])).length > 0;
  }

  /** Queues a projection of one shipment (coalesced while one is waiting). */
  schedule(shipmentId: string, workflowStatus?: string, trigger: OdsTrigger = 'api'): void {
    if (this.stopped || this.queued.has(shipmentId)) return;
    this.queued.add(shipmentId);
    void this.queue.add(async () => {
      this.queued.delete(shipmentId);
      await this.refresh(shipmentId, { ...(workflowStatus ? { workflowStatus } : {}), trigger }).catch(
        () => undefined,
      );
    });
  }

  /** Resolves when every queued projection is done. */
  idle(): Promise<void> {
    return this.queue.onIdle();
  }

  /**
   * Projects one shipment from its workflow: describe (status of the run) and the status query. Returns
   * false when the workflow could not be read (not found, no worker to answer the query).
   */
  async refresh(
    shipmentId: string,
    known?: { workflowStatus?: string; vendors?: boolean; trigger?: OdsTrigger },
  ): Promise<boolean> {
    const timeout = this.d.queryTimeoutMs ?? 5_000;
    this.stats.queries[known?.trigger ?? 'api']++;
    try {
      const handle = this.d.client.workflow.getHandle(shipmentId);
      const workflowStatus =
        known?.workflowStatus ??
        (await withTemporalDeadline(
          this.d.client,
          () => workflowStatusOf(this.d.client, shipmentId),
          timeout,
        ));
      const status = await withTemporalDeadline(this.d.client, () => handle.query(statusQuery), timeout);
      await this.project(status, workflowStatus, known?.vendors === false ? { vendors: false } : {});
      this.stats.projected++;
      return true;
    } catch (err) {
      this.stats.failed++;
      this.d.logger.debug({ err: errorText(err), shipmentId }, 'ODS could not project a shipment');
      return false;
    }
  }

  /** Writes a status into the read model: the shipment row, its cases, milestones and revisions on the timeline. */
  async project(s: ShipmentStatus, workflowStatus: string, opts: { vendors?: boolean } = {}): Promise<void> {
    const ods = this.d.store.ods;
    const now = this.now();
    const previous = await ods.shipment(s.shipmentId);
    const closing = s.phase === 'closed' || workflowStatus !== 'RUNNING';
    // The first projection that sees the run ended (every side effect done: cases solved in the CRM, tasks
    // completed) reads the vendors' records of it first, so a row that says the run ended already holds
    // them: cases opened and solved between two projections, the CRM's and dispatch's own times.
    const ended = workflowStatus !== 'RUNNING' && (!previous || previous.workflowStatus === 'RUNNING');
    const fromVendors =
      ended && opts.vendors !== false ? await this.fromVendors(s.shipmentId, s.region, s.caseIds) : undefined;
    const milestone = (m: string) => s.milestones.filter((e) => e.milestone === m).at(-1)?.at;
    const published = s.taskId || !['released', 'validating', 'on_hold'].includes(s.phase) ? now : undefined;
    const billed = milestone('billed') ?? (s.billingDocumentId ? now : undefined);
    const total = s.charges.reduce((sum, c) => sum + c.amount, 0);
    await ods.upsertShipment({
      shipmentId: s.shipmentId,
      deliveryId: s.deliveryId ?? deliveryIdOf(s.shipmentId) ?? null,
      customerId: s.customerId ?? null,
      region: s.region,
      day: s.window.start.slice(0, 10),
      phase: s.phase,
      windowStart: s.window.start,
      windowEnd: s.window.end,
      eta: s.eta ?? null,
      taskId: s.taskId ?? null,
      driverId: s.driverId ?? null,
      routeId: s.routeId ?? null,
      attempts: s.attempts,
      charges: s.charges,
      chargesTotal: Math.round(total * 100) / 100,
      awaitingApproval: s.awaitingApproval,
      approvals: s.approvals ?? [],
      approvalsRequired: s.approvalsRequired ?? null,
      billingDocumentId: s.billingDocumentId ?? null,
      outcome: s.outcome ?? null,
      workflowStatus,
      ...(published ? { publishedAt: published } : {}),
      ...(fromVendors?.publishedAt ? { vendorPublishedAt: fromVendors.publishedAt } : {}),
      ...(milestone('planned') ? { assignedAt: milestone('planned') } : {}),
      ...(milestone('delivered') ? { deliveredAt: milestone('delivered') } : {}),
      ...(billed ? { billedAt: billed } : {}),
      ...(closing ? { closedAt: now } : {}),
      updatedAt: new Date().toISOString(),
    });
    const timeline: OdsEvent[] = s.milestones.map((m) => ({
      eventId: `${s.shipmentId}:milestone:${m.milestone}:${m.attempt}`,
      shipmentId: s.shipmentId,
      type: `milestone.${m.milestone}`,
      at: m.at,
      detail: { attempt: m.attempt, ...(m.eta ? { eta: m.eta } : {}) },
    }));
    if (s.eta && s.eta !== previous?.eta)
      timeline.push({
        eventId: `${s.shipmentId}:eta:${s.eta}`,
        shipmentId: s.shipmentId,
        type: 'eta.revised',
        at: now,
        detail: { eta: s.eta, ...(previous?.eta ? { previous: previous.eta } : {}) },
      });
    if (!previous || previous.phase !== s.phase)
      timeline.push({
        eventId: `${s.shipmentId}:phase:${s.phase}:${s.attempts}`,
        shipmentId: s.shipmentId,
        type: 'phase',
        at: now,
        detail: { phase: s.phase, attempts: s.attempts },
      });
    if (s.charges.length > 0 && previous?.chargesTotal !== Math.round(total * 100) / 100)
      timeline.push({
        eventId: `${s.shipmentId}:charges:${s.charges.map((c) => `${c.code}=${c.amount}`).join(',')}`,
        shipmentId: s.shipmentId,
        type: 'charges',
        at: now,
        detail: { total, codes: s.charges.map((c) => c.code), awaitingApproval: s.awaitingApproval },
      });
    for (const a of s.approvals ?? [])
      timeline.push({
        eventId: `${s.shipmentId}:approval:${a.principal}:${a.decision}`,
        shipmentId: s.shipmentId,
        type: 'approval',
        at: a.at,
        detail: { principal: a.principal, decision: a.decision },
      });
    const cases = await ods.syncCases(s.shipmentId, s.region, s.openCases, now);
    for (const key of cases.opened)
      timeline.push({
        eventId: `${key}:opened`,
        shipmentId: s.shipmentId,
        type: 'case.opened',
        at: now,
        detail: {
          case: key.slice(s.shipmentId.length + 1),
          kind: s.openCases.find((c) => key.endsWith(`:${c.caseId ?? c.kind}`))?.kind,
        },
      });
    for (const key of cases.resolved)
      timeline.push({
        eventId: `${key}:resolved`,
        shipmentId: s.shipmentId,
        type: 'case.resolved',
        at: now,
        detail: { case: key.slice(s.shipmentId.length + 1) },
      });
    await ods.recordEvents(timeline);
  }

  /**
   * Reads a shipment's tasks and case tickets through the vendors' public APIs (the cases by id when the run
   * names the ones it opened, else every ticket of the shipment) and writes them: each task's
   * arrival, completion or failure onto its stop, each case with the CRM's open and resolve times (the CRM
   * keeps real time; it is converted to the simulated clock). Returns when dispatch says it was published
   * (its first task's creation) and what it wrote; undefined (logged) when a vendor could not be read.
   */
  async fromVendors(
    shipmentId: string,
    region: string,
    caseIds?: readonly string[],
  ): Promise<{ publishedAt?: string; tasks: number; cases: number } | undefined> {
    const vendors = this.d.vendors;
    if (!vendors) return undefined;
    try {
      const [tasks, tickets] = await Promise.all([
        vendors.tasksOfShipment(shipmentId),
        vendors.caseTicketsOf(shipmentId, caseIds),
      ]);
      for (const t of tasks) {
        const state = t.completedAt ?? t.failedAt ?? t.arrivedAt ?? 'open';
        await this.d.store.ods.applyStopEvent(
          {
            eventId: `${shipmentId}:dispatch-task:${t.taskId}:${state}`,
            shipmentId,
            type: 'dispatch.task',
            at: t.completedAt ?? t.failedAt ?? t.arrivedAt ?? t.createdAt,
            detail: {
              attempt: t.attempt,
              taskId: t.taskId,
              ...(t.arrivedAt ? { arrivedAt: t.arrivedAt } : {}),
              ...(t.completedAt ? { completedAt: t.completedAt } : {}),
              ...(t.failedAt ? { failedAt: t.failedAt, reason: t.failureReason } : {}),
            },
          },
          {
            shipmentId,
            attempt: t.attempt,
            taskId: t.taskId,
            // The window this attempt was dispatched with: the one its arrival is judged against.
            ...(t.windowStart && t.windowEnd ? { window: { start: t.windowStart, end: t.windowEnd } } : {}),
            ...(t.eta ? { eta: t.eta } : {}),
            ...(t.arrivedAt ? { arrivedAt: t.arrivedAt } : {}),
            ...(t.completedAt ? { completedAt: t.completedAt } : {}),
            ...(t.failedAt ? { failedAt: t.failedAt } : {}),
            ...(t.failureReason ? { failureReason: t.failureReason } : {}),
          },
        );
      }
      const sim = (iso: string) => new Date(simAt(this.d.clock, Date.parse(iso))).toISOString();
      const cases = await this.d.store.ods.upsertVendorCases(
        shipmentId,
        region,
        tickets.map((c) => ({
          caseId: c.caseId,
          kind: c.kind,
          openedAt: sim(c.openedAt),
          ...(c.resolvedAt ? { resolvedAt: sim(c.resolvedAt) } : {}),
        })),
      );
      await this.d.store.ods.recordEvents([
        ...cases.opened.map((c) => ({
          eventId: `${c.caseKey}:opened`,
          shipmentId,
          type: 'case.opened',
          at: c.openedAt,
          detail: { case: c.caseId, kind: c.kind },
        })),
        ...cases.resolved.map((c) => ({
          eventId: `${c.caseKey}:resolved`,
          shipmentId,
          type: 'case.resolved',
          at: c.resolvedAt!,
          detail: { case: c.caseId },
        })),
      ]);
      const publishedAt = tasks.map((t) => t.createdAt).sort()[0];
      return { ...(publishedAt ? { publishedAt } : {}), tasks: tasks.length, cases: tickets.length };
    } catch (err) {
      this.d.logger.warn(
        { err: errorText(err), shipmentId },
        "ODS could not read a shipment's vendor records",
      );
      return undefined;
    }
  }

  /**
   * The visibility query of this deployment's shipments: all of them, or the running ones and the ones that
   * closed after `closedSince` (a shipment can start and close between two passes).
   */
  private listQuery(running: boolean, closedSince?: Date): string {
    const live = closedSince
      ? `(ExecutionStatus = 'Running' OR CloseTime > '${closedSince.toISOString()}')`
      : `ExecutionStatus = 'Running'`;
    return shipmentsQuery(this.d.taskQueuePrefix, ...(running ? [live] : []));
  }

  /**
   * Projects the shipments that changed: running ones that visibility shows in another phase than the ODS
   * holds (once per phase visibility shows), with an open exception, or not yet in the ODS, and the ones the
   * ODS still holds as running that visibility no longer lists (they closed). One visibility listing per pass,
   * a status query only per change.
   */
  async sweep(): Promise<number> {
    if (this.sweeping) {
      await this.sweeping;
      return 0;
    }
    let n = 0;
    this.sweeping = (async () => {
      try {
        const listed = new Map<string, { phase?: string; exception?: string }>();
        const closed = new Map<string, string>();
        // Closed since a minute before the last pass began (the first pass looks an hour back).
        const since = new Date((this.lastPassStartedAt ?? Date.now() - 3_600_000) - 60_000);
        this.lastPassStartedAt = Date.now();
        await withTemporalDeadline(
          this.d.client,
          async () => {
            const keywords = [SA.ShipmentStatus.name, SA.OpenException.name];
            for await (const wf of listWorkflows(this.d.client, this.listQuery(true, since), keywords)) {
              if (wf.status !== 'RUNNING') {
                closed.set(wf.workflowId, wf.status);
                continue;
              }
              listed.set(wf.workflowId, {
                phase: wf.keywords[SA.ShipmentStatus.name],
                exception: wf.keywords[SA.OpenException.name],
              });
            }
          },
          30_000,
        );
        const known = await this.d.store.ods.phasesOf([...listed.keys(), ...closed.keys()]);
        const ids = new Map<string, { workflowStatus?: string; trigger: OdsTrigger }>();
        const bySweep = (workflowStatus?: string) => ({
          ...(workflowStatus ? { workflowStatus } : {}),
          trigger: 'sweep' as const,
        });
        // A shipment that closed since the last pass and that the ODS never saw closing.
        for (const [id, status] of closed) if (known.get(id) !== 'closed') ids.set(id, bySweep(status));
        for (const id of await this.d.store.ods.runningIds()) if (!listed.has(id)) ids.set(id, bySweep());
        // The search attribute trails the phase that a dispatch event's projection already wrote, so a
        // difference alone is no news. A shipment is asked again when visibility shows it in a phase it did
        // not show at the last pass; every tenth pass (and the first) asks for every difference.
        const seen = this.passes % 10 === 0 ? new Map<string, string | null>() : this.visiblePhases;
        const phases = new Map<string, string | null>();
        for (const [id, sa] of listed) {
          const phase = sa.phase ?? null;
          phases.set(id, phase);
          const differs = !known.has(id) || phase === null || phase !== known.get(id);
          const moved = !seen.has(id) || seen.get(id) !== phase;
          // Open cases age and approvals accumulate without a phase change: those shipments are looked at each pass.
          const watched =
            (sa.exception !== undefined && sa.exception !== 'none') || sa.phase === 'awaiting_approval';
          if (differs && moved) ids.set(id, bySweep('RUNNING'));
          else if (watched) ids.set(id, { workflowStatus: 'RUNNING', trigger: 'watch' });
        }
        this.visiblePhases = phases;
        this.passes++;
        if (this.stopped) return;
        for (const [id, known] of ids)
          void this.queue.add(async () => {
            // A projection that failed is tried again at the next pass.
            if (!(await this.refresh(id, known))) this.visiblePhases.delete(id);
          });
        // onIdle, not the tasks' own promises: a stop() clears the queue and those would never settle.
        await this.queue.onIdle();
        n = ids.size;
        this.stats.sweeps++;
        this.stats.lastSweepAt = new Date().toISOString();
      } catch (err) {
        this.d.logger.warn({ err: errorText(err) }, 'ODS sweep failed');
      }
    })();
    await this.sweeping;
    this.sweeping = undefined;
    return n;
  }

  /**
   * Rebuilds the read model from scratch: every shipment of this deployment that Temporal's visibility
   * lists (running and closed) is projected from its status query, the dispatch events the gateway's inbox
   * still holds are applied again to their stops, and then each shipment's records at the vendors are read
   * through their public APIs: dispatch's tasks (publication, arrival, completion or failure of each attempt,
   * for stops whose inbox rows were purged) and the CRM's case tickets (every case with its open and resolve
   * times, including those that opened and closed between two projections).
   */
  async rebuild(): Promise<{
    shipments: number;
    projected: number;
    events: number;
    tasks: number;
    cases: number;
  }> {
    await this.d.store.ods.clear();
    const found: { id: string; status: string }[] = [];
    for await (const wf of this.d.client.workflow.list({ query: this.listQuery(false) }))
      found.push({ id: wf.workflowId, status: wf.status.name });
    let projected = 0;
    for (const f of found)
      void this.queue.add(async () => {
        if (await this.refresh(f.id, { workflowStatus: f.status, vendors: false, trigger: 'rebuild' }))
          projected++;
      });
    await this.queue.onIdle();
    let events = 0;
    for (const f of found) {
      for (const row of await this.d.store.inbox.list({
        shipmentId: f.id,
        status: 'delivered',
        limit: 5_000,
      })) {
        if (row.outcome !== 'forwarded') continue;
        try {
          if (await this.applyEvent(row.payload as CanonicalEvent, f.id)) events++;
        } catch (err) {
          this.d.logger.debug({ err: errorText(err), eventId: row.eventId }, 'ODS rebuild skipped an event');
        }
      }
    }
    let tasks = 0;
    let cases = 0;
    for (const f of found)
      void this.queue.add(async () => {
        const row = await this.d.store.ods.shipment(f.id);
        if (!row) return;
        const v = await this.fromVendors(f.id, row.region);
        if (!v) return;
        if (v.publishedAt) await this.d.store.ods.setPublishedAt(f.id, v.publishedAt);
        tasks += v.tasks;
        cases += v.cases;
      });
    await this.queue.onIdle();
    return { shipments: found.length, projected, events, tasks, cases };
  }
}
