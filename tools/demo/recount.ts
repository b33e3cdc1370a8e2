import { setTimeout as sleep } from 'node:timers/promises';
import axios from 'axios';
import type { Order } from '../../src/domain/model.js';
import { shipmentWorkflowId } from '../../src/workflows/shipment/contract.js';

/** One console figure next to the same figure counted from the sandboxes' own records. */
export interface RecountRow {
  tile: string;
  console: number | string;
  sandboxes: number | string;
  match: boolean;
}

interface Rate {
  numerator: number;
  denominator: number;
}
interface DayKpis {
  all: {
    onTime: Rate;
    firstAttempt: Rate;
    invoiceCycleMinutes: { count: number };
    exceptions: { kind: string; opened: number }[];
  };
}

const get = async <T>(url: string, token?: string, params?: Record<string, string>) =>
  (
    await axios.get<T>(url, {
      params,
      timeout: 30_000,
      ...(token ? { headers: { authorization: `Bearer ${token}` } } : {}),
    })
  ).data;

/**
 * Recounts the console's KPI tiles from the sandboxes: shipments released by the ERP, deliveries and first
 * attempts from dispatch's tasks, billing documents from the ERP, cases by kind and open cases from the CRM.
 * The console's figures are summed over every delivery day its shipments fall on (reattempts move a
 * shipment's window to a later day). Waits first until the console has seen every shipment close.
 */
