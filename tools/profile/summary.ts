import { z } from 'zod';

/** The parts of a V8 `.cpuprofile` (as `node --cpu-prof` writes it) that the summary reads. */
export const CpuProfile = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({
        functionName: z.string(),
        url: z.string(),
        lineNumber: z.number(),
      }),
    }),
  ),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});
export type CpuProfile = z.infer<typeof CpuProfile>;

/** Self time of one function or one area of the code, in milliseconds and as a share of busy time. */
export interface Row {
  name: string;
  selfMs: number;
  share: number;
}

/** Where one or more profiles spent their samples. */
export interface ProfileSummary {
  profiles: number;
  /** Wall time the profiles cover, summed. */
  sampledMs: number;
  /** Samples on `(idle)`: the event loop waiting. */
  idleMs: number;
  /** Everything else, garbage collection included: the process's CPU time as the sampler saw it. */
  busyMs: number;
  functions: Row[];
  areas: Row[];
}

/** V8's pseudo-frames, kept as areas of their own. */
const PSEUDO = new Set(['(program)', '(garbage collector)', '(idle)', '(root)']);

/**
 * The area a frame belongs to: the npm package (`node_modules/<pkg>` or `<@scope/pkg>`), a Node built-in
 * (`node:<module>`), our own code by directory (`src/gateway`, `tools/bench`), or V8's own pseudo-frames.
 */
export function areaOf(functionName: string, url: string): string {
  if (!url) return PSEUDO.has(functionName) ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const own = /\/((?:src|tools|sandbox|dist)\/[^/]+)\//.exec(url);
  if (own?.[1]) return own[1];
  // The workflow bundle is evaluated from a generated file inside the worker's isolates.
  if (url.includes('workflow-bundle')) return 'workflow bundle';
  return url
    .replace(/^file:\/\//, '')
    .split('/')
    .slice(-2)
    .join('/');
}

/** A frame's name in the function table: its function, file and line. */
function functionKey(functionName: string, url: string, line: number): string {
  if (!url) return functionName || '(anonymous)';
  const file = url
    .replace(/^file:\/\//, '')
    .replace(/^.*node_modules\//, '')
    .replace(/^.*\/(src|tools|sandbox)\//, '$1/');
  return `${functionName || '(anonymous)'} ${file}:${line + 1}`;
}

function rows(totals: Map<string, number>, busyUs: number, top: number): Row[] {
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({
      name,
      selfMs: Math.round(us / 100) / 10,
      share: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 1000 : 0,
    }));
}

/**
 * Self time per function and per area over the given profiles: each sample's time delta is charged to the
 * frame it landed on. Idle samples count toward the wall time only.
 */
export function summarize(profiles: readonly CpuProfile[], top = 25): ProfileSummary {
  const byFunction = new Map<string, number>();
  const byArea = new Map<string, number>();
  let sampledUs = 0;
  let idleUs = 0;
  for (const p of profiles) {
    const frames = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
    sampledUs += p.endTime - p.startTime;
    p.samples.forEach((id, i) => {
      // V8 records each sample's delta on the next sample; the first delta is the gap from the start.
      const us = Math.max(0, p.timeDeltas[i + 1] ?? 0);
      const frame = frames.get(id);
      if (!frame || us === 0) return;
      if (frame.functionName === '(idle)') {
        idleUs += us;
        return;
      }
      const fn = functionKey(frame.functionName, frame.url, frame.lineNumber);
      const area = areaOf(frame.functionName, frame.url);
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
      byArea.set(area, (byArea.get(area) ?? 0) + us);
    });
  }
  const busyUs = [...byArea.values()].reduce((a, b) => a + b, 0);
  return {
    profiles: profiles.length,
    sampledMs: Math.round(sampledUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    functions: rows(byFunction, busyUs, top),
    areas: rows(byArea, busyUs, top),
  };
}
