import type { TestProject } from 'vitest/node';
import { startTemporalForTests, type TestTemporal } from '../../tools/temporal/postgres.js';

let temporal: TestTemporal | undefined;

/**
 * Starts one real Temporal server for the whole run: the CLI's dev server by default, Temporal on
 * PostgreSQL with SHIPSYNC_TEST_TEMPORAL=postgres, or an external one at SHIPSYNC_TEST_TEMPORAL_ADDRESS.
 */
export async function setup(project: TestProject) {
  const say = (line: string) => console.log(`[test setup] ${line}`);
  const kind = process.env.SHIPSYNC_TEST_TEMPORAL === 'postgres' ? 'postgres' : 'devserver';
  const started = Date.now();
  temporal = await startTemporalForTests(kind, say);
  say(`temporal ${kind} at ${temporal.address} (${Date.now() - started} ms)`);
  project.provide('temporalCliPath', temporal.cliPath);
  project.provide('temporalAddress', process.env.SHIPSYNC_TEST_TEMPORAL_ADDRESS ?? temporal.address);
}

/** Stops the server started by setup (and drops its test databases on PostgreSQL). */
export async function teardown() {
  await temporal?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCliPath: string;
  }
}
