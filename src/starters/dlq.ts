import { type Command, InvalidArgumentError, Option } from 'commander';
import { gatewayApi, withGatewayOptions, type GatewayApiDeps } from './gateway-api.js';

/** What the dlq commands need from the CLI around them. */
export type DlqDeps = GatewayApiDeps;

/** A dead letter as the gateway's API returns it. */
interface DeadLetterView {
  id: number;
  source: string;
  stage: string;
  eventId: string | null;
  eventType: string | null;
  shipmentId: string | null;
  code: string;
  reason: string;
  status: string;
  createdAt: string;
  replayedAt: string | null;
  discardedAt: string | null;
  payload?: string;
  headers?: Record<string, string>;
}

function positiveId(value: string): number {
  if (!/^[1-9]\d{0,15}$/.test(value))
    throw new InvalidArgumentError('a dead letter id is a positive integer');
  return Number(value);
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 500)
    throw new InvalidArgumentError('must be an integer from 1 to 500');
  return n;
}

/** One line per dead letter: id, time, source/stage, code, subject and reason. */
export function formatDeadLetter(d: DeadLetterView): string {
  const subject = d.eventId
    ? `${d.eventType ?? 'event'} ${d.eventId}${d.shipmentId ? ` (${d.shipmentId})` : ''}`
    : 'unreadable body';
  return `#${d.id}  ${d.createdAt}  ${d.source}/${d.stage}  ${d.status}  ${d.code}  ${subject}  ${d.reason.replace(/\s+/g, ' ').slice(0, 160)}`;
}

/**
 * Adds `dlq list|show <id>|replay <id>|discard <id>` to a commander program. The commands talk to the
 * gateway's admin API (`--url`, `--token`, or SHIPSYNC_GATEWAY_URL / SHIPSYNC_API_TOKEN; the sandbox profile
 * falls back to its development admin token). A 4xx from the gateway is bad input.
 */
export function registerDlqCommands(program: Command, deps: DlqDeps = {}): Command {
  const { call, print, usage } = gatewayApi(deps, 'admin');
  const dlq = withGatewayOptions(
    program.command('dlq').description('inspect, replay and discard dead letters held by the gateway'),
    'admin',
  );

  dlq
    .command('list')
    .description('dead letters, newest first')
    .addOption(
      new Option('--status <status>', 'open, replayed, discarded or all')
        .choices(['open', 'replayed', 'discarded', 'all'])
        .default('open'),
    )
    .addOption(new Option('--source <source>', 'only from one system').choices(['dispatch', 'crm', 'erp']))
    .option('--limit <n>', 'at most this many (1-500)', positiveInt, 50)
    .option('--json', 'print machine-readable JSON')
    .action(async (opts: { status: string; source?: string; limit: number }, cmd: Command) => {
      const { data, json } = await call<{ deadLetters: DeadLetterView[] }>(cmd, 'GET', '/v1/dead-letters', {
        limit: opts.limit,
        ...(opts.status !== 'all' ? { status: opts.status } : {}),
        ...(opts.source ? { source: opts.source } : {}),
      });
      const lines = data.deadLetters.map(formatDeadLetter);
      print(
        json,
        data,
        lines.length > 0
          ? lines.join('\n')
          : `no ${opts.status === 'all' ? '' : `${opts.status} `}dead letters`,
      );
    });

  dlq
    .command('show <id>')
    .description('one dead letter with its payload and headers')
    .option('--json', 'print machine-readable JSON')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const { data, json } = await call<DeadLetterView>(
        cmd,
        'GET',
        `/v1/dead-letters/${positiveIdOrUsage(id)}`,
      );
      const headers = Object.entries(data.headers ?? {}).map(([k, v]) => `  ${k}: ${v}`);
      print(
        json,
        data,
        [formatDeadLetter(data), 'headers:', ...headers, 'payload:', data.payload ?? ''].join('\n'),
      );
    });

  dlq
    .command('replay <id>')
    .description('put a dead letter back into the inbox under its event id (replaying twice has one effect)')
    .option('--json', 'print machine-readable JSON')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const n = positiveIdOrUsage(id);
      const { data, json } = await call<{ id: number; status: string; outcome: string; eventId?: string }>(
        cmd,
        'POST',
        `/v1/dead-letters/${n}/replay`,
      );
      print(
        json,
        data,
        `#${data.id} ${data.outcome.replace('_', ' ')}${data.eventId ? `: ${data.eventId}` : ''}`,
      );
    });

  dlq
    .command('discard <id>')
    .description('close a dead letter without replaying it (it stays on record)')
    .option('--json', 'print machine-readable JSON')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      const n = positiveIdOrUsage(id);
      const { data, json } = await call<DeadLetterView>(cmd, 'POST', `/v1/dead-letters/${n}/discard`);
      print(json, data, `#${data.id} discarded`);
    });

  function positiveIdOrUsage(id: string): number {
    try {
      return positiveId(id);
    } catch (err) {
      throw usage(`${(err as Error).message}, got "${id.slice(0, 40)}"`);
    }
  }

  return dlq;
}
