import { DispatchSimulation } from './state/simulation.js';

export { DispatchError, type DispatchSummary, type Plan, type PositionPing } from './state/store.js';
export { metadataValue } from './state/fields.js';

/**
 * The sandbox's dispatch platform: tasks, teams, workers, plans, and the state changes the API and the
 * driver simulator make, each followed by the webhooks Onfleet would send. Built up by concern:
 * `state/store.ts` (state, lookups, webhook wiring), `state/planning.ts` (route planning),
 * `state/tasks.ts` (task CRUD), `state/inspection.ts` (read-only views) and `state/simulation.ts` (what
 * the driver simulator does); `state/fields.ts` holds the helpers over task fields.
 */
export class DispatchState extends DispatchSimulation {}
