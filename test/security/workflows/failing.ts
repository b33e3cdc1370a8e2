import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';

/** The activity of the failure-encoding test: a vendor refusing a delivery, its message naming the recipient. */
export interface RefusingActivities {
  refuseDelivery(recipient: string): Promise<void>;
}

const { refuseDelivery } = proxyActivities<RefusingActivities>({
  startToCloseTimeout: '10s',
  retry: { maximumAttempts: 1 },
});

/** Fails the way a shipment step does: an activity's failure, then the workflow's own, both naming the recipient. */
export async function refusedDelivery(recipient: string): Promise<void> {
  try {
    await refuseDelivery(recipient);
  } catch (err) {
    throw ApplicationFailure.create({
      type: 'ADDRESS_NOT_FOUND',
      message: `no deliverable address for ${recipient}`,
      nonRetryable: true,
      cause: err as Error,
    });
  }
}
