import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/storage/store.js';
import { startStack, type Stack } from '../support/stack.js';
import { temporalAddress } from '../support/temporal.js';

const run = promisify(execFile);
let stack: Stack;
let workflowId: string;
/** The CLI's data directory: its operator actions go to the audit trail of the gateway store in it. */
const dataDir = mkdtempSync(join(tmpdir(), 'shipsync-cli-'));

beforeAll(async () => {
  stack = await startStack();
  ({ workflowId } = await stack.start());
  await stack.waitFor(workflowId, (s) => s.phase === 'published');
});
afterAll(async () => {
  await stack?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function shipsync(...args: string[]) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/starters/cli.ts', ...args],
      {
        env: {
          ...process.env,
          SHIPSYNC_TEMPORAL_ADDRESS: temporalAddress(),
          SHIPSYNC_ERP_URL: stack.erp.url,
          SHIPSYNC_TASK_QUEUE_PREFIX: stack.prefix,
          SHIPSYNC_DATA_DIR: dataDir,
        },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('shipsync CLI', () => {
  it.each([
    ['an unknown shipment', ['status', 'shipment-NOPE000001'], /unknown shipment/],
    [
      'a window in the past',
      ['reschedule', 'WF', '--from', '2020-01-01T10:00:00Z', '--to', '2020-01-01T12:00:00Z'],
      /RESCHEDULE_WINDOW_IN_PAST/,
    ],
    [
      'a malformed date',
      ['reschedule', 'WF', '--from', 'tomorrow', '--to', '2026-12-02T12:00:00Z'],
      /ISO-8601/,
    ],
    [
      'a window that ends before it starts',
      ['reschedule', 'WF', '--from', '2026-12-02T12:00:00Z', '--to', '2026-12-02T10:00:00Z'],
      /end must be after/,
    ],
    ['an unknown delivery to start', ['start', 'ZZ99999999'], /unknown delivery/],
    ['an unknown event type', ['event', 'WF', 'task.teleported', '--data', '{}'], /unknown event type/],
    ['event data that is not JSON', ['event', 'WF', 'stop.arrived.v1', '--data', '{oops'], /not valid JSON/],
    ['an unknown option', ['list', '--colour', 'red'], /unknown option/],
    ['a bad status filter', ['list', '--status', 'teleported'], /teleported/],
  ])('when given %s then it exits 2 with one line and no stack trace', async (_label, args, message) => {
    const res = await shipsync(...args.map((a) => (a === 'WF' ? workflowId : a)));
    expect(res.code).toBe(2);
    const lines = res.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });

  it('when asked for a status with --json then it prints the status document', async () => {
    const res = await shipsync('--json', 'status', workflowId);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ shipmentId: workflowId, phase: 'published', attempts: 1 });
  });

  it('when a valid future window is given then the reschedule is accepted', async () => {
    const res = await shipsync(
      '--json',
      'reschedule',
      workflowId,
      '--from',
      '2026-12-02T15:00:00Z',
      '--to',
      '2026-12-02T17:00:00Z',
    );
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).window).toEqual({
      start: '2026-12-02T15:00:00.000Z',
      end: '2026-12-02T17:00:00.000Z',
    });
    // An operator tool: the OS user is the principal of the audit row, refusals are recorded too.
    const store = await openStore({ backend: 'sqlite', file: join(dataDir, 'gateway.sqlite') });
    try {
      const rows = await store.audit.list({ shipmentId: workflowId });
      expect(rows[0]).toMatchObject({
        principalKind: 'operator',
        action: 'cli.reschedule',
        method: 'CLI',
        statusCode: 200,
        outcome: 'ok',
      });
      expect(rows.some((r) => r.outcome === 'RESCHEDULE_WINDOW_IN_PAST' && r.statusCode === 422)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('when a history is exported then it is the JSON the replayer reads', async () => {
    const res = await shipsync('history', workflowId);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout).events[0].eventType).toMatch(/WORKFLOW_EXECUTION_STARTED/);
  });
});
