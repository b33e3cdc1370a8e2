import { proxyActivities } from '@temporalio/workflow';
import type { CrmActivities } from '../../../../src/activities/crm.js';

/** Retries every second, so a test sees the attempts after the first come while a bulk job still waits. */
const { crmOpenCase } = proxyActivities<CrmActivities>({
  startToCloseTimeout: '20s',
  retry: { initialInterval: '1s', backoffCoefficient: 1, maximumAttempts: 30 },
});

/** Opens the cases at once, as shipments raising exceptions together do; answers their case ids. */
export async function openCases(inputs: Parameters<CrmActivities['crmOpenCase']>[0][]): Promise<string[]> {
  const refs = await Promise.all(inputs.map((input) => crmOpenCase(input)));
  return refs.map((r) => r.caseId);
}
