import { Context } from '@temporalio/activity';
import type { CaseRef, CrmPort, NoticeRef } from '../integrations/ports.js';
import { classified } from './failures.js';

/**
 * The activity's first attempt: no earlier try of its write can have reached the CRM, so the adapter can skip
 * looking for one. A retry after a crash or timeout (attempt 2 and on) always looks.
 */
function isFirstTry(): boolean {
  return Context.current().info.attempt === 1;
}

/** CRM activities (task queue `crm`): cases, customer notices and replies on customers' tickets. */
export function createCrmActivities({ crm }: { crm: CrmPort }) {
  return classified({
    /** Opens a case for an exception. */
    async crmOpenCase(input: Parameters<CrmPort['openCase']>[0]): Promise<CaseRef> {
      return crm.openCase({ ...input, firstTry: isFirstTry() });
    },
    /** Sends the customer a notice on the shipment's ticket; answers which ticket it went on. */
    async crmNotifyCustomer(input: Parameters<CrmPort['notifyCustomer']>[0]): Promise<NoticeRef> {
      return crm.notifyCustomer({ ...input, firstTry: isFirstTry() });
    },
    /** Answers the customer with a public comment on their own ticket. */
    async crmReplyOnTicket(input: Parameters<CrmPort['replyOnTicket']>[0]): Promise<void> {
      await crm.replyOnTicket({ ...input, firstTry: isFirstTry() });
    },
    /** Raises a case's priority (a passed resolution SLA). */
    async crmRaiseCasePriority(input: Parameters<CrmPort['raiseCasePriority']>[0]): Promise<void> {
      await crm.raiseCasePriority(input);
    },
    /** Solves a case. */
    async crmCloseCase(input: { caseId: string; resolution: string; idempotencyKey: string }): Promise<void> {
      await crm.closeCase(input.caseId, input.resolution, input.idempotencyKey);
    },
  });
}

/** The CRM activity functions, for `proxyActivities` typing. */
export type CrmActivities = ReturnType<typeof createCrmActivities>;
