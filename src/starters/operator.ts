import { type Command, InvalidArgumentError, Option } from 'commander';
import type { OperatorActionResult, ParkedOutcome, ParkedView } from '../workflows/shipment/contract.js';
import { gatewayApi, withGatewayOptions, type GatewayApiDeps } from './gateway-api.js';

const shipmentPath = (shipment: string, action: string) =>
  `/v1/shipments/${encodeURIComponent(shipment)}/${action}`;

const done = (r: OperatorActionResult) => `${r.shipmentId} ${r.phase}${r.outcome ? ` (${r.outcome})` : ''}`;

/**
 * Adds `pod`, `cancel`, `return` and `dispatch-complete` to a commander program: operator actions on one shipment through the
 * gateway's API as the token's principal, each written to the audit trail by the gateway.
 */
export function registerOperatorCommands(program: Command, deps: GatewayApiDeps = {}) {
  const dispatcher = gatewayApi(deps, 'dispatcher');

  withGatewayOptions(
    program
      .command('pod <shipment>')
      .description(
        'record a proof of delivery by hand (finance or dispatcher); unparks a missing-POD shipment',
      )
      .requiredOption(
        '--evidence <text>',
        'what shows the goods were delivered; kept on the shipment and case',
      )
      .option('--delivered-at <instant>', 'when delivered (ISO 8601); now when absent')
      .option('--json', 'print machine-readable JSON'),
    'dispatcher',
  ).action(async (shipment: string, opts: { evidence: string; deliveredAt?: string }, cmd: Command) => {
    const body = { evidence: opts.evidence, ...(opts.deliveredAt ? { deliveredAt: opts.deliveredAt } : {}) };
    const { data, json } = await dispatcher.call<OperatorActionResult>(
      cmd,
      'POST',
      shipmentPath(shipment, 'pod'),
      {},
      body,
    );
    dispatcher.print(json, data, done(data));
  });

  for (const [name, route, what] of [
    [
      'cancel',
      'cancel',
      'cancel before an outcome: dispatch task cancelled, cancelled milestone, cases closed, no billing',
    ],
    ['return', 'return', 'send the goods back to the depot now; the shipment bills what was done'],
  ] as const) {
    withGatewayOptions(
      program
        .command(`${name} <shipment>`)
        .description(`${what} (dispatcher or admin)`)
        .requiredOption('--reason <text>', 'why; kept on the shipment, its cases and in the audit trail')
        .option('--json', 'print machine-readable JSON'),
      'dispatcher',
    ).action(async (shipment: string, opts: { reason: string }, cmd: Command) => {
      const { data, json } = await dispatcher.call<OperatorActionResult>(
        cmd,
        'POST',
        shipmentPath(shipment, route),
        {},
        { reason: opts.reason },
      );
      dispatcher.print(json, data, done(data));
    });
  }

  withGatewayOptions(
    program
      .command('dispatch-complete <shipment>')
      .description(
        "complete the shipment's dispatch task by hand, as Onfleet's force completion (dispatcher or admin); the shipment follows dispatch's webhook",
      )
      .addOption(new Option('--delivered', 'completed as delivered').conflicts('failed'))
      .addOption(new Option('--failed', 'failed (dispatch reports MANAGER_OVERRIDE)'))
      .requiredOption(
        '--notes <text>',
        'why it was completed by hand; kept on the task and in the audit trail',
      )
      .option('--json', 'print machine-readable JSON'),
    'dispatcher',
  ).action(
    async (
      shipment: string,
      opts: { delivered?: boolean; failed?: boolean; notes: string },
      cmd: Command,
    ) => {
      if (!opts.delivered && !opts.failed)
        throw dispatcher.usage('name the outcome: --delivered or --failed');
      const { data, json } = await dispatcher.call<ForceCompleteResult>(
        cmd,
        'POST',
        shipmentPath(shipment, 'dispatch/complete'),
        {},
        { success: opts.delivered === true, notes: opts.notes },
      );
      dispatcher.print(
        json,
        data,
        `${data.shipmentId} task ${data.taskId} completed as ${data.success ? 'delivered' : 'failed'} (was ${data.phase}); the shipment follows dispatch's webhook`,
      );
    },
  );

  registerBulkCommand(program, deps);
}

/** The force-complete route's answer. */
interface ForceCompleteResult {
  shipmentId: string;
  taskId: string;
  success: boolean;
  phase: string;
}

/** The filters `--query` takes: the list route's (status, region, exception), as `key=value` words. */
const QUERY_KEYS = ['status', 'region', 'exception'] as const;

/** `status=awaiting_approval region=NE` into the list route's query parameters. */
export function parseBulkQuery(query: string): Record<string, string> {
  const filters: Record<string, string> = {};
  for (const word of query.trim().split(/\s+/).filter(Boolean)) {
    const eq = word.indexOf('=');
    const key = eq > 0 ? word.slice(0, eq) : '';
    if (!(QUERY_KEYS as readonly string[]).includes(key) || eq === word.length - 1)
      throw new InvalidArgumentError(`expected key=value words with key one of ${QUERY_KEYS.join(', ')}`);
    filters[key] = word.slice(eq + 1);
  }
  if (Object.keys(filters).length === 0)
    throw new InvalidArgumentError('name at least one filter, e.g. "status=awaiting_approval"');
  return filters;
}

