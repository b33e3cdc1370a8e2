import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

/** `npm run bench:… -- <args>` from source: runs `tools/bench/<script>` and returns exit code, stdout and stderr. */
export async function runBenchTool(script: string, args: string[], timeoutMs = 120_000) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', `tools/bench/${script}`, ...args],
      { cwd: ROOT, timeout: timeoutMs },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
