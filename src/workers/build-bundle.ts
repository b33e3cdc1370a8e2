import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../platform/codec.js';
import { PREBUILT_BUNDLE, PREBUILT_ENCODED_FAILURES_BUNDLE, workflowBundleOptions } from './workers.js';

/**
 * Prebuilds the workflow bundles (plain, and with the encrypting deployments' failure converter) so workers
 * start without bundling: `npm run build` runs it compiled
 * (`node dist/src/workers/build-bundle.js`), `npm run build:bundle` from source; both write
 * `dist/workflow-bundle.js` and `dist/workflow-bundle-encoded-failures.js`.
 */
for (const [path, failureConverterPath] of [
  [PREBUILT_BUNDLE, undefined],
  [PREBUILT_ENCODED_FAILURES_BUNDLE, FAILURE_CONVERTER_PATH],
] as const) {
  const started = Date.now();
  const { code } = await bundleWorkflowCode(
    workflowBundleOptions(failureConverterPath ? { failureConverterPath } : {}),
  );
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, code);
  console.log(`wrote ${path} (${(code.length / 1024).toFixed(0)} KiB) in ${Date.now() - started} ms`);
}
