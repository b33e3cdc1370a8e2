/** Workflow task queue of the shipment, release and planning workflows. */
export const SHIPMENTS_TASK_QUEUE = 'shipments';
/** One activity task queue per external system, so each gets its own rate limit and concurrency. */
export const ACTIVITY_TASK_QUEUES = { erp: 'erp', dispatch: 'dispatch', crm: 'crm' } as const;

/** Every task queue name under an optional prefix (one deployment or test can own its own set). */
export function taskQueues(prefix = '') {
  return {
    shipments: `${prefix}${SHIPMENTS_TASK_QUEUE}`,
    erp: `${prefix}${ACTIVITY_TASK_QUEUES.erp}`,
    dispatch: `${prefix}${ACTIVITY_TASK_QUEUES.dispatch}`,
    crm: `${prefix}${ACTIVITY_TASK_QUEUES.crm}`,
  };
}
/** The task queue names of one deployment. */
export type TaskQueues = ReturnType<typeof taskQueues>;
