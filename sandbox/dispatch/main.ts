import { runMain } from '../../src/platform/command.js';
import { loadConfig, useSandboxProfile } from '../../src/platform/config.js';
import { sandboxCommand, serveUntilSignal } from '../common/serve.js';
import { SHIPMENT_WEBHOOK_TRIGGERS } from './index.js';
import { startDispatchSandbox } from './server.js';

/**
 * `npm run sandbox:dispatch -- [options]`: the Onfleet v2 dispatch sandbox on its own, listening where
 * SHIPSYNC_DISPATCH_URL points (default http://127.0.0.1:4002), with SHIPSYNC_DISPATCH_API_KEY and
 * SHIPSYNC_DISPATCH_WEBHOOK_SECRET.
 */
function command() {
  useSandboxProfile('sandbox-dispatch');
  const config = loadConfig();
  return sandboxCommand(
    'sandbox-dispatch',
    'Onfleet API v2 sandbox with route planning and a driver simulator',
    'SHIPSYNC_DISPATCH_URL',
    config.SHIPSYNC_DISPATCH_URL,
  )
    .option('--simulator', 'play planned routes on the compressed clock')
    .option('--webhook-url <url>', 'register this URL for every shipment trigger at start (no handshake)')
    .allowExcessArguments(false)
    .action(
      async (o: { port: number; host: string; seed: number; simulator?: boolean; webhookUrl?: string }) => {
        const now = Date.now();
        const sandbox = await startDispatchSandbox({
          port: o.port,
          host: o.host,
          seed: o.seed,
          apiKey: config.SHIPSYNC_DISPATCH_API_KEY,
          webhookSecret: config.SHIPSYNC_DISPATCH_WEBHOOK_SECRET,
          clock: { scale: config.SHIPSYNC_TIME_SCALE, anchorRealMs: now, anchorSimMs: now },
          simulator: { enabled: o.simulator === true },
          webhooks: o.webhookUrl
            ? SHIPMENT_WEBHOOK_TRIGGERS.map((trigger) => ({ url: o.webhookUrl ?? '', trigger }))
            : [],
        });
        console.log(
          `dispatch sandbox (Onfleet v2) at ${sandbox.url}/api/v2, simulator ${o.simulator ? 'on' : 'off'}`,
        );
        await serveUntilSignal(() => sandbox.close());
      },
    );
}

await runMain(command);
