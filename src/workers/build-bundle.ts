import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PREBUILT_BUNDLE } from './workers.js';

/** `npm run build:bundle`: prebuilds the workflow bundle so workers start without bundling. */
const started = Date.now();
const { code } = await bundleWorkflowCode({
  workflowsPath: fileURLToPath(new URL('../workflows/index.ts', import.meta.url)),
});
mkdirSync(dirname(PREBUILT_BUNDLE), { recursive: true });
writeFileSync(PREBUILT_BUNDLE, code);
console.log(
  `wrote ${PREBUILT_BUNDLE} (${(code.length / 1024).toFixed(0)} KiB) in ${Date.now() - started} ms`,
);
