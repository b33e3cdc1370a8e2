import type * as ReconciliationContract from './reconciliation/contract.js';
import type * as ReleaseContract from './release/contract.js';
import type * as ShipmentContract from './shipment/contract.js';

/*
 * The zod schemas of the workflows' contracts, loaded by workflow code only when it needs one: to validate
 * and parse an update's argument, or a scheduled run's input.
 *
 * With the worker's reusable V8 context every cached run evaluates, for itself, each module it imports
 * (the SDK keeps one module cache per run). zod and the schemas weigh about 1.4 MiB of heap and 14 ms per
 * run; without them a shipment run costs what its own modules do. So workflow code imports the zod-free
 * halves (`messages.ts`, `clock-math.ts`, `case-kinds.ts`) and reaches the schemas through these functions:
 * the bundler keeps the modules in the bundle, and a run evaluates them the first time it calls one, which
 * most runs never do. `test/workflows/bundle-modules.test.ts` holds the line.
 *
 * Only the workflow bundle calls these (the bundler supplies `require`); other code imports the contracts.
 */

/** The shipment contract's schemas (updates' arguments). */
export function shipmentSchemas(): typeof ShipmentContract {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- evaluated on first use, see above
  return require('./shipment/contract.js');
}

/** The release contract's schemas (the scheduled run's input). */
export function releaseSchemas(): typeof ReleaseContract {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- evaluated on first use, see above
  return require('./release/contract.js');
}

/** The reconciliation contract's schemas (the scheduled run's input). */
export function reconciliationSchemas(): typeof ReconciliationContract {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- evaluated on first use, see above
  return require('./reconciliation/contract.js');
}
