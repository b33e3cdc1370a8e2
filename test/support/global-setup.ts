import type { TestProject } from 'vitest/node';
import { provisionTemporalCli, startDevServer, type DevServer } from '../../src/platform/temporal-cli.js';
import { freePort } from './ports.js';

let server: DevServer | undefined;

/** Starts one real Temporal dev server for the whole run, or uses SHIPSYNC_TEST_TEMPORAL_ADDRESS if given. */
export async function setup(project: TestProject) {
  const cli = await provisionTemporalCli((line) => console.log(`[test setup] ${line}`));
  project.provide('temporalCliPath', cli.path);
  const external = process.env.SHIPSYNC_TEST_TEMPORAL_ADDRESS;
  if (external) {
    project.provide('temporalAddress', external);
    return;
  }
  const started = Date.now();
  server = await startDevServer({
    cliPath: cli.path,
    port: await freePort(),
    namespace: 'default',
    headless: true,
  });
  console.log(`[test setup] temporal dev server at ${server.address} (${Date.now() - started} ms)`);
  project.provide('temporalAddress', server.address);
}

/** Stops the dev server started by setup. */
export async function teardown() {
  await server?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalCliPath: string;
  }
}
