import { patched, proxyActivities } from '@temporalio/workflow';
import type { ErpActivities } from '../../activities/erp.js';
import type { OrchestrationActivities } from '../../activities/orchestration.js';
import { taskQueues } from '../task-queues.js';
import { releaseSchemas } from '../lazy.js';
import type { OrderReleaseInput, OrderReleaseResult } from './contract.js';

const retry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' } as const;

/** Released deliveries the ERP adapter refuses are kept as dead letters (passes recorded before drop them). */
export const RELEASE_DEAD_LETTERS_PATCH = 'release-dead-letters';

/**
 * Run by a Temporal Schedule: pages through the ERP's released deliveries with a cursor and starts one
 * ShipmentWorkflow each (a delivery already running is attached to, not started twice). A delivery whose
 * data fails validation becomes a dead letter with the reason instead of vanishing.
 */
export async function OrderReleaseWorkflow(
  raw: Partial<OrderReleaseInput> = {},
): Promise<OrderReleaseResult> {
  const input = releaseSchemas().OrderReleaseInput.parse(raw);
  const queues = taskQueues(input.taskQueuePrefix);
  const erp = proxyActivities<ErpActivities>({ taskQueue: queues.erp, startToCloseTimeout: '1m', retry });
  const orchestration = proxyActivities<OrchestrationActivities>({
    taskQueue: queues.shipments,
    startToCloseTimeout: '2m',
    retry,
  });
  const result: OrderReleaseResult = { pages: 0, seen: 0, started: 0, attached: 0 };
  let cursor: string | undefined;
  do {
    const page = await erp.erpListReleased({ cursor, pageSize: input.pageSize });
    result.pages++;
    result.seen += page.orders.length;
    if (page.orders.length > 0) {
      const { started, attached } = await orchestration.startShipments({ orders: page.orders });
      result.started += started;
      result.attached += attached;
    }
    if (page.rejected?.length && patched(RELEASE_DEAD_LETTERS_PATCH)) {
      result.rejected = (result.rejected ?? 0) + page.rejected.length;
      await orchestration.recordRejectedReleases({ rejected: page.rejected });
    }
    cursor = page.nextCursor;
  } while (cursor);
  return result;
}
