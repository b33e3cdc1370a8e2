import type { CaseRef, CrmPort } from '../integrations/ports.js';
import { classified } from './failures.js';

/** CRM activities (task queue `crm`): cases and customer notices. */
export function createCrmActivities({ crm }: { crm: CrmPort }) {
  return classified({
    /** Opens a case for an exception. */
    async crmOpenCase(input: Parameters<CrmPort['openCase']>[0]): Promise<CaseRef> {
      return crm.openCase(input);
    },
    /** Sends the customer a notice on the shipment's ticket. */
    async crmNotifyCustomer(input: Parameters<CrmPort['notifyCustomer']>[0]): Promise<void> {
      await crm.notifyCustomer(input);
    },
    /** Solves a case. */
    async crmCloseCase(input: { caseId: string; resolution: string; idempotencyKey: string }): Promise<void> {
      await crm.closeCase(input.caseId, input.resolution, input.idempotencyKey);
    },
  });
}

/** The CRM activity functions, for `proxyActivities` typing. */
export type CrmActivities = ReturnType<typeof createCrmActivities>;
