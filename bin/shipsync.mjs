#!/usr/bin/env node
// The `shipsync` CLI: the compiled build in dist/ when there is one (`npm run build`, the image), else the
// TypeScript source through tsx (a development checkout without a build).
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const compiled = new URL('../dist/src/starters/cli.js', import.meta.url);
if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/starters/cli.ts');
}
