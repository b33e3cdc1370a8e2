import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type * as activities from './activities.js';

const { shout } = proxyActivities<typeof activities>({ startToCloseTimeout: '10 seconds' });

/** The shipment status key, so the visibility store's custom search attributes are exercised too. */
const shipmentStatus = defineSearchAttributeKey('ShipmentStatus', SearchAttributeType.KEYWORD);

/** Runs one activity and tags itself with `status`, then returns the activity's answer. */
export async function echoWorkflow(text: string, status: string): Promise<string> {
  const answer = await shout(text);
  upsertSearchAttributes([{ key: shipmentStatus, value: status }]);
  return answer;
}
