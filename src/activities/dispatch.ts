import { Context } from '@temporalio/activity';
import type { Address, GeocodedAddress, GeoPoint, Job, TimeWindow } from '../domain/model.js';
import type { DispatchPort, DispatchTaskRef, GeocoderPort, PlanResult } from '../integrations/ports.js';
import { classified } from './failures.js';

/**
 * The activity's first attempt: no earlier try of its create can have reached dispatch, so the adapter can
 * skip looking for one. A retry after a crash or timeout (attempt 2 and on) always looks.
 */
function isFirstTry(): boolean {
  return Context.current().info.attempt === 1;
}

/** Dispatch activities (task queue `dispatch`): geocoding, tasks, planning. */
export function createDispatchActivities({
  dispatch,
  geocoder,
}: {
  dispatch: DispatchPort;
  geocoder: GeocoderPort;
}) {
  return classified({
    /** Validates and locates an address offline. */
    async geocodeAddress(address: Address): Promise<GeocodedAddress> {
      return geocoder.geocode(address);
    },
    /** Creates the task of a job attempt, or finds the one a retry already created. */
    async dispatchCreateTask(input: { job: Job; idempotencyKey: string }): Promise<DispatchTaskRef> {
      return dispatch.createTask(input.job, input.idempotencyKey, { firstTry: isFirstTry() });
    },
    /** Moves a task's window; dispatch re-plans and returns the new ETA. */
    async dispatchRescheduleTask(input: { taskId: string; window: TimeWindow }): Promise<{ eta?: string }> {
      return dispatch.rescheduleTask(input.taskId, input.window);
    },
    /** Replaces a task's destination. */
    async dispatchUpdateDestination(input: {
      taskId: string;
      address: Address;
      location: GeoPoint;
    }): Promise<void> {
      await dispatch.updateTaskDestination(input.taskId, input.address, input.location);
    },
    /** Cancels a task that will not be executed. */
    async dispatchCancelTask(input: { taskId: string }): Promise<void> {
      await dispatch.cancelTask(input.taskId);
    },
    /** Optimises one region and date. */
    async dispatchPlanRegion(input: { region: string; date: string }): Promise<PlanResult> {
      return dispatch.planRegion(input.region, input.date);
    },
  });
}

/** The dispatch activity functions, for `proxyActivities` typing. */
export type DispatchActivities = ReturnType<typeof createDispatchActivities>;
