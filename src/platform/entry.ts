import { ConfigError, loadConfig, type Config, type ProcessKind } from './config.js';
import type { AppLogger } from './logger.js';

const text = (err: unknown) => (err instanceof Error ? `${err.name}: ${err.message}` : String(err));

/**
 * The configuration of a long-running process (gateway, worker, codec server) from its environment; on a
 * configuration problem prints one line per offending key, then why it stops, and exits 2.
 */
export function loadConfigOrExit(name: ProcessKind): Config {
  try {
    return loadConfig(process.env, { process: name });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const line of err.lines()) console.error(`${name}: ${line}`);
      console.error(
        `${name}: refusing to start (${err.issues.length} configuration problem(s); see .env.example)`,
      );
    } else console.error(`${name}: ${text(err)}`);
    process.exit(2);
  }
}

/**
 * Stops the process cleanly on SIGTERM or SIGINT: logs `message`, runs `close` once and exits 0, or 1 when
 * closing fails; a second signal while closing exits 1 at once.
 */
export function exitOnSignals(logger: AppLogger, message: string, close: () => Promise<void>) {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, message);
    try {
      await close();
    } catch (err) {
      logger.error({ err: text(err) }, 'error during shutdown');
      process.exit(1);
    }
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
