import { once } from 'node:events';
import { newCommand, numberIn } from '../../src/platform/command.js';

/** Host and port a sandbox listens on, from the base URL shipsync is configured to call it at. */
export function listenAddress(url: string): { host: string; port: number } {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)),
  };
}

/** Waits for Ctrl-C or SIGTERM, then closes what was started. */
export async function serveUntilSignal(close: () => Promise<unknown>): Promise<void> {
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  await close();
}

/**
 * The command of one sandbox on its own: `--port` and `--host` default to where shipsync is configured to
 * call it (`urlKey` of the config, holding `url`), and `--seed` seeds every random decision.
 */
export function sandboxCommand(name: string, description: string, urlKey: string, url: string) {
  const at = listenAddress(url);
  return newCommand(name)
    .description(description)
    .option(
      '--port <n>',
      `TCP port (default: the port of ${urlKey})`,
      numberIn('--port', 0, 65535, true),
      at.port,
    )
    .option('--host <host>', `interface to bind (default: the host of ${urlKey})`, at.host)
    .option('--seed <n>', 'seed of every random decision', numberIn('--seed', 0, 2 ** 31, true), 1);
}
