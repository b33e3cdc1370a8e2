import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCrmActivities } from '../../../src/activities/crm.js';
import { createCrmAdapter } from '../../../src/integrations/crm/adapter.js';
import { startCrmSandbox, type CrmSandbox } from '../../../sandbox/crm/server.js';
import { connectClient, temporalAddress, uniqueId, uniqueTaskQueue } from '../../support/temporal.js';
import { api, waitFor } from './helpers.js';
import type { openCases } from './workflows/open-cases.js';

const CREATE_MANY = 'POST /api/v2/tickets/create_many';
const CREATE_ONE = 'POST /api/v2/tickets';

/** A worker of its own with a fresh adapter, as another shipsync process would have. */
async function startWorker(connection: NativeConnection, taskQueue: string, crmUrl: string) {
  const crm = createCrmAdapter({
    baseUrl: crmUrl,
    jobWait: { firstPollMs: 50, maxPollMs: 100, timeoutMs: 300 },
  });
  const worker = await Worker.create({
    connection,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('./workflows/open-cases.ts', import.meta.url)),
    activities: createCrmActivities({ crm }),
  });
  return { worker, running: worker.run() };
}

describe('a case create retried on another worker while its bulk job waits', () => {
  let sandbox: CrmSandbox;
  let connection: NativeConnection;

  beforeAll(async () => {
    // Zendesk keeps the job queued 4 s: longer than the adapter's bound and than the retries' interval.
    sandbox = await startCrmSandbox({ jobDelayMs: 4_000 });
    connection = await NativeConnection.connect({ address: temporalAddress() });
  });
  afterAll(async () => {
    await sandbox?.close();
    await connection?.close();
  });

  it('when the first worker gave up on the create_many job then the retry on a second worker awaits that job and no ticket is opened twice', async () => {
    const taskQueue = uniqueTaskQueue('crm-retry-across');
    const shipments = [uniqueId('shipment-X'), uniqueId('shipment-X')];
    const inputs = shipments.map((shipmentId) => ({
      shipmentId,
      deliveryId: shipmentId.replace('shipment-', ''),
      customerId: 'C1001',
      kind: 'failed_attempt' as const,
      subject: `Failed delivery attempt for ${shipmentId}`,
      description: 'Recipient absent; reattempt planned.',
      priority: 'high' as const,
      idempotencyKey: `${shipmentId}:case:failed_attempt:1`,
    }));
    const counts = async () =>
      ((await api(sandbox.url, 'GET', '/__sandbox/requests')).body as { byRoute: Record<string, number> })
        .byRoute;
    const before = await counts();
    const first = await startWorker(connection, taskQueue, sandbox.url);
    const { client, connection: clientConnection } = await connectClient();
    try {
      const handle = await client.workflow.start<typeof openCases>('openCases', {
        taskQueue,
        workflowId: uniqueId('open-cases-'),
        args: [inputs],
      });
      // Both first attempts went out in one create_many; the first worker leaves once they gave up on its job.
      await waitFor(
        async () => ((await counts())[CREATE_MANY] ?? 0) - (before[CREATE_MANY] ?? 0) === 1 || undefined,
      );
      first.worker.shutdown();
      await first.running;
      const second = await startWorker(connection, taskQueue, sandbox.url);
      try {
        const caseIds = await handle.result();
        expect(new Set(caseIds).size).toBe(2);
        const after = await counts();
        expect((after[CREATE_MANY] ?? 0) - (before[CREATE_MANY] ?? 0)).toBe(1);
        expect((after[CREATE_ONE] ?? 0) - (before[CREATE_ONE] ?? 0)).toBe(0);
        const tickets = sandbox.store.all().filter((t) => shipments.includes(String(t.externalId)));
        expect(tickets.map((t) => String(t.id)).sort()).toEqual([...caseIds].sort());
        // The retries ran on the second worker: each case's activity took more than one attempt.
        const history = await handle.fetchHistory();
        const retried = (history.events ?? []).filter(
          (e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1,
        );
        expect(retried.length).toBe(2);
      } finally {
        second.worker.shutdown();
        await second.running;
      }
    } finally {
      await clientConnection.close();
    }
  }, 90_000);
});
