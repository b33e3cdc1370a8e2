import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/storage/store.js';
import { freePort } from '../support/ports.js';
import { connectClient, temporalAddress, uniqueTaskQueue } from '../support/temporal.js';
import { SeededRandom } from '../../sandbox/common/rng.js';
import {
  asRole,
  finishAll,
  killGatewayProcesses,
  onfleetPayload,
  receivedIds,
  signedDispatch,
  startGatewayProcess,
  startTestShipment,
  startTestWorker,
  testConfig,
  testOrder,
  type GatewayProcess,
} from './support.js';

/**
 * Twenty shipments, each of their dispatch webhooks sent three times in shuffled order, a few signed but
 * malformed bodies among them, and the gateway killed with SIGKILL mid-stream: nothing accepted is lost,
 * each shipment sees its events once in receipt order, the only dead letters are the malformed bodies, and
 * events that come after a shipment closed are counted as late.
 */

const config = testConfig();
const taskQueue = uniqueTaskQueue('gateway-shuffle');
const SHIPMENTS = 20;
const TRIGGERS = ['taskAssigned', 'taskStarted', 'taskArrival', 'taskCompleted'] as const;

let client: Client;
let connection: Connection;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let reader: Store | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'shipsync-shuffle-'));
const started: string[] = [];

beforeAll(async () => {
  ({ client, connection } = await connectClient());
  worker = await startTestWorker(temporalAddress(), taskQueue);
});

