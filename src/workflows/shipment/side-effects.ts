import { ActivityFailure, ApplicationFailure, condition, log } from '@temporalio/workflow';
import type { ExceptionKind } from '../../domain/model.js';
import { lanes, plannedRevisionsUnique } from './patches.js';
import type { ShipmentRun } from './run.js';
import {
  laneOf,
  resolveParked,
  type Action,
  type CaseEntry,
  type ParkableAction,
  type ParkedItem,
} from './state.js';

type Lane = 'erp' | 'crm';

/** The error code of a failed activity, when it carried one. */
export function failureCode(err: unknown): string | undefined {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure
    ? (err.cause.type ?? undefined)
    : undefined;
}

/** The vendor's own message of a failed activity (the failure's cause), else the failure's message. */
export function failureMessage(err: ActivityFailure): string {
  return err.cause instanceof ApplicationFailure ? err.cause.message : err.message;
}

/**
 * The side effects a shipment owes the ERP and the CRM, queued in its state and run in order. Each is
 * idempotent by its key, so a retry or a replay is safe. ERP and CRM are two lanes, each in queue order, so
 * an ERP milestone never waits behind a rate-limited CRM call; runs recorded before the lanes replay the
 * single ordered queue they were recorded with.
 */
export class SideEffectQueue {
  /** Whether a lane is waiting on its side effect right now. */
  private readonly busy = { erp: false, crm: false };

  constructor(private readonly run: ShipmentRun) {}

  /** Runs every queued side effect, including those queued while it runs. */
  async flush() {
    const { todo } = this.run.s;
    if (!lanes()) {
      while (todo.length > 0) {
        await this.perform(todo[0] as Action);
        todo.shift();
      }
      return;
    }
    while (todo.length > 0) await Promise.all([this.drain('erp'), this.drain('crm')]);
  }

  /**
   * Runs one lane's actions in queue order. While the other lane is still at work, it stays ready for new
   * actions of its own (a signal may queue a milestone while a CRM call is retrying).
   */
  private async drain(lane: Lane) {
    const other: Lane = lane === 'erp' ? 'crm' : 'erp';
    const todo = () => this.run.s.todo;
    const has = (l: Lane) => todo().some((a) => laneOf(a) === l);
    for (;;) {
      const action = todo().find((a) => laneOf(a) === lane);
      if (action) {
        this.busy[lane] = true;
        try {
          await this.perform(action);
        } finally {
          this.busy[lane] = false;
        }
        todo().splice(todo().indexOf(action), 1);
        continue;
      }
      if (!this.busy[other] && !has(other)) return;
      await condition(() => has(lane) || (!this.busy[other] && !has(other)));
    }
  }

  private async perform(a: Action) {
    try {
      await this.send(a);
    } catch (err) {
      // A business rejection will not succeed on retry: keep the shipment moving and leave a trace.
      if (!(err instanceof ActivityFailure)) throw err;
      if (this.run.parking) return this.park(a, err);
      log.error('side effect rejected', { action: a.kind, code: failureCode(err), error: err.message });
    }
  }

  /** Keeps a side effect the vendor rejected for good, with its error, for an operator to retry or skip. */
  park(action: ParkableAction, err: ActivityFailure) {
    const { s } = this.run;
    s.parkedSeq = (s.parkedSeq ?? 0) + 1;
    const item: ParkedItem = {
      id: `p${s.parkedSeq}`,
      action,
      code: failureCode(err) ?? 'REJECTED',
      message: failureMessage(err),
      parkedAt: this.run.nowIso(),
      rejections: 1,
    };
    s.parked = [...(s.parked ?? []), item];
    log.warn('side effect parked', { parkedId: item.id, action: action.kind, code: item.code });
    this.run.publishStatus();
  }

  /**
   * Sends a parked side effect again. Posted: it leaves the parked list. Rejected again: it stays parked with
   * the new error, which the caller gets as a typed failure.
   */
  async resend(item: ParkedItem, post: (a: ParkableAction) => Promise<unknown>, by: string) {
    try {
      await post(item.action);
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      item.code = failureCode(err) ?? 'REJECTED';
      item.message = failureMessage(err);
      item.rejections++;
      throw ApplicationFailure.create({ type: item.code, message: item.message, nonRetryable: true });
    }
    resolveParked(this.run.s, item, { outcome: 'posted', by, at: this.run.nowIso() });
    this.run.publishStatus();
  }

  /**
   * How a planned milestone goes out: dropped when the attempt already has its outcome and its plan was
   * posted (a revision after delivery means nothing to the ERP), or under a key of its own when a different
   * plan of the attempt already used its revision's key. Both only with the patch, asked for only when
   * it changes something, so histories without either case replay untouched.
   */
  private revisedPlan(a: Extract<Action, { kind: 'milestone' }>): 'drop' | { key: string | undefined } {
    const { s } = this.run;
    const plans = s.milestones.filter((m) => m.milestone === 'planned' && m.attempt === a.attempt);
    if (a.attempt === s.attempt && s.progress.outcome && plans.length > 0 && plannedRevisionsUnique())
      return 'drop';
    const revision = a.revision ?? 0;
    const clash = plans.some(
      (m) =>
        m.key === undefined && (m.revision ?? 0) === revision && (m.at !== a.occurredAt || m.eta !== a.eta),
    );
    if (!clash || !plannedRevisionsUnique()) return { key: undefined };
    return { key: `${this.run.key('milestone', 'planned', a.attempt)}:r${revision}-${plans.length + 1}` };
  }

