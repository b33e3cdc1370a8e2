import { resolve } from 'node:path';
import { once } from 'node:events';
import { loadConfig, sandboxToken } from '../../src/platform/config.js';
import { operatorFor, playDay, progressLine, releaseDay } from '../day/play.js';
import axios from 'axios';
import { reconcile } from '../reconcile.js';
import { clearParked, parkedWaiting, rejectMilestone, type ParkedRound } from './parked.js';
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
    if (opts.rejectMilestone) {
      await rejectMilestone(erp.url, opts.rejectMilestone);
      out(`ERP rule: milestone ${opts.rejectMilestone} refused for good until an operator lifts it`);
    }
    const orders = await releaseDay(
      stack,
      { shipments: opts.shipments, seed: opts.seed, mismatchRate: 0.05 },
      out,
    );
    const operator = operatorFor(stack, orders, 'demo');
    const ids = new Set(operator.ids);
    let waiting: string[] = [];
    let lastLine = '';
    const deadlineMs = Date.now() + opts.timeoutSeconds * 1000;
    await playDay(operator, {
      deadlineMs,
      everyMs: 1000,
      // With a refused milestone the day ends when every shipment closed or waits only on parked work.
      ...(opts.rejectMilestone
        ? {
            done: () =>
              operator.results.size + operator.closedWithoutResult.size + waiting.length >=
              operator.ids.length,
          }
        : {}),
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
      afterPass: async (phases) => {
        if (opts.rejectMilestone) waiting = await parkedWaiting(stack.client, ids);
        const line = progressLine(clock, operator, phases);
        if (line !== lastLine) out(line);
        lastLine = line;
      },
    });
    let parkedRound: ParkedRound | undefined;
    if (opts.rejectMilestone) {
      parkedRound = await clearParked({
        client: stack.client,
        erpUrl: erp.url,
        api: axios.create({ baseURL: stack.gatewayUrl, validateStatus: () => true, timeout: 30_000 }),
        dispatcherToken: sandboxToken('dispatcher'),
        orders,
        waiting,
        say: out,
      });
      await playDay(operator, {
        deadlineMs,
        everyMs: 1000,
        afterPass: (phases) => {
          const line = progressLine(clock, operator, phases);
          if (line !== lastLine) out(line);
          lastLine = line;
        },
      });
    }

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
    if (parkedRound)
      out(
        `refused milestones: ${parkedRound.waiting} shipment(s) waited on parked work, reconciliation reported ${parkedRound.reported} parked item(s), the operator retried ${parkedRound.retried}`,
      );
    // With a refused milestone the job must have reported the parked work before the operator cleared it.
    const parkedSeen = !parkedRound || parkedRound.reported >= parkedRound.waiting;
    const ok = summary.closed === summary.shipments && reconciliation.mismatches.length === 0 && parkedSeen;
    if (opts.keepRunning) {
      out(`stack left running; ops console ${consoleUrl}; Web UI ${stack.uiUrl}; press Ctrl-C to stop`);
      await once(process, 'SIGINT');
    }
    return ok ? 0 : 1;
  } finally {
    await stack.stop();
  }
}
