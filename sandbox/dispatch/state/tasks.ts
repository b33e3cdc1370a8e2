import { TASK_STATE, onfleetBatchError, type OnfleetBatchError, type OnfleetTask } from '../onfleet.js';
import {
  CreateTaskBody,
  causeOf,
  type CloneTaskBody,
  type CompleteTaskBody,
  type ListTasksQuery,
  type MetadataQueryBody,
  type UpdateTaskBody,
} from '../requests.js';
import { DispatchPlanning } from './planning.js';
import {
  address,
  checkWindow,
  deepEqual,
  emptyCompletion,
  metadataValue,
  normaliseMetadata,
  skillsOf,
} from './fields.js';
import { COMPLETION_METADATA, PAGE_SIZE, DispatchError, type Parsed } from './store.js';

/** Task CRUD as Onfleet's tasks API has it; changes re-plan the task's route. */
export class DispatchTasks extends DispatchPlanning {
  // --- tasks ---------------------------------------------------------------------------------------

  /** Creates a task; when its team and date are already planned it joins the best route at once. */
  createTask(body: CreateTaskBody, extra: { sourceTaskId?: string; batch?: boolean } = {}): OnfleetTask {
    const now = this.simNow();
    const location = body.destination.location;
    if (!location) {
      throw new DispatchError(
        'geocoding',
        'destination.location: the sandbox does not geocode; send [longitude, latitude]',
      );
    }
    checkWindow(body.completeAfter ?? null, body.completeBefore ?? null);
    const teamId = this.resolveTeam(body.container, location);
    const id = this.ids.next();
    const shortId = this.ids.shortId();
    const task: OnfleetTask = {
      id,
      timeCreated: now,
      timeLastModified: now,
      organization: this.org.organizationId,
      shortId,
      trackingURL: `https://onf.lt/${shortId}`,
      worker: null,
      merchant: this.org.organizationId,
      executor: this.org.organizationId,
      creator: this.org.adminId,
      dependencies: [],
      state: TASK_STATE.unassigned,
      completeAfter: body.completeAfter ?? null,
      completeBefore: body.completeBefore ?? null,
      pickupTask: body.pickupTask ?? false,
      notes: body.notes ?? '',
      completionDetails: emptyCompletion(),
      feedback: [],
      metadata: (body.metadata ?? []).map(normaliseMetadata),
      overrides: {
        ...(body.recipientName === undefined ? {} : { recipientName: body.recipientName }),
        ...(body.recipientNotes === undefined ? {} : { recipientNotes: body.recipientNotes }),
      },
      quantity: body.quantity ?? 0,
      serviceTime: body.serviceTime ?? 0,
      container: { type: 'TEAM', team: teamId },
      recipients: (body.recipients ?? []).map((r) => this.recipient(r, now)),
      destination: {
        id: this.ids.next(),
        timeCreated: now,
        timeLastModified: now,
        location,
        address: address(body.destination.address),
        notes: body.destination.notes ?? '',
        metadata: [],
      },
      requirements: body.requirements ?? {},
      estimatedArrivalTime: null,
      estimatedCompletionTime: null,
      eta: null,
      delayTime: null,
      trackingViewed: false,
      ...(extra.sourceTaskId === undefined ? {} : { sourceTaskId: extra.sourceTaskId }),
    };
    this.tasks.set(id, task);
    this.order.push(id);
    this.taskTeam.set(id, teamId);
    const key = metadataValue(task, 'shipsyncKey');
    this.opts.effects.record('task.created', typeof key === 'string' ? key : `task:${id}`, id, {
      shipmentId: metadataValue(task, 'shipmentId'),
      attempt: metadataValue(task, 'attempt'),
      team: this.team(teamId)?.name,
    });
    // Onfleet sends no taskCreated for tasks created in a batch.
    if (!extra.batch) this.publish('taskCreated', task, now, this.admin());
    if (extra.sourceTaskId !== undefined) this.publish('taskCloned', task, now, this.admin());
    const plan = this.plans.get(this.planKey(teamId, this.dateOf(task, teamId)));
    if (plan) this.insertIntoPlan(plan, id);
    return task;
  }

