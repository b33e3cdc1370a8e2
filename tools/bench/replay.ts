import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DefaultLogger,
  Runtime,
  Worker,
  bundleWorkflowCode,
  type ReplayWorkerOptions,
} from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { newCommand, numberIn, runMain } from '../../src/platform/command.js';
import {
  withoutWorkflowStackTraces,
  workflowThreadsWithoutStackTraces,
} from '../../src/workers/stack-traces.js';
import { workflowBundleOptions } from '../../src/workers/workers.js';
import { percentile } from './stats.js';

/**
 * `npm run bench:replay -- [--rounds N] [--repeat N] [--json]`
 * The worker's CPU for workflow tasks, with and without the SDK's workflow stack traces
 * (`SHIPSYNC_WORKFLOW_STACK_TRACES`): the stored shipment histories of `test/replay/histories` are replayed
 * through the SDK's replay worker (the same workflow threads, sandbox and bundle a worker runs), `--repeat`
 * times each per round, in rounds that alternate on and off in one process after one uncounted round of
 * each, so both settings share the machine's state. Each round reports the process's CPU time (all threads) and wall time per history.
 */

const HISTORIES = fileURLToPath(new URL('../../test/replay/histories', import.meta.url));

interface Options {
  rounds: number;
  repeat: number;
  json: boolean;
}

interface Round {
  stackTraces: boolean;
  histories: number;
  cpuMsPerHistory: number;
  wallMsPerHistory: number;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

const command = newCommand('bench:replay')
  .description("CPU per replayed shipment history with the SDK's workflow stack traces on and off.")
  .option('--rounds <n>', 'rounds of each setting, alternating', numberIn('--rounds', 1, 50, true), 4)
  .option('--repeat <n>', 'replays of every stored history per round', numberIn('--repeat', 1, 100, true), 4)
  .option('--json', 'print the result as JSON', false)
  .action(async (o: Options) => {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    const stored = readdirSync(HISTORIES)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({
        id: f.replace(/\.json$/, ''),
        json: JSON.parse(readFileSync(join(HISTORIES, f), 'utf8')),
      }));
    const workflowBundle = await bundleWorkflowCode({
      ...workflowBundleOptions(),
      logger: new DefaultLogger('ERROR'),
    });
    const replayAll = async (round: number) => {
      const histories = function* () {
        for (let k = 0; k < o.repeat; k++)
          for (const h of stored)
            yield { workflowId: `${h.id}-${round}-${k}`, history: historyFromJSON(h.json) };
      };
      let count = 0;
      // The SDK's replay worker runs in debug mode by default: its workflows run on this thread, where neither
      // the stack-trace hook's setting nor a worker's costs (the workflow threads) apply. A worker runs them in
      // workflow threads, so the replay does too (the option is left out of the replay worker's type, and the
      // SDK applies it over its default).
      const options = { workflowBundle, debugMode: false } as ReplayWorkerOptions;
      for await (const result of Worker.runReplayHistories(options, histories())) {
        if (result.error) throw new Error(`replay of ${result.workflowId} failed: ${String(result.error)}`);
        count++;
      }
      return count;
    };
    // A round of each setting first, not counted: the bundle, the SDK and the JIT warm up.
    await replayAll(-1);
    await withoutWorkflowStackTraces(() => replayAll(-2));
    const rounds: Round[] = [];
    for (let i = 0; i < o.rounds * 2; i++) {
      const stackTraces = i % 2 === 0;
      const cpu = process.cpuUsage();
      const started = process.hrtime.bigint();
      const threadsBefore = workflowThreadsWithoutStackTraces();
      const histories = stackTraces
        ? await replayAll(i)
        : await withoutWorkflowStackTraces(() => replayAll(i));
      if (!stackTraces && workflowThreadsWithoutStackTraces() === threadsBefore)
        throw new Error(
          'the replay started no workflow thread without stack traces: the setting was not measured',
        );
      const used = process.cpuUsage(cpu);
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      const r = {
        stackTraces,
        histories,
        cpuMsPerHistory: round2((used.user + used.system) / 1000 / histories),
        wallMsPerHistory: round2(wallMs / histories),
      };
      rounds.push(r);
      if (!o.json)
        process.stderr.write(
          `round ${i + 1}/${o.rounds * 2}, stack traces ${stackTraces ? 'on' : 'off'}: ${r.cpuMsPerHistory} ms CPU per history\n`,
        );
    }
    const summary = (on: boolean) => {
      const mine = rounds.filter((r) => r.stackTraces === on);
      return {
        cpuMsPerHistory: round2(
          percentile(
            mine.map((r) => r.cpuMsPerHistory),
            0.5,
          ) ?? 0,
        ),
        wallMsPerHistory: round2(
          percentile(
            mine.map((r) => r.wallMsPerHistory),
            0.5,
          ) ?? 0,
        ),
      };
    };
    const on = summary(true);
    const off = summary(false);
    const result = {
      storedHistories: stored.length,
      repeat: o.repeat,
      rounds,
      medians: { stackTracesOn: on, stackTracesOff: off },
      cpuSavedShare: round2(1 - off.cpuMsPerHistory / on.cpuMsPerHistory),
      node: process.version,
    };
    if (o.json) console.log(JSON.stringify(result, null, 2));
    else
      console.log(
        `${stored.length} stored histories × ${o.repeat}, ${o.rounds} rounds each: ${on.cpuMsPerHistory} ms CPU per history with stack traces, ${off.cpuMsPerHistory} ms without (${Math.round(result.cpuSavedShare * 100)} % less)`,
      );
  });

await runMain(command);
