import { Context } from '@temporalio/activity';
import { z } from 'zod';
import type { CaseRef, CreateJobMemory, CreateJobRef, CrmPort, NoticeRef } from '../integrations/ports.js';
import { classified } from './failures.js';

/**
 * The activity's first attempt: no earlier try of its write can have reached the CRM, so the adapter can skip
 * looking for one. A retry after a crash or timeout (attempt 2 and on) always looks.
 */
function isFirstTry(): boolean {
  return Context.current().info.attempt === 1;
}

/** What a CRM activity's heartbeat carries: the bulk job its create went out in. */
const CreateJobHeartbeat = z.object({
  createJob: z.object({
    jobId: z.string().min(1),
    index: z.number().int().min(0),
    key: z.string().min(1),
  }),
});

/** The bulk create job a heartbeat of the previous attempt named, if any. */
function earlierCreateJob(details: unknown): CreateJobRef | undefined {
  const parsed = CreateJobHeartbeat.safeParse(details);
  return parsed.success ? parsed.data.createJob : undefined;
}

/**
 * Carries a ticket create's bulk job across attempts in the activity's heartbeat: this attempt tells the job
 * as soon as its create is in one, and a retry (on any worker) awaits that job instead of creating again.
 */
function createJobMemory(): CreateJobMemory {
  const ctx = Context.current();
  const earlier = earlierCreateJob(ctx.info.heartbeatDetails);
  return { ...(earlier ? { earlier } : {}), started: (job) => ctx.heartbeat({ createJob: job }) };
}

/** CRM activities (task queue `crm`): cases, customer notices and replies on customers' tickets. */
export function createCrmActivities({ crm }: { crm: CrmPort }) {
  return classified({
    /** Opens a case for an exception. */
    async crmOpenCase(input: Parameters<CrmPort['openCase']>[0]): Promise<CaseRef> {
      return crm.openCase({ ...input, firstTry: isFirstTry(), createJobs: createJobMemory() });
    },
    /** Sends the customer a notice on the shipment's ticket; answers which ticket it went on. */
    async crmNotifyCustomer(input: Parameters<CrmPort['notifyCustomer']>[0]): Promise<NoticeRef> {
      return crm.notifyCustomer({ ...input, firstTry: isFirstTry(), createJobs: createJobMemory() });
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
