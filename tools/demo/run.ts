import { resolve } from 'node:path';
import { once } from 'node:events';
import { loadConfig, sandboxToken } from '../../src/platform/config.js';
import { operatorFor, playDay, progressLine, releaseDay } from '../day/play.js';
import { reconcile } from '../reconcile.js';
import { startFullStack } from '../stack.js';
import type { DemoOptions } from './args.js';
import { recountConsole, recountLines } from './recount.js';
import { printSummary, summarise } from './report.js';

/**
 * The main job: starts Temporal, the three sandboxes, the gateway and the worker; seeds the ERP; plays the
 * whole scenario on the compressed clock; reconciles the three systems and prints a summary. Returns the
 * exit code: 0 only when every shipment closed and reconciliation found no mismatch.
 */
export async function runDemo(opts: DemoOptions): Promise<number> {
  const out = (line: string) => (opts.json ? process.stderr : process.stdout).write(`${line}\n`);
  const startedAt = Date.now();
  const stack = await startFullStack({
    dataDir: resolve(loadConfig().SHIPSYNC_DATA_DIR, 'demo'),
    scale: opts.scale,
    seed: opts.seed,
    say: out,
    simulator: { enabled: true, failureRate: 0.1, delayRate: 0.1, damageRate: 0.03 },
    rescheduleRate: 0.1,
    showChildOutput: !opts.json,
  });
  let workerRestarts = 0;
  // The token rides in the URL's fragment, which the browser never sends; the console keeps it per tab.
  const consoleUrl = `${stack.gatewayUrl}/ops/#token=${sandboxToken('admin')}`;
  out(
    `ops console ${consoleUrl} (sign in as dev-finance to approve charges, dev-agent to see an agent's view)`,
  );
  try {
    const { clock, erp, dispatch, crm } = stack;
    const orders = await releaseDay(
      stack,
      { shipments: opts.shipments, seed: opts.seed, mismatchRate: 0.05 },
      out,
    );
    const operator = operatorFor(stack, orders, 'demo');
    let lastLine = '';
    await playDay(operator, {
      deadlineMs: Date.now() + opts.timeoutSeconds * 1000,
      everyMs: 1000,
      beforePass: async () => {
        if (
          opts.killWorkerAfterSeconds !== undefined &&
          workerRestarts === 0 &&
          Date.now() - clock.anchorRealMs > opts.killWorkerAfterSeconds * 1000
        ) {
          out('killing the worker with SIGKILL, then starting a new one');
          await stack.restartWorker('SIGKILL');
          workerRestarts++;
        }
      },
      afterPass: (phases) => {
        const line = progressLine(clock, operator, phases);
        if (line !== lastLine) out(line);
        lastLine = line;
      },
    });

    await crm.drain();
    const results = operator.results;
    const reconciliation = await reconcile({
      client: stack.client,
      say: out,
      erpUrl: erp.url,
      dispatchUrl: dispatch.url,
      crmUrl: crm.url,
      orders,
      results,
    });
    const summary = summarise(opts, orders, results, reconciliation, {
      clock,
      startedAt,
      workerRestarts,
      webUi: stack.uiUrl ?? '',
    });
    summary.crm.customerReschedules = crm.reschedules.length;
    summary.crm.customerReschedulesAccepted = crm.reschedules.filter(
      (r) => r.response && r.response.status < 300,
    ).length;
    summary.dispatch.webhooksSent = dispatch.sender.log.length;
    if (opts.json) console.log(JSON.stringify(summary, null, 2));
    else printSummary(summary);
    try {
      const recount = await recountConsole({
        gatewayUrl: stack.gatewayUrl,
        token: sandboxToken('admin'),
        erpUrl: erp.url,
        dispatchUrl: dispatch.url,
        crmUrl: crm.url,
        orders,
      });
      out('');
      out('ops console tiles recounted from the sandboxes:');
      for (const line of recountLines(recount)) out(`  ${line}`);
    } catch (err) {
      out(`ops console recount failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    const ok = summary.closed === summary.shipments && reconciliation.mismatches.length === 0;
    if (opts.keepRunning) {
      out(`stack left running; ops console ${consoleUrl}; Web UI ${stack.uiUrl}; press Ctrl-C to stop`);
      await once(process, 'SIGINT');
    }
    return ok ? 0 : 1;
  } finally {
    await stack.stop();
  }
}