  /**
   * Creates each task of a batch on its own (Onfleet's POST /tasks/batch): a task that does not validate or
   * cannot be created becomes an entry of `errors` with the body that was sent, and the others are created.
   */
  createTasksInBatch(bodies: readonly unknown[]): { tasks: OnfleetTask[]; errors: OnfleetBatchError[] } {
    const tasks: OnfleetTask[] = [];
    const errors: OnfleetBatchError[] = [];
    for (const raw of bodies) {
      const parsed = CreateTaskBody.safeParse(raw);
      if (!parsed.success) {
        errors.push(onfleetBatchError('invalidArgument', causeOf(parsed.error), raw));
        continue;
      }
      try {
        tasks.push(this.createTask(parsed.data, { batch: true }));
      } catch (err) {
        if (!(err instanceof DispatchError)) throw err;
        errors.push(onfleetBatchError(err.errorName, err.detail ?? err.message, raw));
      }
    }
    return { tasks, errors };
  }

  /**
   * Force-completes a task that is not completed yet (Onfleet's POST /tasks/:id/complete), as a dispatcher
   * would from the dashboard: it ends as succeeded or failed (reason MANAGER_OVERRIDE) with the notes given,
   * leaves its driver, and sends the taskCompleted or taskFailed webhook a driver's completion sends.
   */
  forceCompleteTask(id: string, body: CompleteTaskBody): void {
    const task = this.getTask(id);
    if (task.state === TASK_STATE.completed)
      throw new DispatchError('invalidArgument', `state: task ${id} is already completed`);
    const now = this.simNow();
    const { success, notes = '' } = body.completionDetails;
    const d = task.completionDetails;
    d.success = success;
    d.time = now;
    d.notes = notes;
    d.failureReason = success ? 'NONE' : 'MANAGER_OVERRIDE';
    d.failureNotes = success ? '' : notes;
    task.state = TASK_STATE.completed;
    task.estimatedCompletionTime = now;
    task.timeLastModified = now;
    const worker = task.worker ? this.worker(task.worker) : undefined;
    if (worker) this.detachFromWorker(worker.id, id);
    this.opts.effects.record(success ? 'task.completed' : 'task.failed', id, id, {
      shipmentId: metadataValue(task, 'shipmentId'),
      failureReason: d.failureReason,
      forced: true,
    });
    this.publish(success ? 'taskCompleted' : 'taskFailed', task, now, this.admin(), { worker });
  }

  /** A task or a 404. */
  getTask(id: string): OnfleetTask {
    const task = this.tasks.get(id);
    if (!task) throw new DispatchError('notFound', `task ${id} does not exist`);
    return task;
  }

  /** A task by its short id or a 404. */
  getTaskByShortId(shortId: string): OnfleetTask {
    const task = [...this.tasks.values()].find((t) => t.shortId === shortId);
    if (!task) throw new DispatchError('notFound', `task ${shortId} does not exist`);
    return task;
  }

  /** Updates a task; a new window or destination re-plans its route and the answer carries the new ETA. */
  updateTask(id: string, body: UpdateTaskBody): OnfleetTask {
    const task = this.getTask(id);
    if (task.state === TASK_STATE.completed)
      throw new DispatchError('invalidArgument', 'state: a completed task cannot be updated');
    const after = body.completeAfter === undefined ? task.completeAfter : body.completeAfter;
    const before = body.completeBefore === undefined ? task.completeBefore : body.completeBefore;
    checkWindow(after, before);
    if (body.destination && !body.destination.location) {
      throw new DispatchError(
        'geocoding',
        'destination.location: the sandbox does not geocode; send [longitude, latitude]',
      );
    }
    const now = this.simNow();
    const windowChanged = after !== task.completeAfter || before !== task.completeBefore;
    let replan = windowChanged;
    task.completeAfter = after;
    task.completeBefore = before;
    if (body.destination?.location) {
      const moved =
        body.destination.location[0] !== task.destination.location[0] ||
        body.destination.location[1] !== task.destination.location[1];
      replan ||= moved;
      task.destination = {
        ...task.destination,
        timeLastModified: now,
        location: body.destination.location,
        address: address(body.destination.address),
        notes: body.destination.notes ?? task.destination.notes,
      };
    }
    if (body.recipients) task.recipients = body.recipients.map((r) => this.recipient(r, now));
    if (body.quantity !== undefined && body.quantity !== task.quantity) {
      task.quantity = body.quantity;
      replan = true;
    }
    if (body.serviceTime !== undefined && body.serviceTime !== task.serviceTime) {
      task.serviceTime = body.serviceTime;
      replan = true;
    }
    if (body.notes !== undefined) task.notes = body.notes;
    if (body.requirements) task.requirements = body.requirements;
    if (body.metadata) {
      const before = skillsOf(task).join(',');
      task.metadata = body.metadata.map(normaliseMetadata);
      replan ||= skillsOf(task).join(',') !== before;
    }
    if (windowChanged) task.delayTime = null;
    task.timeLastModified = now;
    this.publish('taskUpdated', task, now, this.admin());
    if (replan && task.state !== TASK_STATE.active) this.replanChangedTask(task);
    return task;
  }

