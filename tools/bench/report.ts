import type { BatchFigures } from './baseline.js';
import type { busySampler, offeredLoad, p50p99 } from './measure.js';

/** How busy the machine was over a run. */
type BusyFigures = ReturnType<ReturnType<typeof busySampler>['stop']>;

/** Prints the full-stack report for a person. */
export function printReport(r: {
  shipments: { released: number; closed: number; startRateAchieved?: number };
  throughput: BatchFigures;
  scheduleToStartMs: { workflowTask: ReturnType<typeof p50p99>; activity: ReturnType<typeof p50p99> };
  eventToErpMilestoneMs: { all: ReturnType<typeof p50p99> };
  gatewayForwardMs: ReturnType<typeof p50p99>;
  rescheduleRoundTripMs: ReturnType<typeof p50p99> & { stages?: Record<string, ReturnType<typeof p50p99>> };
  peakRssMiB: { worker?: number; gateway?: number };
  workerAllocator?: string;
  workflowStackTraces?: boolean;
  vendorRequests?: Record<
    'erp' | 'dispatch' | 'crm',
    { requests: number; perShipment?: number; budget: string; budgetShare?: number }
  >;
  temporal: { stateTransitionsPerSecond?: number };
  inboxBacklogAtEnd?: number;
  cpuSeconds: Record<string, number>;
  machineBusy?: { ours: BusyFigures; baseline?: BusyFigures };
  offeredLoad?: ReturnType<typeof offeredLoad>;
  reconciliation: { clean: boolean; mismatches: string[]; casesByKind: Record<string, number> };
  baseline?: {
    completedPerSecond: number;
    oursOverBaseline?: number;
    oursOverBaselineByCpu?: number;
    scheduleToStartMs: { workflowTask: ReturnType<typeof p50p99>; activity: ReturnType<typeof p50p99> };
  };
}) {
  const pp = (x: ReturnType<typeof p50p99>) =>
    `p50 ${x.p50 ?? '-'} ms, p99 ${x.p99 ?? '-'} ms (${x.samples})`;
  const rows: [string, string][] = [
    [
      'shipments closed',
      `${r.shipments.closed} / ${r.shipments.released} (starts ${r.shipments.startRateAchieved}/s)`,
    ],
    ['completed shipments/s', `${r.throughput.completedPerSecond} over ${r.throughput.spanSeconds} s`],
    ['workflow task schedule-to-start', pp(r.scheduleToStartMs.workflowTask)],
    ['activity schedule-to-start', pp(r.scheduleToStartMs.activity)],
    ['event → ERP milestone', pp(r.eventToErpMilestoneMs.all)],
    ['— of which gateway inbox → signal', pp(r.gatewayForwardMs)],
    ['reschedule round trip', pp(r.rescheduleRoundTripMs)],
    ...Object.entries(r.rescheduleRoundTripMs.stages ?? {}).map(([k, v]): [string, string] => [
      `— ${k}`,
      pp(v),
    ]),
    ...(['erp', 'dispatch', 'crm'] as const).map((v): [string, string] => {
      const f = r.vendorRequests?.[v];
      return [
        `${v} requests`,
        f ? `${f.requests} (${f.perShipment} per shipment, ${f.budgetShare} of ${f.budget})` : '-',
      ];
    }),
    ['peak RSS worker / gateway', `${r.peakRssMiB.worker} / ${r.peakRssMiB.gateway} MiB`],
    ['worker allocator', r.workerAllocator ?? '-'],
    [
      'workflow stack traces',
      r.workflowStackTraces === undefined ? '-' : r.workflowStackTraces ? 'on' : 'off',
    ],
    ['state transitions/s', String(r.temporal.stateTransitionsPerSecond)],
    ['inbox backlog at end', String(r.inboxBacklogAtEnd)],
    [
      'CPU seconds',
      Object.entries(r.cpuSeconds)
        .map(([k, v]) => `${k} ${v}`)
        .join(', '),
    ],
    [
      'machine busy (mean; seconds ≥ 95 %)',
      r.machineBusy
        ? `${r.machineBusy.ours.meanBusyShare}; ${r.machineBusy.ours.samplesAtLeast95PercentBusy} of ${r.machineBusy.ours.samples} s (baseline ${r.machineBusy.baseline?.meanBusyShare ?? '-'}; ${r.machineBusy.baseline?.samplesAtLeast95PercentBusy ?? '-'} of ${r.machineBusy.baseline?.samples ?? '-'} s)`
        : '-',
    ],
    [
      'cores the start rate asks for',
      r.offeredLoad
        ? `${r.offeredLoad.coresAsked} of ${r.offeredLoad.cores} (sustainable ${r.offeredLoad.sustainableStartsPerSecond} starts/s; baseline ${r.offeredLoad.baselineCoresAsked ?? '-'}, sustainable ${r.offeredLoad.baselineSustainableStartsPerSecond ?? '-'})`
        : '-',
    ],
    ['baseline completed/s', String(r.baseline?.completedPerSecond ?? '-')],
    [
      'baseline schedule-to-start wf/act',
      r.baseline
        ? `${pp(r.baseline.scheduleToStartMs.workflowTask)} / ${pp(r.baseline.scheduleToStartMs.activity)}`
        : '-',
    ],
    ['ours ÷ baseline (completed/s)', String(r.baseline?.oursOverBaseline ?? '-')],
    ['ours ÷ baseline (CPU per shipment)', String(r.baseline?.oursOverBaselineByCpu ?? '-')],
    [
      'CRM cases by kind',
      Object.entries(r.reconciliation.casesByKind)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'none',
    ],
    [
      'reconciliation',
      r.reconciliation.clean ? 'clean' : `${r.reconciliation.mismatches.length} mismatch(es)`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  for (const m of r.reconciliation.mismatches) console.log(`  mismatch: ${m}`);
}

/** One point of the scale curve as printed. */
export interface CurvePoint {
  inFlight: number;
  startsPerSecond?: number;
  workerRssInFlightMiB?: number;
  workerPeakRssMiB?: number;
  workerAllocator?: string;
  released: number;
  drain: BatchFigures;
  workerCpuMsPerEvent?: number;
}

/** Prints the scale curve as a table. */
export function printCurve(points: CurvePoint[]) {
  console.log(
    `in flight  start/s  RSS in flight  peak RSS  allocator  released  drain/s  events/run  worker CPU ms/event`,
  );
  for (const p of points) {
    console.log(
      `${String(p.inFlight).padStart(9)}  ${String(p.startsPerSecond).padStart(7)}  ${`${p.workerRssInFlightMiB} MiB`.padStart(13)}  ${`${p.workerPeakRssMiB} MiB`.padStart(8)}  ${String(p.workerAllocator ?? '-').padStart(9)}  ${String(p.released).padStart(8)}  ${String(p.drain.completedPerSecond).padStart(7)}  ${String(p.drain.eventsPerRun).padStart(10)}  ${String(p.workerCpuMsPerEvent).padStart(19)}`,
    );
  }
}
