import { priceQuantities, type BillableQuantities } from '../domain/billing.js';
import { BillingDocument, type Charge } from '../domain/model.js';
import type { ErpPort, MilestoneReport, ReleasedPage } from '../integrations/ports.js';
import { classified } from './failures.js';

/** Charges priced from the ERP's condition records, and the version of the prices used. */
export interface PricedCharges {
  charges: Charge[];
  pricingVersion: string;
}

/** ERP activities (task queue `erp`): milestones, goods issue, pricing, billing, release paging. */
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
    /**
     * Posts the billing request; a replay returns the same document id. A document whose total is not the sum
     * of its charges, or that names a charge code twice, fails for good (`VALIDATION_FAILED`, naming the field).
     */
    async erpPostBilling(input: {
      doc: BillingDocument;
      idempotencyKey: string;
    }): Promise<{ billingDocumentId: string }> {
      return erp.postBilling(BillingDocument.parse(input.doc), input.idempotencyKey);
    },
    /**
     * Prices the quantities a shipment counted with the ERP's prices valid on the pricing date (cached in the
     * worker); a condition type the ERP has no valid record of fails for good, naming it.
     */
    async erpPriceCharges(input: {
      quantities: BillableQuantities;
      pricingDate: string;
    }): Promise<PricedCharges> {
      const list = await erp.priceList(input.pricingDate);
      return { charges: priceQuantities(input.quantities, list.prices), pricingVersion: list.version };
    },
    /** One page of released deliveries. */
    async erpListReleased(input: { cursor?: string; pageSize: number }): Promise<ReleasedPage> {
      return erp.listReleasedDeliveries(input);
    },
  });
}

/** The ERP activity functions, for `proxyActivities` typing. */
export type ErpActivities = ReturnType<typeof createErpActivities>;
