import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEARCH_ATTRIBUTES } from '../../../src/domain/search-attributes.js';
import {
  DEFAULT_POSTGRES_TARGET,
  provisionTemporalServer,
  setupPostgresSchemas,
  startTemporalForTests,
  type TestTemporal,
} from '../../../tools/temporal/postgres.js';
import * as activities from './activities.js';
import type { echoWorkflow } from './workflows.js';

// Worker lifecycle lines at INFO drown test output; warnings and errors still show.
Runtime.install({ logger: new DefaultLogger('WARN') });

const enabled = process.env.SHIPSYNC_TEST_TEMPORAL === 'postgres';

async function existingDatabases(names: string[]): Promise<string[]> {
  const { host, port, user, password } = DEFAULT_POSTGRES_TARGET;
  const client = new pg.Client({ host, port, user, password, database: 'postgres' });
  await client.connect();
  try {
    const r = await client.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datname = ANY($1)',
      [names],
    );
    return r.rows.map((row) => row.datname).sort();
  } finally {
    await client.end();
  }
}

describe.skipIf(!enabled)('temporal server on postgresql', () => {
  let temporal: TestTemporal;
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    // A cold run builds the server from Go modules first, which takes minutes on two cores.
    temporal = await startTemporalForTests('postgres', (line) => console.log(`[temporal-postgres] ${line}`));
    connection = await Connection.connect({ address: temporal.address });
    client = new Client({ connection, namespace: 'default' });
  }, 20 * 60_000);

  afterAll(async () => {
    await connection?.close();
    await temporal?.stop();
  }, 60_000);

  it('when the server is up then it answers with version 1.29 and every shipsync search attribute', async () => {
    const info = await connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toMatch(/^1\.29\./);
    const res = await connection.operatorService.listSearchAttributes({ namespace: 'default' });
    expect(Object.keys(res.customAttributes ?? {})).toEqual(
      expect.arrayContaining(Object.keys(SEARCH_ATTRIBUTES)),
    );
  });

  it('when a workflow runs then it completes and is found by its search attribute', async () => {
    const taskQueue = `test-pg-${randomUUID().slice(0, 8)}`;
    const status = `done-${randomUUID().slice(0, 8)}`;
    const workerConnection = await NativeConnection.connect({ address: temporal.address });
    try {
      const worker = await Worker.create({
        connection: workerConnection,
        namespace: 'default',
        taskQueue,
        workflowsPath: fileURLToPath(new URL('./workflows.ts', import.meta.url)),
        activities,
      });
      const result = await worker.runUntil(
        client.workflow.execute<typeof echoWorkflow>('echoWorkflow', {
          taskQueue,
          workflowId: `echo-${randomUUID()}`,
          args: ['hello postgres', status],
        }),
      );
      expect(result).toBe('HELLO POSTGRES!');
    } finally {
      await workerConnection.close();
    }
    await expect
      .poll(
        async () => {
          const found: string[] = [];
          for await (const wf of client.workflow.list({ query: `ShipmentStatus = "${status}"` }))
            found.push(wf.status.name);
          return found;
        },
        { timeout: 15_000, interval: 250 },
      )
      .toEqual(['COMPLETED']);
  });

  it('when the schema setup runs again on the same databases then it changes nothing', async () => {
    const server = await provisionTemporalServer();
    const [dbName = '', visibilityDbName = ''] = temporal.databases;
    const again = await setupPostgresSchemas(
      { ...DEFAULT_POSTGRES_TARGET, dbName, visibilityDbName },
      server,
    );
    expect(again.created).toEqual([]);
    expect(again.initialised).toEqual([]);
    expect(Object.keys(again.versions).sort()).toEqual([...temporal.databases].sort());
  });

  it('when the run stops its server then its throwaway databases are dropped', async () => {
    expect(await existingDatabases(temporal.databases)).toEqual([...temporal.databases].sort());
    await connection.close();
    await temporal.stop();
    expect(await existingDatabases(temporal.databases)).toEqual([]);
  }, 60_000);
});
