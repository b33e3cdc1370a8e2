import { readFileSync } from 'node:fs';

/** The malloc a process runs with: jemalloc when `bin/with-jemalloc` preloaded it, else the system's. */
export type Allocator = 'jemalloc' | 'system';

/** `SHIPSYNC_ALLOCATOR`: what `bin/with-jemalloc` preloads and the worker checks at start. */
export type AllocatorSetting = 'auto' | 'jemalloc' | 'system';

/** Which malloc this process has, from its memory map (Linux); `system` where there is no /proc. */
export function loadedAllocator(maps?: string): Allocator {
  let text = maps;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/maps', 'utf8');
    } catch {
      return 'system';
    }
  }
  return /\/libjemalloc\.so[.\d]*$/m.test(text) ? 'jemalloc' : 'system';
}

/**
 * The one line a worker refuses to start with when `SHIPSYNC_ALLOCATOR=jemalloc` and it runs without it
 * (started without `bin/with-jemalloc`, or the library is not installed); undefined when the setting holds.
 */
export function allocatorProblem(setting: AllocatorSetting, loaded: Allocator): string | undefined {
  if (setting !== 'jemalloc' || loaded === 'jemalloc') return undefined;
  return 'SHIPSYNC_ALLOCATOR: jemalloc is required but not loaded; install libjemalloc2 and start through bin/with-jemalloc (or set SHIPSYNC_JEMALLOC_PATH)';
}

/** A warning for `auto` on Linux without jemalloc: the worker runs, with more memory than the sizing rule. */
export function allocatorWarning(setting: AllocatorSetting, loaded: Allocator): string | undefined {
  if (setting !== 'auto' || loaded === 'jemalloc' || process.platform !== 'linux') return undefined;
  return "running on glibc's malloc, which keeps each thread's arena at its peak (about 0.5 GiB more at 10,000 shipments in flight): install libjemalloc2 and start through bin/with-jemalloc, or set SHIPSYNC_ALLOCATOR=system to keep it";
}
