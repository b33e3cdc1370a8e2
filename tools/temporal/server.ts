import { join, resolve } from 'node:path';
import { sandboxEntryPoint } from '../../src/platform/command.js';
import { loadConfig } from '../../src/platform/config.js';
import { provisionTemporalCli, startDevServer } from './cli.js';
import { SEARCH_ATTRIBUTES } from '../../src/domain/search-attributes.js';

/**
 * `npm run temporal`: the dev server with a persistent SQLite store, shipsync's namespace and search
 * attributes, and its Web UI pointed at the codec server when SHIPSYNC_CODEC_URL is set.
 */
async function main() {
  sandboxEntryPoint('temporal');
  const config = loadConfig();
  const say = (line: string) => console.log(line);
  const cli = await provisionTemporalCli(say);
  const [host = '127.0.0.1', portText = '7233'] = config.SHIPSYNC_TEMPORAL_ADDRESS.split(':');
  const dbFile = resolve(join(config.SHIPSYNC_DATA_DIR, 'temporal', 'temporal.sqlite'));
  const started = Date.now();
  const server = await startDevServer({
    cliPath: cli.path,
    ip: host,
    port: Number(portText),
    uiPort: config.SHIPSYNC_TEMPORAL_UI_PORT,
    namespace: config.SHIPSYNC_TEMPORAL_NAMESPACE,
    dbFile,
    logLevel: 'warn',
    ...(config.SHIPSYNC_CODEC_URL ? { uiCodecEndpoint: config.SHIPSYNC_CODEC_URL } : {}),
  });
  say(`temporal dev server ready in ${Date.now() - started} ms`);
  say(`  gRPC address:      ${server.address}`);
  say(`  Web UI:            ${server.uiUrl ?? '(headless)'}`);
  say(
    config.SHIPSYNC_CODEC_URL
      ? `  codec server:      ${config.SHIPSYNC_CODEC_URL} (npm run codec-server; sign in at ${config.SHIPSYNC_CODEC_URL}/session)`
      : '  codec server:      none (set SHIPSYNC_CODEC_URL to show decrypted payloads in the Web UI)',
  );
  say(`  namespace:         ${config.SHIPSYNC_TEMPORAL_NAMESPACE}`);
  say(`  store:             ${dbFile} (SQLite, WAL)`);
  say(`  search attributes: ${Object.keys(SEARCH_ATTRIBUTES).join(', ')}`);
  say(`  cli:               ${cli.path}`);
  say('press Ctrl-C to stop');
  const stop = () => {
    void server.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  server.process.once('exit', (code) => {
    console.error(`temporal dev server exited with code ${code}`);
    process.exit(1);
  });
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
