import {
  ActivityFailure,
  ApplicationFailure,
  condition,
  proxyActivities,
  proxyLocalActivities,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { Mutex } from 'async-mutex';
import type { CrmActivities } from '../../activities/crm.js';
import type { DispatchActivities } from '../../activities/dispatch.js';
import type { ErpActivities } from '../../activities/erp.js';
import type { OrchestrationActivities } from '../../activities/orchestration.js';
import { accessorialTotal } from '../../domain/billing.js';
import { realDuration, simAt } from '../../domain/clock-math.js';
import { regionTimeZone } from '../../domain/regions.js';
import { taskQueues } from '../task-queues.js';
import type { ShipmentInput, ShipmentSettings } from './contract.js';
import {
  erpPricing,
  caseSla,
  etaDriftReplies,
  fourEyesApproval,
  operatorActionsSla,
  parkedOutbound,
  searchAttributesFollowState,
  serializedHandlers,
} from './patches.js';
import { SA } from './search-attributes.js';
import { SideEffectQueue } from './side-effects.js';
import { breachResolved, nextCaseDue } from './sla.js';
import {
  exceptionKinds,
  initialState,
  visibleException,
  type ReducerOptions,
  type ShipmentState,
} from './state.js';

const retry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' } as const;

/** Activity stubs on the task queues of one deployment; retries are unlimited, non-retryable codes stop them. */
function activitiesOn(prefix: string) {
  const q = taskQueues(prefix);
  const options = { startToCloseTimeout: '30s', retry } as const;
  return {
    erp: proxyActivities<ErpActivities>({ ...options, taskQueue: q.erp }),
    dispatch: proxyActivities<DispatchActivities>({ ...options, taskQueue: q.dispatch }),
    crm: proxyActivities<CrmActivities>({ ...options, taskQueue: q.crm }),
    orchestration: proxyActivities<OrchestrationActivities>({ ...options, taskQueue: q.shipments }),
    /**
     * Local activities: run by the worker that runs the shipment, inside the workflow task that asked, so
     * the call waits for no activity queue and its result for no second workflow task. Only a call someone
     * waits on: a customer's reschedule (patch reschedule-local-dispatch). While it runs the shipment takes
     * no other message, so the lanes' side effects stay activities. The worker's dispatch adapter paces it
     * with every other dispatch request.
     */
    local: asActivityFailures(
      proxyLocalActivities<Pick<DispatchActivities, 'dispatchRescheduleTask'>>(options),
      ['dispatchRescheduleTask'],
    ),
  };
}

/**
 * Local activity stubs whose failures read as a scheduled activity's: a vendor's rejection for good reaches
 * the workflow as the bare ApplicationFailure, which becomes an ActivityFailure with it as the cause, so the
 * handlers answer its code exactly as they do for an activity of the queues.
 */
function asActivityFailures<T extends Record<string, (input: never) => Promise<unknown>>>(
  stubs: T,
  names: readonly (keyof T & string)[],
): T {
  const wrapped: Record<string, (input: never) => Promise<unknown>> = {};
  for (const name of names) {
    const call = stubs[name] as (input: never) => Promise<unknown>;
    wrapped[name] = (input) =>
      call(input).catch((err: unknown) => {
        if (!(err instanceof ApplicationFailure)) throw err;
        throw new ActivityFailure(err.message, name, undefined, 'NON_RETRYABLE_FAILURE', undefined, err);
      });
  }
  return wrapped as T;
}

/** How a wait ended: its condition holds, its deadline passed, or the run should continue as new first. */
export type Woken = 'ready' | 'timeout' | 'continue';

/**
 * What the parts of one shipment run share: its state, its activities, the compressed clock, the lock that
 * serialises dispatch writes, and the queue of side effects it owes the ERP and the CRM.
 */
export class ShipmentRun {
  readonly shipmentId = workflowInfo().workflowId;
  readonly s: ShipmentState;
  readonly settings: ShipmentSettings;
  readonly acts: ReturnType<typeof activitiesOn>;
  readonly effects: SideEffectQueue;
  /** Update handlers and the main loop's dispatch writes take turns (decided once per run; see patches). */
  readonly serialized = serializedHandlers();
  /** Charges above the four-eyes threshold need two finance principals (decided once per run; see patches). */
  readonly fourEyes = fourEyesApproval();
  /** Side effects rejected for good are parked for operators (decided once per run; see patches). */
  readonly parking = parkedOutbound();
  /** Operator actions (manual POD, cancel, force-return) and SLA waits (decided once per run; see patches). */
  readonly operatorActions = operatorActionsSla();
  /** Charges are priced from the ERP's condition records (decided once per run; see patches). */
  readonly pricedByErp = erpPricing();
  /**
   * ETA drift posts revised plans, and refused CRM reschedules are answered on their ticket (decided once per
   * run; see patches).
   */
  readonly etaDrift = etaDriftReplies();
  /** Open cases have resolution SLAs (decided once per run; see patches). */
  readonly caseSlas = caseSla();
  /** Parked items being sent again right now (one operator action at a time per item). */
  readonly resending = new Set<string>();
  /** Search attributes follow reschedules, billing and every open exception (decided once per run; see patches). */
  readonly attributesFollowState = searchAttributesFollowState();
  /** The region's zone for service days and window moves (runs before the patch used UTC days). */
  readonly timeZone: string;
  private readonly lock = new Mutex();
  /** The search attributes last published, so an unchanged status is not upserted again. */
  private published?: string;

  constructor(readonly input: ShipmentInput) {
    this.settings = input.settings;
    this.acts = activitiesOn(input.taskQueuePrefix ?? '');
    this.s = (input.carried as ShipmentState | undefined) ?? initialState(this.shipmentId, input.order);
    this.effects = new SideEffectQueue(this);
    this.timeZone = this.serialized ? regionTimeZone(this.s.order.region) : 'UTC';
  }

  /** Approvals the charges need: two above the four-eyes threshold (runs with the patch), else one. */
  approvalsNeeded(): number {
    const limit = this.settings.fourEyesThreshold;
    return this.fourEyes && limit !== undefined && accessorialTotal(this.s.charges) > limit ? 2 : 1;
  }

  /** How this run's reducer treats dispatch events (the checks and plays its patches decided). */
  reducerOptions(): ReducerOptions {
    return { checkTask: this.serialized, etaDrift: this.etaDrift };
  }

  /** Simulated now, in epoch milliseconds. */
  simNow(): number {
    return simAt(this.input.clock, Date.now());
  }

  nowIso(): string {
    return new Date(this.simNow()).toISOString();
  }

  /** Real milliseconds of a span of simulated minutes. */
  realMs(simMinutes: number): number {
    return realDuration(this.input.clock, simMinutes * 60_000);
  }

  /** Real milliseconds until a simulated instant (at least 1). */
  until(simInstant: string): number {
    return Math.max(1, realDuration(this.input.clock, Date.parse(simInstant) - this.simNow()));
  }

  /** Idempotency key of a business step: workflow id and step, never the attempt or run id. */
  key(...parts: (string | number)[]): string {
    return [this.shipmentId, ...parts].join(':');
  }

  /** The ERP's planned date moved by as many days as the window moved: the region's local planning day. */
  planningDate(): string {
    const { s } = this;
    const days = Math.round(
      (Date.parse(s.window.start) - Date.parse(s.order.requestedWindow.start)) / 86_400_000,
    );
    return new Date(Date.parse(`${s.order.plannedDate}T00:00:00Z`) + days * 86_400_000)
      .toISOString()
      .slice(0, 10);
  }

  /** Runs `fn` while no update handler or other dispatch write runs (runs recorded with the patch). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.serialized ? this.lock.runExclusive(fn) : fn();
  }

  /**
   * Waits until `ready` holds or `timeoutMs` passes; runs recorded with the patch also wake when the server
   * suggests continue-as-new, so a long wait never holds a growing history, and (case-sla runs) when an open
   * case's SLA falls due: then it answers 'continue' and the caller returns to the main loop, which applies it.
   */
  async wait(ready: () => boolean, timeoutMs?: number): Promise<Woken> {
    const suggested = () => this.serialized && workflowInfo().continueAsNewSuggested;
    // An open case's SLA falling due first ends the wait early, so the main loop applies it (case-sla runs).
    const caseDue = this.caseSlas ? nextCaseDue(this) : undefined;
    const early = caseDue !== undefined && (timeoutMs === undefined || caseDue < timeoutMs);
    // So does a breached case someone resolved meanwhile: its breach ends at once.
    const resolved = () => this.caseSlas && breachResolved(this.s);
    await condition(() => ready() || suggested() || resolved(), (early ? caseDue : timeoutMs) as number);
    if (ready()) return 'ready';
    return suggested() || resolved() || early ? 'continue' : 'timeout';
  }

  /** Publishes the phase and the open exception (a parked side effect first) when they changed. */
  publishStatus() {
    if (this.attributesFollowState) return this.publishState();
    const { s } = this;
    const exception = visibleException(s);
    const fingerprint = `${s.phase}|${exception}|${s.phase === 'closed'}`;
    if (fingerprint === this.published) return;
    this.published = fingerprint;
    upsertSearchAttributes([
      { key: SA.ShipmentStatus, value: s.phase },
      { key: SA.OpenException, value: exception },
      { key: SA.InvoiceReady, value: s.phase === 'closed' && !!s.billingDocumentId },
    ]);
  }

  /**
   * The patched publication: the phase, every open exception kind, whether the shipment is ready to bill
   * (delivered, not yet billed) and the delivery date of the current window, each when it changed.
   */
  private publishState() {
    const { s } = this;
    const open = exceptionKinds(s);
    const invoiceReady = s.outcome === 'delivered' && !s.billingDocumentId && !s.billingSkipped;
    const deliveryDate = this.planningDate();
    const fingerprint = `${s.phase}|${open.join(',')}|${invoiceReady}|${deliveryDate}`;
    if (fingerprint === this.published) return;
    this.published = fingerprint;
    upsertSearchAttributes([
      { key: SA.ShipmentStatus, value: s.phase },
      { key: SA.OpenException, value: open[0] ?? 'none' },
      { key: SA.OpenExceptions, value: open.length > 0 ? open : ['none'] },
      { key: SA.InvoiceReady, value: invoiceReady },
      { key: SA.DeliveryDate, value: new Date(`${deliveryDate}T00:00:00Z`) },
    ]);
  }
}
