import { Command } from 'commander';
import { loadConfig } from '../../src/platform/config.js';
import { WEBHOOK_TRIGGERS, type TriggerName } from './onfleet.js';
import { startDispatchSandbox } from './server.js';

/** Triggers shipsync's gateway listens to when --webhook-url is given. */
const GATEWAY_TRIGGERS: TriggerName[] = [
  'taskCreated',
  'taskAssigned',
  'taskStarted',
  'taskEta',
  'taskArrival',
  'taskDelayed',
  'taskCompleted',
  'taskFailed',
];

/** Runs the Onfleet-dialect dispatch sandbox on its own (default port 4002). */
async function main() {
  const config = loadConfig();
  const defaultPort = Number(new URL(config.SHIPSYNC_DISPATCH_URL).port || 4002);
  const program = new Command()
    .name('sandbox-dispatch')
    .description('Onfleet API v2 sandbox with route planning and a driver simulator')
    .option('--port <port>', 'TCP port', String(defaultPort))
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--seed <seed>', 'seed of drivers, plans and outcomes', '1')
    .option('--simulator', 'play planned routes on the compressed clock', false)
    .option('--webhook-url <url>', 'register the gateway for every task trigger at start (no handshake)')
    .parse();
  const o = program.opts<{
    port: string;
    host: string;
    seed: string;
    simulator: boolean;
    webhookUrl?: string;
  }>();
  const now = Date.now();
  const sandbox = await startDispatchSandbox({
    port: Number(o.port),
    host: o.host,
    seed: Number(o.seed),
    apiKey: config.SHIPSYNC_DISPATCH_API_KEY,
    webhookSecret: config.SHIPSYNC_DISPATCH_WEBHOOK_SECRET,
    clock: { scale: config.SHIPSYNC_TIME_SCALE, anchorRealMs: now, anchorSimMs: now },
    simulator: { enabled: o.simulator },
    webhooks: o.webhookUrl
      ? GATEWAY_TRIGGERS.map((t) => ({ url: o.webhookUrl!, trigger: WEBHOOK_TRIGGERS[t] }))
      : [],
  });
  console.log(
    `dispatch sandbox (Onfleet v2) at ${sandbox.url}/api/v2, simulator ${o.simulator ? 'on' : 'off'}`,
  );
  const stop = () => {
    void sandbox.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`sandbox-dispatch: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
