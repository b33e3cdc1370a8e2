import { runMain, sandboxEntryPoint } from '../../src/platform/command.js';
import { benchCommand } from './args.js';
import { runCurve } from './curve.js';
import { runFull } from './run.js';

/*
 * `npm run bench -- [--shipments N] [--rate R] [--backend devserver|postgres] [--scale S] [--json]
 *                   [--curve N1,N2,...] [--drain-sample N]`
 * End-to-end benchmark of the whole stack against a bare-Temporal baseline of the same shape; see
 * docs/benchmarks.md for the method.
 */
const say = (line: string) => process.stderr.write(`${line}\n`);
sandboxEntryPoint('bench');
await runMain(
  benchCommand((opts) => (opts.curve ? runCurve({ ...opts, curve: opts.curve }, say) : runFull(opts, say))),
);
