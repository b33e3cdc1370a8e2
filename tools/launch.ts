import { fileURLToPath } from 'node:url';

/** The launcher every worker process starts through (`npm run worker`, the image, the stack, the bench). */
export const WITH_JEMALLOC = fileURLToPath(new URL('../bin/with-jemalloc', import.meta.url));

/**
 * The command and arguments that start a worker process on Node with `nodeArgs`, through `bin/with-jemalloc`
 * as a deployment starts it (the launcher `exec`s Node, so the child's pid is Node's).
 */
export function workerCommand(nodeArgs: string[]): [string, string[]] {
  return [WITH_JEMALLOC, [process.execPath, ...nodeArgs]];
}
