import { type OnfleetTask } from '../onfleet.js';
import { DispatchTasks } from './tasks.js';
import { metadataValue } from './fields.js';
import { DispatchError } from './store.js';

/** Read-only views the sandbox's inspection endpoints serve. */
export class DispatchInspection extends DispatchTasks {
  // --- inspection ----------------------------------------------------------------------------------

  /** The plan of a team (id or name) and date, stop by stop, or a summary of every plan. */
  routesView(teamRef?: string, date?: string): unknown {
    if (teamRef === undefined || date === undefined) {
      return {
        plans: [...this.plans.values()].map((p) => ({
          team: this.team(p.teamId)?.name,
          teamId: p.teamId,
          date: p.date,
          routes: p.routes.size,
          stops: [...p.routes.values()].reduce((n, r) => n + r.length, 0),
          unassigned: p.unassigned.length,
        })),
      };
    }
    const team = this.team(teamRef);
    if (!team) throw new DispatchError('notFound', `team ${teamRef} does not exist`);
    const plan = this.plans.get(this.planKey(team.id, date));
    return {
      team: team.name,
      teamId: team.id,
      date,
      planned: plan !== undefined,
      plannedAt: plan ? new Date(plan.plannedAt).toISOString() : null,
      routes: plan
        ? [...plan.routes.entries()].map(([workerId, ids]) => {
            const worker = this.worker(workerId)!;
            return {
              worker: workerId,
              workerName: worker.name,
              vehicle: worker.vehicle.id,
              capacity: worker.capacity,
              stops: ids.flatMap((id, sequence) => {
                const t = this.tasks.get(id);
                if (!t) return [];
                return [
                  {
                    taskId: id,
                    sequence,
                    state: t.state,
                    shipmentId: metadataValue(t, 'shipmentId') ?? null,
                    eta:
                      t.estimatedArrivalTime === null ? null : new Date(t.estimatedArrivalTime).toISOString(),
                    etaMs: t.estimatedArrivalTime,
                    completeAfter: t.completeAfter,
                    completeBefore: t.completeBefore,
                    location: t.destination.location,
                    quantity: t.quantity,
                  },
                ];
              }),
            };
          })
        : [],
      unassigned: plan?.unassigned ?? [],
    };
  }

  /** Tasks whose shipmentId metadata matches, or every task. */
  tasksOfShipment(shipmentId?: string): OnfleetTask[] {
    return this.order
      .map((id) => this.tasks.get(id)!)
      .filter((t) => shipmentId === undefined || metadataValue(t, 'shipmentId') === shipmentId);
  }
}