export async function recountConsole(input: {
  gatewayUrl: string;
  token: string;
  erpUrl: string;
  dispatchUrl: string;
  crmUrl: string;
  orders: Order[];
  waitMs?: number;
}): Promise<RecountRow[]> {
  const ids = new Set(input.orders.map((o) => shipmentWorkflowId(o.deliveryId)));
  type Row = { shipmentId: string; day: string; workflowStatus: string };
  let rows: Row[] = [];
  const deadline = Date.now() + (input.waitMs ?? 60_000);
  for (;;) {
    const r = await get<{ shipments: Row[] }>(`${input.gatewayUrl}/v1/ops/shipments`, input.token, {
      limit: '1000',
    });
    rows = r.shipments.filter((s) => ids.has(s.shipmentId));
    if (
      (rows.length === ids.size && rows.every((s) => s.workflowStatus !== 'RUNNING')) ||
      Date.now() > deadline
    )
      break;
    await sleep(1000);
  }
  const days = [...new Set(rows.map((s) => s.day))].sort();
  const sums = { onTime: [0, 0], firstAttempt: [0, 0], billed: 0, total: 0 };
  const opened: Record<string, number> = {};
  let openNow = 0;
  for (const day of days) {
    const t = await get<{ total: number; openExceptions: number; kpis: DayKpis }>(
      `${input.gatewayUrl}/v1/ops/today`,
      input.token,
      { day, trendDays: '1' },
    );
    const k = t.kpis.all;
    sums.total += t.total;
    sums.onTime[0]! += k.onTime.numerator;
    sums.onTime[1]! += k.onTime.denominator;
    sums.firstAttempt[0]! += k.firstAttempt.numerator;
    sums.firstAttempt[1]! += k.firstAttempt.denominator;
    sums.billed += k.invoiceCycleMinutes.count;
    for (const e of k.exceptions) opened[e.kind] = (opened[e.kind] ?? 0) + e.opened;
    openNow = t.openExceptions;
  }

  const effects = (
    await get<{ effects: { kind: string; key: string }[] }>(`${input.dispatchUrl}/__sandbox/effects`)
  ).effects;
  const billing = (
    await get<{ billingRequests: { deliveryId: string }[] }>(`${input.erpUrl}/__sandbox/billing`)
  ).billingRequests;
  let delivered = 0;
  let firstAttempt = 0;
  let billedDelivered = 0;
  let openCases = 0;
  let arrivals = 0;
  let onTime = 0;
  const casesByKind: Record<string, number> = {};
  for (const order of input.orders) {
    const id = shipmentWorkflowId(order.deliveryId);
    const { tasks } = await get<{
      tasks: {
        completeAfter?: number | null;
        completeBefore?: number | null;
        completionDetails?: { success?: boolean; events?: { name: string; time: number }[] } | null;
      }[];
    }>(`${input.dispatchUrl}/__sandbox/tasks`, undefined, { shipmentId: id });
    const created = effects.filter(
      (e) => e.kind === 'task.created' && e.key.startsWith(`${id}:task:`),
    ).length;
    // On time: the driver's arrival (dispatch's own record) inside the task's window, both ends included.
    for (const t of tasks) {
      const arrival = t.completionDetails?.events?.find((e) => e.name === 'arrival')?.time;
      if (
        arrival === undefined ||
        typeof t.completeAfter !== 'number' ||
        typeof t.completeBefore !== 'number'
      )
        continue;
      arrivals++;
      if (arrival >= t.completeAfter && arrival <= t.completeBefore) onTime++;
    }
    if (tasks.at(-1)?.completionDetails?.success === true) {
      delivered++;
      if (created === 1) firstAttempt++;
      if (billing.some((b) => b.deliveryId === order.deliveryId)) billedDelivered++;
    }
    const { cases } = await get<{ cases: { kind: string | null; status: string }[] }>(
      `${input.crmUrl}/__sandbox/cases`,
      undefined,
      { external_id: id },
    );
    for (const c of cases) {
      const kind = c.kind ?? 'none';
      casesByKind[kind] = (casesByKind[kind] ?? 0) + 1;
      if (c.status !== 'solved' && c.status !== 'closed') openCases++;
    }
  }
  const row = (tile: string, ours: number | string, theirs: number | string): RecountRow => ({
    tile,
    console: ours,
    sandboxes: theirs,
    match: ours === theirs,
  });
  const kinds = [...new Set([...Object.keys(opened), ...Object.keys(casesByKind)])].sort();
  return [
    // The console's figures are final once it saw every run end; a wait that ran out shows here.
    row(
      'shipments whose run ended (Temporal)',
      rows.filter((r) => r.workflowStatus !== 'RUNNING').length,
      input.orders.length,
    ),
    row('shipments (ERP deliveries released)', sums.total, input.orders.length),
    row('delivered (dispatch: last task succeeded)', sums.firstAttempt[1]!, delivered),
    row('delivered on the first attempt (dispatch: one task)', sums.firstAttempt[0]!, firstAttempt),
    row(
      'first-attempt rate',
      sums.firstAttempt[1] ? `${((100 * sums.firstAttempt[0]!) / sums.firstAttempt[1]).toFixed(1)} %` : '-',
      delivered ? `${((100 * firstAttempt) / delivered).toFixed(1)} %` : '-',
    ),
    row('delivered and billed (ERP billing documents)', sums.billed, billedDelivered),
    row('open exceptions (CRM cases not solved)', openNow, openCases),
    ...kinds.map((k) => row(`exceptions opened: ${k} (CRM cases)`, opened[k] ?? 0, casesByKind[k] ?? 0)),
    row(
      'on-time rate (dispatch: arrival inside the task window)',
      sums.onTime[1]
        ? `${((100 * sums.onTime[0]!) / sums.onTime[1]).toFixed(1)} % of ${sums.onTime[1]}`
        : '-',
      arrivals ? `${((100 * onTime) / arrivals).toFixed(1)} % of ${arrivals}` : '-',
    ),
  ];
}

/** The recount as aligned lines. */
export function recountLines(rows: RecountRow[]): string[] {
  const w = Math.max(...rows.map((r) => r.tile.length));
  return [
    `${'console tile'.padEnd(w)}  console   sandboxes`,
    ...rows.map(
      (r) =>
        `${r.tile.padEnd(w)}  ${String(r.console).padEnd(8)}  ${String(r.sandboxes).padEnd(10)}${r.match ? '' : '  MISMATCH'}`,
    ),
  ];
}
