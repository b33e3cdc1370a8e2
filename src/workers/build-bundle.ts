import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PREBUILT_BUNDLE, WORKFLOWS_PATH } from './workers.js';

/**
 * Prebuilds the workflow bundle so workers start without bundling: `npm run build` runs it compiled
 * (`node dist/src/workers/build-bundle.js`), `npm run build:bundle` from source; both write
 * `dist/workflow-bundle.js`.
 */
const started = Date.now();
const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
mkdirSync(dirname(PREBUILT_BUNDLE), { recursive: true });
writeFileSync(PREBUILT_BUNDLE, code);
console.log(
  `wrote ${PREBUILT_BUNDLE} (${(code.length / 1024).toFixed(0)} KiB) in ${Date.now() - started} ms`,
);
