import type { Command } from 'commander';
import { gatewayApi, withGatewayOptions, type GatewayApiDeps } from './gateway-api.js';

/** What a rebuild of the operational data store reports. */
export interface OdsRebuildView {
  shipments: number;
  projected: number;
  events: number;
  /** Dispatch tasks and CRM case tickets read through the vendors' APIs. */
  tasks?: number;
  cases?: number;
}

/**
 * Adds `ods rebuild` to a commander program: the gateway empties its operational data store and fills it
 * again from Temporal visibility, each shipment's status query, the dispatch events its inbox still holds
 * and the vendors' records (dispatch tasks, CRM case tickets) read through their APIs (POST
 * /v1/ops/ods/rebuild with an admin's token; written to the audit trail).
 */
export function registerOdsCommands(program: Command, deps: GatewayApiDeps = {}): Command {
  const { call, print } = gatewayApi(deps, 'admin');
  const ods = program.command('ods').description("the ops console's operational data store (admin token)");
  withGatewayOptions(
    ods
      .command('rebuild')
      .description(
        "rebuild the read model from Temporal visibility, status queries, the inbox and the vendors' APIs (admin token)",
      )
      .option('--json', 'print machine-readable JSON'),
    'admin',
  ).action(async (_opts: unknown, cmd: Command) => {
    const res = await call<OdsRebuildView>(cmd, 'POST', '/v1/ops/ods/rebuild');
    const r = res.data;
    print(
      res.json,
      r,
      `rebuilt: ${r.shipments} shipments listed, ${r.projected} projected, ${r.events} dispatch events applied, ` +
        `${r.tasks ?? 0} dispatch tasks and ${r.cases ?? 0} CRM cases read`,
    );
  });
  return ods;
}