function positiveInt(max: number) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new InvalidArgumentError(`expected a whole number from 1 to ${max}`);
    return n;
  };
}

/** Runs `fn` over `items` with at most `limit` at a time, in order of start. */
async function fanOut<T>(items: T[], limit: number, fn: (item: T, index: number) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

type BulkAction = 'approve' | 'retry-parked' | 'cancel';

/** One shipment's result in a bulk run. */
interface BulkResult {
  shipmentId: string;
  ok: boolean;
  detail: string;
}

/**
 * `bulk approve|retry-parked|cancel --query "..."`: the shipments the list route finds for the query, each
 * acted on through the same audited route as one at a time, at most `--concurrency` at once, with a progress
 * line each and a summary. `--dry-run` lists what it would act on.
 */
function registerBulkCommand(program: Command, deps: GatewayApiDeps) {
  const roleOf: Record<BulkAction, 'finance' | 'dispatcher'> = {
    approve: 'finance',
    'retry-parked': 'dispatcher',
    cancel: 'dispatcher',
  };
  withGatewayOptions(
    program
      .command('bulk <action>')
      .description(
        'act on every shipment a query finds: approve (finance), retry-parked or cancel (dispatcher), bounded fan-out',
      )
      .requiredOption(
        '--query <filters>',
        `filters as key=value words: ${QUERY_KEYS.join(', ')}`,
        parseBulkQuery,
      )
      .option('--reason <text>', 'why (cancel needs one)')
      .option('--limit <n>', 'at most this many shipments (1-200)', positiveInt(200), 50)
      .option('--concurrency <n>', 'at most this many at once (1-16)', positiveInt(16), 4)
      .option('--dry-run', 'list the shipments it would act on, act on none')
      .option('--json', 'print machine-readable JSON'),
    'dispatcher',
  ).action(
    async (
      action: string,
      opts: {
        query: Record<string, string>;
        reason?: string;
        limit: number;
        concurrency: number;
        dryRun?: boolean;
      },
      cmd: Command,
    ) => {
      if (!['approve', 'retry-parked', 'cancel'].includes(action))
        throw new InvalidArgumentError(`action must be approve, retry-parked or cancel, got "${action}"`);
      const act = action as BulkAction;
      const api = gatewayApi(deps, roleOf[act]);
      if (act === 'cancel' && !opts.reason) throw api.usage('bulk cancel needs --reason');
      const { data, json } = await api.call<{ shipments: { shipmentId: string }[] }>(
        cmd,
        'GET',
        '/v1/shipments',
        { ...opts.query, limit: opts.limit },
      );
      const ids = data.shipments.map((s) => s.shipmentId);
      const out = deps.out ?? ((text: string) => console.log(text));
      if (opts.dryRun) {
        const summary = { action: act, query: opts.query, dryRun: true, matched: ids.length, shipments: ids };
        api.print(
          json,
          summary,
          [...ids, `${ids.length} shipment(s) would be acted on (${act}, dry run)`].join('\n'),
        );
        return;
      }
      const results: BulkResult[] = [];
      const one = async (id: string): Promise<string> => {
        if (act === 'approve') {
          const r = await api.call<{ total: number; status?: string }>(
            cmd,
            'POST',
            shipmentPath(id, 'charges/approval'),
            {},
            { approve: true },
          );
          return `${r.data.status ?? 'approved'}, total ${r.data.total}`;
        }
        if (act === 'cancel') {
          const r = await api.call<OperatorActionResult>(
            cmd,
            'POST',
            shipmentPath(id, 'cancel'),
            {},
            { reason: opts.reason },
          );
          return done(r.data);
        }
        const status = await api.call<{ parked?: ParkedView[] }>(
          cmd,
          'GET',
          `/v1/shipments/${encodeURIComponent(id)}`,
        );
        const parked = status.data.parked ?? [];
        for (const p of parked) {
          await api.call<ParkedOutcome>(
            cmd,
            'POST',
            shipmentPath(id, 'parked/retry'),
            {},
            { parkedId: p.id },
          );
        }
        return `${parked.length} parked item(s) sent again`;
      };
      await fanOut(ids, opts.concurrency, async (id) => {
        let result: BulkResult;
        try {
          result = { shipmentId: id, ok: true, detail: await one(id) };
        } catch (err) {
          result = { shipmentId: id, ok: false, detail: err instanceof Error ? err.message : String(err) };
        }
        results.push(result);
        if (!json)
          out(`[${results.length}/${ids.length}] ${id} ${result.ok ? 'ok' : 'failed'}: ${result.detail}`);
      });
      const ok = results.filter((r) => r.ok).length;
      const summary = {
        action: act,
        query: opts.query,
        matched: ids.length,
        ok,
        failed: ids.length - ok,
        results,
      };
      api.print(json, summary, `${act}: ${ids.length} matched, ${ok} ok, ${ids.length - ok} failed`);
      if (ok < ids.length) process.exitCode = 1;
    },
  );
}
