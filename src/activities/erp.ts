import type { BillingDocument } from '../domain/model.js';
import type { ErpPort, MilestoneReport, ReleasedPage } from '../integrations/ports.js';
import { classified } from './failures.js';

/** ERP activities (task queue `erp`): milestones, goods issue, billing, release paging. */
export function createErpActivities({ erp }: { erp: ErpPort }) {
  return classified({
    /** Reports a business milestone once per idempotency key. */
    async erpPostMilestone(report: MilestoneReport): Promise<void> {
      await erp.postMilestone(report);
    },
    /** Posts goods issue for the delivery. */
    async erpPostGoodsIssue(input: { deliveryId: string; idempotencyKey: string }): Promise<void> {
      await erp.postGoodsIssue(input.deliveryId, input.idempotencyKey);
    },
    /** Posts the billing request; a replay returns the same document id. */
    async erpPostBilling(input: {
      doc: BillingDocument;
      idempotencyKey: string;
    }): Promise<{ billingDocumentId: string }> {
      return erp.postBilling(input.doc, input.idempotencyKey);
    },
    /** One page of released deliveries. */
    async erpListReleased(input: { cursor?: string; pageSize: number }): Promise<ReleasedPage> {
      return erp.listReleasedDeliveries(input);
    },
  });
}

/** The ERP activity functions, for `proxyActivities` typing. */
export type ErpActivities = ReturnType<typeof createErpActivities>;
