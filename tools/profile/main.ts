import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { newCommand, numberIn, runMain, UsageError } from '../../src/platform/command.js';
import { CpuProfile, summarize, type Row } from './summary.js';

/*
 * `npm run profile:top -- <file.cpuprofile | directory>... [--top N] [--json]`
 * Where V8 CPU profiles (from `node --cpu-prof`, `npm run bench -- --cpu-prof <dir>`) spent their time:
 * self time per function and per area (npm package, Node built-in, our directory). A directory is read
 * recursively and its profiles are summed.
 */

function profileFiles(path: string): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new UsageError(`${path}: no such file or directory`);
  }
  if (stat.isFile()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(path, f))
    .sort();
}

function load(file: string): CpuProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: not JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  const parsed = CpuProfile.safeParse(raw);
  if (!parsed.success)
    throw new UsageError(`${file}: not a V8 CPU profile (${parsed.error.issues[0]?.message})`);
  return parsed.data;
}

function table(title: string, rows: Row[]): string {
  const lines = rows.map(
    (r) => `${r.selfMs.toFixed(0).padStart(9)} ms ${(r.share * 100).toFixed(1).padStart(5)} %  ${r.name}`,
  );
  return [`${title}:`, ...lines].join('\n');
}

const program = newCommand('profile:top')
  .description('Self time per function and per area of V8 CPU profiles.')
  .argument('<paths...>', '.cpuprofile files or directories holding them')
  .option('--top <n>', 'rows per table', numberIn('--top', 1, 1000, true), 25)
  .option('--json', 'print JSON instead of tables')
  .action((paths: string[], o: { top: number; json?: boolean }) => {
    const files = paths.flatMap(profileFiles);
    if (files.length === 0) throw new UsageError(`no .cpuprofile file in ${paths.join(', ')}`);
    const summary = summarize(files.map(load), o.top);
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ files, ...summary }, null, 2)}\n`);
      return;
    }
    const busy = summary.sampledMs > 0 ? summary.busyMs / summary.sampledMs : 0;
    process.stdout.write(
      [
        `${summary.profiles} profile(s), ${(summary.sampledMs / 1000).toFixed(1)} s sampled, ` +
          `busy ${(summary.busyMs / 1000).toFixed(1)} s (${(busy * 100).toFixed(0)} %), idle ${(summary.idleMs / 1000).toFixed(1)} s`,
        table('areas (self time)', summary.areas),
        table('functions (self time)', summary.functions),
        '',
      ].join('\n\n'),
    );
  });

await runMain(program);
