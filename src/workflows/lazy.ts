import type * as ReconciliationContract from './reconciliation/contract.js';
import type * as ReleaseContract from './release/contract.js';
import type * as ShipmentContract from './shipment/contract.js';
import type * as ServiceDays from '../domain/service-days.js';

/*
 * Modules the workflow code loads only when it needs them: the zod schemas of the contracts (to validate and
 * parse an update's argument, or a scheduled run's input) and the service-day calendar, which needs luxon
 * (to move a window to the next service day, or check a rescheduled one).
 *
 * With the worker's reusable V8 context every cached run evaluates, for itself, each module it imports
 * (the SDK keeps one module cache per run). zod with the schemas weighs about 1.3 MiB of heap and 13 ms per
 * run, luxon about 95 KiB; without them a shipment run costs what its own modules do. So workflow code
 * imports the zod- and luxon-free halves (`messages.ts`, `clock-math.ts`, `case-kinds.ts`, `regions.ts`)
 * and reaches the rest through these functions: the bundler keeps the modules in the bundle, and a run
 * evaluates them the first time it calls one, which most runs never do. eslint (`workflowImports`) and
 * `test/unit/workers/workflow-modules.test.ts` hold the line.
 *
 * Only the workflow bundle calls these (the bundler supplies `require`, see `workflowBundleOptions`); other
 * code imports the modules themselves.
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

/** The service-day calendar of a region (luxon). */
export function serviceDays(): typeof ServiceDays {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- evaluated on first use, see above
  return require('../domain/service-days.js');
}