  /** Deletes a task that has not been completed; its route closes the gap. */
  deleteTask(id: string): void {
    const task = this.getTask(id);
    if (task.state === TASK_STATE.completed)
      throw new DispatchError('invalidArgument', 'state: a completed task cannot be deleted');
    const now = this.simNow();
    const planKey = this.taskPlan.get(id);
    const workerId = task.worker;
    this.tasks.delete(id);
    this.order.splice(this.order.indexOf(id), 1);
    this.taskPlan.delete(id);
    this.lastEtaSent.delete(id);
    this.lastEtaSentAt.delete(id);
    if (workerId) this.detachFromWorker(workerId, id);
    const plan = planKey ? this.plans.get(planKey) : undefined;
    if (plan && workerId) {
      const route = plan.routes.get(workerId) ?? [];
      plan.routes.set(
        workerId,
        route.filter((t) => t !== id),
      );
      this.retime(plan, workerId);
    }
    this.opts.effects.record('task.deleted', id, id, { shipmentId: metadataValue(task, 'shipmentId') });
    this.publish('taskDeleted', task, now, this.admin());
  }

  /** Clones a task (metadata included unless told otherwise), with overrides. */
  cloneTask(id: string, body: Parsed<typeof CloneTaskBody>): OnfleetTask {
    const src = this.getTask(id);
    const o = body.overrides ?? {};
    const includeMetadata = body.includeMetadata ?? true;
    const create: CreateTaskBody = {
      destination: o.destination ?? {
        address: { ...src.destination.address },
        location: src.destination.location,
        notes: src.destination.notes,
      },
      recipients:
        o.recipients ??
        src.recipients.map((r) => ({
          name: r.name,
          phone: r.phone,
          notes: r.notes,
          skipSMSNotifications: r.skipSMSNotifications,
        })),
      quantity: src.quantity,
      serviceTime: o.serviceTime ?? src.serviceTime,
      notes: o.notes ?? src.notes,
      metadata:
        o.metadata ?? (includeMetadata ? src.metadata.filter((m) => !COMPLETION_METADATA.has(m.name)) : []),
      requirements: src.requirements,
      pickupTask: o.pickupTask ?? src.pickupTask,
      container: { type: 'TEAM', team: this.taskTeam.get(id) ?? this.org.teams[0]!.id },
    };
    const after = o.completeAfter ?? src.completeAfter;
    const before = o.completeBefore ?? src.completeBefore;
    if (after !== null) create.completeAfter = after;
    if (before !== null) create.completeBefore = before;
    return this.createTask(create, { sourceTaskId: id });
  }

  /** Tasks whose metadata holds every queried entry (Onfleet's POST /tasks/metadata). */
  queryMetadata(query: Parsed<typeof MetadataQueryBody>): OnfleetTask[] {
    return this.order
      .map((id) => this.tasks.get(id)!)
      .filter((task) =>
        query.every((q) =>
          task.metadata.some(
            (m) =>
              m.name === q.name && (q.type === undefined || q.type === m.type) && deepEqual(m.value, q.value),
          ),
        ),
      );
  }

  /** One page of tasks created or completed in a time range, oldest first; lastId points at the next page. */
  listTasks(query: Parsed<typeof ListTasksQuery>): { tasks: OnfleetTask[]; lastId?: string } {
    const states = query.state ? new Set(query.state.split(',').map(Number)) : undefined;
    const matching = this.order
      .map((id) => this.tasks.get(id)!)
      .filter((t) => {
        const inRange = t.timeCreated >= query.from || (t.completionDetails.time ?? -1) >= query.from;
        const beforeEnd = query.to === undefined || t.timeCreated <= query.to;
        return (
          inRange &&
          beforeEnd &&
          (!states || states.has(t.state)) &&
          (!query.worker || t.worker === query.worker)
        );
      });
    let start = 0;
    if (query.lastId) {
      const index = matching.findIndex((t) => t.id === query.lastId);
      if (index < 0) throw new DispatchError('invalidArgument', 'lastId: not a task of this listing');
      start = index + 1;
    }
    const page = matching.slice(start, start + PAGE_SIZE);
    const more = start + PAGE_SIZE < matching.length;
    return more ? { tasks: page, lastId: page[page.length - 1]!.id } : { tasks: page };
  }
}
