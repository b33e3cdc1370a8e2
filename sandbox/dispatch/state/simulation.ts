import { TASK_STATE, type LngLat, type OnfleetTask, type OnfleetWorker } from '../onfleet.js';
import { failureNote, type SimulatorHost, type StopOutcome } from '../simulator.js';
import { DispatchInspection } from './inspection.js';
import { metadataValue, upsertMetadata } from './fields.js';
import { DRIVING_ETA_MIN_CHANGE_MS, DRIVING_ETA_MIN_INTERVAL_MS, MAX_POSITIONS } from './store.js';

/** What the driver simulator does to the state: drive, ping, arrive, finish, go on and off duty. */
export class DispatchSimulation extends DispatchInspection implements SimulatorHost {
  // --- SimulatorHost -------------------------------------------------------------------------------

  /** Every route with stops still to drive. */
  routesWithWork(): { planKey: string; workerId: string }[] {
    const out: { planKey: string; workerId: string }[] = [];
    for (const plan of this.plans.values()) {
      for (const [workerId, ids] of plan.routes) {
        if (ids.some((id) => (this.tasks.get(id)?.state ?? 3) < TASK_STATE.completed))
          out.push({ planKey: plan.key, workerId });
      }
    }
    return out;
  }

  /** A route's task ids in driving order. */
  routeTasks(planKey: string, workerId: string): string[] | undefined {
    return this.plans.get(planKey)?.routes.get(workerId);
  }

  /** When and where a route starts. */
  routeFrame(planKey: string, workerId: string): { shiftStart: number; depot: LngLat } | undefined {
    const plan = this.plans.get(planKey);
    if (!plan) return undefined;
    return {
      shiftStart: plan.origin + this.profile(workerId).shiftStartSec * 1000,
      depot: this.hubLocation(plan.teamId),
    };
  }

  /** The driver heads to a stop. */
  startTask(taskId: string, workerId: string, at: number, eta: number, location: LngLat): void {
    const task = this.tasks.get(taskId);
    const worker = this.worker(workerId);
    // A task a dispatcher completed by hand stays completed.
    if (!task || !worker || task.worker !== workerId || task.state === TASK_STATE.completed) return;
    task.state = TASK_STATE.active;
    task.estimatedArrivalTime = eta;
    task.eta = eta;
    task.completionDetails.firstLocation = location;
    task.completionDetails.events.push({ name: 'start', time: at, location });
    task.timeLastModified = at;
    worker.activeTask = taskId;
    this.moveWorker(workerId, at, location, true);
    this.lastEtaSent.set(taskId, eta);
    this.lastEtaSentAt.set(taskId, at);
    this.publish('taskStarted', task, at, { type: 'WORKER', id: workerId }, { worker });
  }

  /** A GPS ping; sends taskEta when the ETA moved a minute or more and taskDelayed once when it passes the window. */
  ping(taskId: string, workerId: string, at: number, location: LngLat, eta: number): void {
    this.moveWorker(workerId, at, location, true);
    const task = this.tasks.get(taskId);
    const worker = this.worker(workerId);
    if (!task || !worker || task.state !== TASK_STATE.active || task.worker !== workerId) return;
    const last = this.lastEtaSent.get(taskId);
    const lastAt = this.lastEtaSentAt.get(taskId) ?? -Infinity;
    if (
      last === undefined ||
      (Math.abs(eta - last) >= DRIVING_ETA_MIN_CHANGE_MS && at - lastAt >= DRIVING_ETA_MIN_INTERVAL_MS)
    ) {
      task.estimatedArrivalTime = eta;
      task.eta = eta;
      task.timeLastModified = at;
      this.lastEtaSent.set(taskId, eta);
      this.lastEtaSentAt.set(taskId, at);
      this.publish(
        'taskEta',
        task,
        at,
        { type: 'WORKER', id: workerId },
        { worker, etaSeconds: Math.max(0, Math.round((eta - at) / 1000)) },
      );
    }
    this.noticeDelay(task, worker, at, eta);
  }

