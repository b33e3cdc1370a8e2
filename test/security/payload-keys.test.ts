import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataConverterFromConfig, payloadKeyId } from '../../src/platform/codec.js';
import { loadConfig } from '../../src/platform/config.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from '../support/temporal.js';
import { randomSecret, runEntryPoint } from './support.js';
import type { refusedDelivery } from './workflows/failing.js';

const SAMPLE_KEY = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=';

describe('payload keyring in production', () => {
  it('when an older key of the ring is the published sample or one byte repeated then the worker refuses to start, naming each key id', async () => {
    const repeated = Buffer.alloc(32, 7).toString('base64');
    const res = await runEntryPoint('src/workers/main.ts', {
      SHIPSYNC_ENV: 'production',
      SHIPSYNC_DISPATCH_API_KEY: randomSecret(),
      SHIPSYNC_PAYLOAD_KEYS: `k3:${randomSecret()},k2:${repeated},k1:${SAMPLE_KEY}`,
    });
    expect(res.code).toBe(2);
    const lines = res.stderr.split('\n').filter((l) => l.startsWith('worker: SHIPSYNC_'));
    expect(lines).toEqual([
      'worker: SHIPSYNC_PAYLOAD_KEYS: key "k2" is one byte repeated, not random; key "k1" is the published sample key',
    ]);
    expect(res.stderr).not.toContain(repeated);
  });

  it('when a key of the ring is not 32 bytes or the ring is set twice then production refuses it with its own line', () => {
    let lines: string[] = [];
    try {
      loadConfig(
        {
          SHIPSYNC_ENV: 'production',
          SHIPSYNC_DISPATCH_API_KEY: randomSecret(),
          SHIPSYNC_PAYLOAD_KEYS: `k2:${randomSecret()},k1:${randomBytes(16).toString('base64')}`,
        },
        { process: 'worker' },
      );
    } catch (err) {
      lines = (err as { lines(): string[] }).lines();
    }
    expect(lines).toEqual([
      'SHIPSYNC_PAYLOAD_KEYS: key "k1": expected base64 of 32 random bytes (openssl rand -base64 32)',
    ]);
    expect(() =>
      loadConfig(
        {
          SHIPSYNC_ENV: 'production',
          SHIPSYNC_DISPATCH_API_KEY: randomSecret(),
          SHIPSYNC_PAYLOAD_KEY: randomSecret(),
          SHIPSYNC_PAYLOAD_KEYS: `k2:${randomSecret()}`,
        },
        { process: 'worker' },
      ),
    ).toThrow(/SHIPSYNC_PAYLOAD_KEYS: set one of/);
  });
});

describe('encoded failures', () => {
  const recipient = `Dana Whitfield ${randomBytes(3).toString('hex')}`;
  const taskQueue = uniqueTaskQueue('encoded-failures');
  const dataConverter = dataConverterFromConfig(
    loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_PAYLOAD_KEYS: `k1:${randomSecret()}` }),
  );
  let worker: Worker;
  let running: Promise<void>;
  let connection: NativeConnection;

  beforeAll(async () => {
    connection = await NativeConnection.connect({ address: temporalAddress() });
    worker = await Worker.create({
      connection,
      taskQueue,
      // Bundled here with the data converter's failure converter, as a worker of an encrypting deployment is.
      workflowsPath: fileURLToPath(new URL('./workflows/failing.ts', import.meta.url)),
      activities: {
        refuseDelivery: async (name: string) => {
          throw ApplicationFailure.nonRetryable(
            `vendor refused the delivery to ${name}`,
            'DISPATCH_REJECTED',
          );
        },
      },
      dataConverter,
    });
    running = worker.run();
  });
  afterAll(async () => {
    worker?.shutdown();
    await running;
    await connection?.close();
  });

  it('when an activity and then its workflow fail then Temporal stores neither message nor stack trace in clear, and an encrypting client reads both', async () => {
    const conn = await Connection.connect({ address: temporalAddress() });
    const client = new Client({ connection: conn, namespace: 'default', dataConverter });
    const workflowId = `refused-${randomBytes(4).toString('hex')}`;
    try {
      const handle = await client.workflow.start<typeof refusedDelivery>('refusedDelivery', {
        taskQueue,
        workflowId,
        args: [recipient],
      });
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.message).toBe(`no deliverable address for ${recipient}`);
      // The stack trace comes back too (from the encoded attributes; Temporal stored an empty one).
      expect(cause.stack ?? '').toMatch(/refusedDelivery|failing/);
      expect((cause.cause as ApplicationFailure | undefined)?.cause?.message).toBe(
        `vendor refused the delivery to ${recipient}`,
      );

      const { client: plain, connection: plainConnection } = await connectClient();
      try {
        const history = await plain.workflow.getHandle(workflowId).fetchHistory();
        const failures = (history.events ?? []).flatMap((e) => {
          const f =
            e.activityTaskFailedEventAttributes?.failure ?? e.workflowExecutionFailedEventAttributes?.failure;
          return f ? [f] : [];
        });
        expect(failures).toHaveLength(2);
        for (const top of failures) {
          expect(top.message).toBe('Encoded failure');
          expect(top.stackTrace ?? '').toBe('');
          expect(payloadKeyId(top.encodedAttributes!)).toBe('k1');
        }
        // Nothing of the chain (the workflow's failure, the activity failure, the vendor's) is readable.
        const chain = failures.flatMap((f) => [f, f.cause, f.cause?.cause].filter((x) => !!x));
        for (const f of chain) {
          expect(f.message ?? '').not.toContain(recipient);
          expect(f.stackTrace ?? '').not.toContain(recipient);
          expect(f.stackTrace ?? '').not.toContain('refusedDelivery');
          if (f.encodedAttributes) expect(payloadKeyId(f.encodedAttributes)).toBe('k1');
        }
        const started = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
        expect(payloadKeyId(started!)).toBe('k1');
      } finally {
        await plainConnection.close();
      }
    } finally {
      await conn.close();
    }
  });
});
