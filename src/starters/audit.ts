import { type Command, InvalidArgumentError } from 'commander';
import { gatewayApi, withGatewayOptions, type GatewayApiDeps } from './gateway-api.js';

/** An audit row as the gateway's API returns it. */
export interface AuditEntryView {
  id: number;
  at: string;
  principalId: string;
  principalKind: string;
  role: string | null;
  action: string;
  method: string;
  route: string;
  shipmentId: string | null;
  target: string | null;
  idempotencyKey: string | null;
  statusCode: number;
  outcome: string;
  detail: Record<string, unknown> | null;
}

/** One line per audit row: id, time, principal (kind/role), action, subject, outcome. */
export function formatAuditEntry(e: AuditEntryView): string {
  const subject = e.shipmentId ?? (e.target ? `#${e.target}` : '-');
  const detail = e.detail ? `  ${JSON.stringify(e.detail)}` : '';
  return `#${e.id}  ${e.at}  ${e.principalId} (${e.principalKind}${e.role ? `/${e.role}` : ''})  ${e.action}  ${subject}  ${e.statusCode} ${e.outcome}${e.idempotencyKey ? `  key=${e.idempotencyKey}` : ''}${detail}`;
}

function instant(label: string) {
  return (value: string) => {
    if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value))
      throw new InvalidArgumentError(`${label} must be an ISO-8601 date or date-time with a zone`);
    const ms = Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
    if (Number.isNaN(ms)) throw new InvalidArgumentError(`${label} is not a valid date`);
    return new Date(ms).toISOString();
  };
}

function pageSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500)
    throw new InvalidArgumentError('must be an integer from 1 to 500');
  return n;
}

/**
 * Adds `audit` to a commander program: the gateway's audit trail, newest first, filtered by shipment,
 * principal and time (GET /v1/audit with an auditor's or admin's token). `--all` follows the pages.
 */
export function registerAuditCommand(program: Command, deps: GatewayApiDeps = {}): Command {
  const { call, print } = gatewayApi(deps, 'auditor');
  return withGatewayOptions(
    program
      .command('audit')
      .description('the audit trail: who changed what, when, with which outcome (auditor or admin token)')
      .option('--shipment <id>', 'only rows about this shipment (shipment-<id> or the delivery id)')
      .option('--principal <id>', 'only rows of this principal')
      .option('--since <iso>', 'rows at or after this instant', instant('--since'))
      .option('--until <iso>', 'rows before this instant', instant('--until'))
      .option('--limit <n>', 'rows per page (1-500)', pageSize, 100)
      .option('--all', 'follow the pages to the oldest row')
      .option('--json', 'print machine-readable JSON'),
    'auditor',
  ).action(
    async (
      opts: {
        shipment?: string;
        principal?: string;
        since?: string;
        until?: string;
        limit: number;
        all?: boolean;
      },
      cmd: Command,
    ) => {
      const entries: AuditEntryView[] = [];
      let cursor: string | undefined;
      let json = false;
      for (let page = 0; page < 1000; page++) {
        const res = await call<{ entries: AuditEntryView[]; nextCursor?: string }>(cmd, 'GET', '/v1/audit', {
          limit: opts.limit,
          ...(opts.shipment ? { shipment: opts.shipment } : {}),
          ...(opts.principal ? { principal: opts.principal } : {}),
          ...(opts.since ? { from: opts.since } : {}),
          ...(opts.until ? { to: opts.until } : {}),
          ...(cursor ? { cursor } : {}),
        });
        json = res.json;
        entries.push(...res.data.entries);
        cursor = res.data.nextCursor;
        if (!opts.all || !cursor) break;
      }
      print(
        json,
        { entries, ...(cursor && !opts.all ? { nextCursor: cursor } : {}) },
        entries.length > 0 ? entries.map(formatAuditEntry).join('\n') : 'no audit rows match',
      );
    },
  );
}
