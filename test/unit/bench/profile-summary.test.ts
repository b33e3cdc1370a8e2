import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { areaOf, CpuProfile, summarize } from '../../../tools/profile/summary.js';

const dir = mkdtempSync(join(tmpdir(), 'shipsync-prof-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a script under `node --cpu-prof` and returns the profile it wrote. */
function profileOf(script: string): CpuProfile {
  const file = join(dir, `script-${readdirSync(dir).length}.mjs`);
  writeFileSync(file, script);
  const out = join(dir, `out-${readdirSync(dir).length}`);
  execFileSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${out}`, file]);
  const [name] = readdirSync(out);
  return CpuProfile.parse(JSON.parse(readFileSync(join(out, name!), 'utf8')));
}

describe('profile:top summary', () => {
  it('when a process spends its time in one function then that function and its file lead the tables', () => {
    const profile = profileOf(`
      import { createHmac } from 'node:crypto';
      function spinHot(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x; }
      function hashSome() { for (let i = 0; i < 2000; i++) createHmac('sha512', 'k').update('x'.repeat(100)).digest(); }
      spinHot(400);
      hashSome();
    `);
    const summary = summarize([profile], 5);
    expect(summary.functions[0]?.name).toMatch(/^spinHot .*script-\d+\.mjs:3$/);
    expect(summary.functions[0]!.share).toBeGreaterThan(0.5);
    expect(summary.busyMs).toBeGreaterThan(300);
    expect(summary.sampledMs).toBeGreaterThanOrEqual(summary.busyMs + summary.idleMs - 1);
    expect(summary.areas[0]?.name).toMatch(/script-\d+\.mjs$/);
  });

  it('when a process mostly waits then its time counts as idle, not busy', () => {
    const profile = profileOf(`await new Promise((r) => setTimeout(r, 500));`);
    const summary = summarize([profile]);
    expect(summary.idleMs).toBeGreaterThan(400);
    expect(summary.busyMs).toBeLessThan(summary.idleMs);
  });

  it('names areas by npm package, Node built-in and our own directory', () => {
    expect(areaOf('parse', 'file:///app/node_modules/fastify/lib/route.js')).toBe('fastify');
    expect(areaOf('x', 'file:///app/node_modules/a/node_modules/@temporalio/worker/lib/w.js')).toBe(
      '@temporalio/worker',
    );
    expect(areaOf('createHmac', 'node:crypto')).toBe('node:crypto');
    expect(areaOf('claim', 'file:///work/main/src/gateway/forwarder.ts')).toBe('src/gateway');
    expect(areaOf('(garbage collector)', '')).toBe('(garbage collector)');
  });
});