afterAll(async () => {
  killGatewayProcesses();
  await reader?.close();
  await finishAll(client, started);
  await worker?.stop();
  await connection?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Webhook {
  payload: unknown;
  malformed: boolean;
}

type Answer = { status: number; body: { eventId?: string; duplicate?: boolean; code?: string } };

async function send(url: string, hook: Webhook): Promise<Answer> {
  const req = signedDispatch(config, hook.payload);
  const res = await fetch(`${url}/webhooks/dispatch`, {
    method: 'POST',
    body: req.body,
    headers: req.headers,
  });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

/** Sums a Prometheus counter over its labels. */
function counterTotal(metrics: string, name: string): number {
  return metrics
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}

describe('duplicated, shuffled webhooks with a gateway kill -9 mid-stream', () => {
  it('when 20 shipments get every webhook three times in shuffled order and the gateway dies halfway then no accepted event is lost or doubled, only malformed bodies are dead letters, and late events are counted as late', async ({
    annotate,
  }) => {
    const seed = Number(process.env.SHIPSYNC_TEST_SEED ?? Date.now() % 100_000);
    // Seeded, so a failing order can be replayed.
    const seeded = new SeededRandom(seed);
    const random = () => seeded.next();
    const shipments: string[] = [];
    for (let i = 0; i < SHIPMENTS; i++) {
      shipments.push(await startTestShipment(client, taskQueue, testOrder(), 'ClosingShipmentWorkflow'));
    }
    started.push(...shipments);
    const t0 = Date.now();
    const unique: Webhook[] = shipments.flatMap((shipmentId, s) =>
      TRIGGERS.map((trigger, i) => ({
        payload: onfleetPayload({ shipmentId, trigger, time: t0 + s * 100 + i * 10_000, eta: t0 + 7200_000 }),
        malformed: false,
      })),
    );
    // Signed, so they are kept: a task without the attempt shipsync put on it, and one without a task.
    for (let i = 0; i < 3; i++) {
      const bad = onfleetPayload({ shipmentId: shipments[i]!, trigger: 'taskArrival', time: t0 + i });
      (bad.data as { task: { metadata: unknown[] } }).task.metadata = [
        { name: 'shipmentId', type: 'string', value: shipments[i] },
      ];
      unique.push({ payload: bad, malformed: true });
    }
    for (let i = 0; i < 2; i++) {
      unique.push({
        payload: { triggerId: 3, triggerName: 'taskCompleted', taskId: `tskBAD${i}`, time: t0 + i, data: {} },
        malformed: true,
      });
    }
    const stream = unique.flatMap((h) => [h, h, h]);
    for (let i = stream.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [stream[i], stream[j]] = [stream[j]!, stream[i]!];
    }

    const port = await freePort();
    const first = await startGatewayProcess({ port, dataDir, temporalAddress: temporalAddress() });
    reader = await openStore({ backend: 'sqlite', file: join(dataDir, 'gateway.sqlite') });
    const answers: { hook: Webhook; answer: Answer }[] = [];
    const failed: Webhook[] = [];
    const killAt = Math.floor(stream.length / 2);
    let next = 0;
    let gw: GatewayProcess = first;
    let killing: Promise<void> | undefined;
    // Four senders at once, like a vendor's delivery workers; the kill lands while requests are in flight.
    const sender = async () => {
      for (let i = next++; i < killAt; i = next++) {
        if (i === killAt - 4) killing ??= first.kill9();
        const hook = stream[i]!;
        try {
          answers.push({ hook, answer: await send(gw.url, hook) });
        } catch {
          failed.push(hook);
        }
      }
    };
    await Promise.all([sender(), sender(), sender(), sender()]);
    await (killing ?? first.kill9());
    const acceptedBeforeKill = answers.length;

    const secondStartedAt = new Date().toISOString();
    const second = await startGatewayProcess({ port, dataDir, temporalAddress: temporalAddress() });
    gw = second;
    // A vendor redelivers what got no answer, then the stream goes on.
    for (const hook of [...failed, ...stream.slice(killAt)])
      answers.push({ hook, answer: await send(gw.url, hook) });

    for (const { hook, answer } of answers) {
      if (hook.malformed) expect([answer.status, answer.body.code]).toEqual([400, 'EVENT_SCHEMA_INVALID']);
      else expect(answer.status).toBe(200);
    }
    const accepted = new Set(
      answers.filter((a) => a.answer.status === 200).map((a) => a.answer.body.eventId!),
    );
    expect(accepted.size).toBe(SHIPMENTS * TRIGGERS.length);

    const closed = async () =>
      (
        await Promise.all(
          shipments.map(async (id) => (await client.workflow.getHandle(id).describe()).status.name),
        )
      ).filter((s) => s === 'COMPLETED').length;
    await expect.poll(closed, { timeout: 60_000, interval: 250 }).toBe(SHIPMENTS);
    // One more event for every shipment, now that all have closed: each must be late.
    const afterClose: string[] = [];
    for (const shipmentId of shipments) {
      const res = await send(gw.url, {
        payload: onfleetPayload({ shipmentId, trigger: 'taskArrival', time: t0 + 3600_000 }),
        malformed: false,
      });
      expect(res.status).toBe(200);
      afterClose.push(res.body.eventId!);
    }
    await expect.poll(() => reader!.inbox.backlog(), { timeout: 60_000, interval: 250 }).toBe(0);

    const rows = await reader.inbox.list({ limit: 10_000 });
    expect(rows).toHaveLength(SHIPMENTS * (TRIGGERS.length + 1));
    expect(new Set(rows.map((r) => r.eventId))).toEqual(new Set([...accepted, ...afterClose]));
    expect(rows.every((r) => r.status === 'delivered')).toBe(true);
    expect(new Set(rows.map((r) => r.outcome))).toEqual(new Set(['forwarded', 'late']));
    for (const id of afterClose) expect(rows.find((r) => r.eventId === id)?.outcome).toBe('late');

    const letters = await reader.deadLetters.list({ limit: 100 });
    expect(letters.map((l) => [l.stage, l.code])).toEqual(
      Array.from({ length: 5 }, () => ['intake', 'EVENT_SCHEMA_INVALID']),
    );

    let lateTotal = 0;
    for (const shipmentId of shipments) {
      const own = rows.filter((r) => r.shipmentId === shipmentId);
      // Each shipment saw its events once, in receipt order (the inbox id is the receipt order).
      expect(await receivedIds(client, shipmentId)).toEqual(
        own.filter((r) => r.outcome === 'forwarded').map((r) => r.eventId),
      );
      const status = await fetch(`${gw.url}/v1/shipments/${shipmentId}`, { headers: asRole('agent') });
      const { inbox } = (await status.json()) as { inbox: { late: number; forwarded: number; dead: number } };
      expect(inbox).toMatchObject({
        late: own.filter((r) => r.outcome === 'late').length,
        forwarded: own.filter((r) => r.outcome === 'forwarded').length,
        dead: 0,
      });
      lateTotal += inbox.late;
    }
    expect(lateTotal).toBeGreaterThanOrEqual(SHIPMENTS);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(counterTotal(metrics, 'shipsync_gateway_late_events_total')).toBe(
      rows.filter((r) => r.outcome === 'late' && r.deliveredAt! >= secondStartedAt).length,
    );
    expect(acceptedBeforeKill).toBeGreaterThan(0);
    await annotate(
      `seed ${seed}: ${answers.length} answers (${acceptedBeforeKill} before the kill, ${failed.length} unanswered and sent again), ` +
        `${rows.length} events, ${lateTotal} late, ${rows.filter((r) => r.attempts > 1).length} delivered after more than one claim`,
    );
    expect(await second.terminate()).toBe(0);
  }, 150_000);
});