  /** The driver reaches the stop. */
  arrive(taskId: string, workerId: string, at: number, location: LngLat): void {
    this.moveWorker(workerId, at, location, true);
    const task = this.tasks.get(taskId);
    const worker = this.worker(workerId);
    if (!task || !worker || task.state !== TASK_STATE.active || task.worker !== workerId) return;
    this.noticeDelay(task, worker, at, at);
    task.estimatedArrivalTime = at;
    task.eta = at;
    task.completionDetails.events.push({ name: 'arrival', time: at, location });
    task.timeLastModified = at;
    this.publish('taskArrival', task, at, { type: 'WORKER', id: workerId }, { worker, distance: 12 });
  }

  /** The stop ends with proof of delivery or a failure reason; mileage and accessorials go into metadata. */
  finish(taskId: string, workerId: string, o: StopOutcome): void {
    const task = this.tasks.get(taskId);
    const worker = this.worker(workerId);
    if (!task || !worker || task.state !== TASK_STATE.active || task.worker !== workerId) return;
    const success = o.decision.outcome === 'completed';
    const d = task.completionDetails;
    d.success = success;
    d.time = o.at;
    d.lastLocation = o.location;
    d.distance = o.legMeters;
    d.events.push({ name: 'departure', time: o.at, location: o.location });
    if (success) {
      d.notes = task.requirements.signature === false ? 'Delivered.' : 'Delivered and signed for.';
      d.failureReason = 'NONE';
      if (task.requirements.signature !== false) d.signatureUploadId = o.decision.signatureUploadId;
      d.photoUploadIds = o.decision.photoUploadIds;
      d.photoUploadId = o.decision.photoUploadIds[0]!;
    } else {
      d.failureReason = o.decision.failureReason;
      d.failureNotes = failureNote(o.decision.failureReason);
      d.notes = d.failureNotes;
      if (o.decision.failureReason === 'DAMAGED') {
        d.photoUploadIds = o.decision.photoUploadIds;
        d.photoUploadId = o.decision.photoUploadIds[0]!;
      }
    }
    upsertMetadata(task, {
      name: 'mileageKm',
      type: 'number',
      value: Math.round(o.legMeters / 100) / 10,
      visibility: ['api'],
    });
    upsertMetadata(task, { name: 'liftgate', type: 'boolean', value: o.liftgateUsed, visibility: ['api'] });
    upsertMetadata(task, {
      name: 'waitingMinutes',
      type: 'number',
      value: o.decision.waitingMinutes,
      visibility: ['api'],
    });
    task.state = TASK_STATE.completed;
    task.estimatedCompletionTime = o.at;
    task.timeLastModified = o.at;
    this.detachFromWorker(workerId, taskId);
    this.moveWorker(workerId, o.at, o.location, true);
    this.opts.effects.record(success ? 'task.completed' : 'task.failed', taskId, taskId, {
      shipmentId: metadataValue(task, 'shipmentId'),
      failureReason: d.failureReason,
    });
    this.publish(
      success ? 'taskCompleted' : 'taskFailed',
      task,
      o.at,
      { type: 'WORKER', id: workerId },
      { worker },
    );
  }

  /** Moves a worker (GPS position, duty status); duty changes send workerDuty. */
  moveWorker(workerId: string, at: number, location: LngLat, onDuty: boolean): void {
    const worker = this.worker(workerId);
    if (!worker) return;
    worker.location = location;
    worker.timeLastSeen = at;
    worker.isResponding = onDuty;
    this.positions.push({ workerId, at, location });
    if (this.positions.length > MAX_POSITIONS)
      this.positions.splice(0, this.positions.length - MAX_POSITIONS);
    if (worker.onDuty !== onDuty) {
      worker.onDuty = onDuty;
      worker.timeLastModified = at;
      this.publish(
        'workerDuty',
        undefined,
        at,
        { type: 'WORKER', id: workerId },
        { worker, status: onDuty ? 1 : 0 },
      );
    }
  }

  protected noticeDelay(task: OnfleetTask, worker: OnfleetWorker, at: number, eta: number): void {
    if (task.completeBefore === null || task.delayTime !== null || eta <= task.completeBefore) return;
    task.delayTime = Math.round((eta - task.completeBefore) / 1000);
    task.estimatedArrivalTime = eta;
    task.eta = eta;
    this.publish('taskDelayed', task, at, { type: 'WORKER', id: worker.id }, { worker });
  }
}
