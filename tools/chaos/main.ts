import { runMain, sandboxEntryPoint } from '../../src/platform/command.js';
import { chaosCommand } from './args.js';
import { runChaos } from './run.js';

/**
 * `npm run chaos -- [--shipments N] [--seed S] [--scale X] [--timeout S] [--json]`
 * Plays the demo scenario under a fault campaign (worker SIGKILLs, a Temporal restart, an ERP outage, a
 * CRM 429 storm, duplicated and reordered dispatch webhooks, malformed webhooks) and then checks that
 * nothing was lost or duplicated. Exit 0 only when every invariant holds; 2 on bad input.
 */
sandboxEntryPoint('chaos');
await runMain(chaosCommand(runChaos));