  /** Sends one queued side effect, as the lanes do. */
  async send(a: Action) {
    const { s, acts, shipmentId } = this.run;
    const key = this.run.key.bind(this.run);
    const base = { shipmentId, deliveryId: s.order.deliveryId, customerId: s.order.customerId };
    switch (a.kind) {
      case 'milestone': {
        const plan = a.milestone === 'planned' ? this.revisedPlan(a) : { key: undefined };
        if (plan === 'drop') return;
        const idempotencyKey =
          plan.key ?? key('milestone', a.milestone, a.attempt) + (a.revision ? `:r${a.revision}` : '');
        await acts.erp.erpPostMilestone({
          deliveryId: s.order.deliveryId,
          milestone: a.milestone,
          attempt: a.attempt,
          occurredAt: a.occurredAt,
          eta: a.eta,
          idempotencyKey,
        });
        s.milestones.push({
          milestone: a.milestone,
          attempt: a.attempt,
          at: a.occurredAt,
          eta: a.eta,
          ...(a.milestone === 'planned' ? { revision: a.revision ?? 0 } : {}),
          ...(plan.key ? { key: plan.key } : {}),
        });
        return;
      }
      case 'goodsIssue':
        await acts.erp.erpPostGoodsIssue({
          deliveryId: s.order.deliveryId,
          idempotencyKey: key('goods-issue'),
        });
        return;
      case 'notify': {
        const caseId = s.cases.find((c) => c.open)?.caseId;
        const plan = a.plan ? { plan: a.plan } : {};
        const idempotencyKey = key('notify', a.topic, a.attempt);
        // States carried from runs before the count have none: their shipment may have a thread already.
        const firstNotice = s.noticesBegun === 0;
        if (s.noticesBegun !== undefined) s.noticesBegun++;
        const thread = caseId || !s.noticeThreadId ? {} : { threadId: s.noticeThreadId };
        const sent = await acts.crm.crmNotifyCustomer({
          ...base,
          caseId,
          message: a.message,
          ...plan,
          ...thread,
          ...(firstNotice && !caseId ? { firstNotice } : {}),
          idempotencyKey,
        });
        // Runs recorded before notices answered their ticket have no answer to read.
        if (sent?.thread) s.noticeThreadId = sent.ticketId;
        return;
      }
      case 'openCase': {
        const same = (c: CaseEntry) => c.kind === a.exception && c.attempt === a.attempt && c.ref === a.ref;
        if (s.cases.some((c) => c.open && same(c))) return;
        const { caseId } = await acts.crm.crmOpenCase({
          ...base,
          kind: a.exception,
          subject: a.subject,
          description: a.description,
          priority: a.priority,
          idempotencyKey: key('case', a.exception, a.attempt) + (a.ref ? `:${a.ref}` : ''),
        });
        s.cases.push({
          caseId,
          kind: a.exception,
          attempt: a.attempt,
          open: true,
          ...(a.ref ? { ref: a.ref } : {}),
          ...(this.run.caseSlas ? { openedAt: this.run.nowIso() } : {}),
        });
        return;
      }
      case 'reply':
        await acts.crm.crmReplyOnTicket({
          ticketId: a.ticketId,
          message: a.message,
          idempotencyKey: key('reply', a.ticketId, a.ref),
        });
        return;
      case 'raisePriority':
        await acts.crm.crmRaiseCasePriority({
          caseId: a.caseId,
          priority: a.priority,
          note: a.note,
          idempotencyKey: key('case-priority', a.caseId, a.priority),
        });
        return;
    }
  }

  /**
   * Sends one side effect now, outside the queue (an update handler's answer that must not wait for the main
   * loop); a vendor's rejection for good parks it like a queued one.
   */
  async sendNow(a: Action) {
    await this.perform(a);
  }

  /** Closes the shipment's open cases (of one kind, or all) with a resolution. */
  async closeCases(kind: ExceptionKind | undefined, resolution: string) {
    await this.closeCasesWhere((c) => !kind || c.kind === kind, resolution);
  }

  /** Closes the shipment's open cases that `which` picks, with a resolution. */
  async closeCasesWhere(which: (c: CaseEntry) => boolean, resolution: string) {
    const { s, acts } = this.run;
    for (const c of s.cases.filter((x) => x.open && which(x))) {
      const idempotencyKey = this.run.key('case-close', c.caseId);
      await acts.crm.crmCloseCase({ caseId: c.caseId, resolution, idempotencyKey });
      c.open = false;
    }
  }
}
