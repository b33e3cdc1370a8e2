import { once } from 'node:events';

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
