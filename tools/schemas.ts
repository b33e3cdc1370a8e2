import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderJsonSchemas } from '../src/domain/json-schemas.js';

/** Writes docs/schemas/*.json from the zod schemas; the test suite fails when they are stale. */
const dir = join(process.cwd(), 'docs', 'schemas');
mkdirSync(dir, { recursive: true });
for (const f of readdirSync(dir)) if (f.endsWith('.json')) rmSync(join(dir, f));
const files = renderJsonSchemas();
for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
console.log(`wrote ${Object.keys(files).length} JSON Schema files to docs/schemas/`);
