import { z } from 'zod';

/** Id of the Temporal Schedule that pulls released deliveries from the ERP. */
export const ORDER_RELEASE_SCHEDULE_ID = 'order-release';

/** The release workflow's type name, as workers register it (the workflow function's name). */
export const ORDER_RELEASE_WORKFLOW_TYPE = 'OrderReleaseWorkflow';

/** Input of OrderReleaseWorkflow. */
export const OrderReleaseInput = z.object({
  pageSize: z.number().int().min(1).max(1000).default(100),
  taskQueuePrefix: z.string().max(60).default(''),
});
export type OrderReleaseInput = z.infer<typeof OrderReleaseInput>;

/** What one release run did. */
export interface OrderReleaseResult {
  pages: number;
  seen: number;
  started: number;
  attached: number;
  /** Released deliveries whose data failed validation, kept as dead letters (stage release). */
  rejected?: number;
}
