import { runMain, sandboxEntryPoint } from '../../src/platform/command.js';
import { demoCommand } from './args.js';
import { runDemo } from './run.js';

/** `npm run demo -- [--shipments N] [--scale X] [--seed S] [--kill-worker-after S] [--keep-running] [--json]` */
sandboxEntryPoint('demo');
await runMain(demoCommand(runDemo));
