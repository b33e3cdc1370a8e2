import { randomUUID } from 'node:crypto';
import axios, { type AxiosInstance } from 'axios';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { Config } from '../platform/config.js';

/** What the dlq commands need from the CLI around them. */
export interface DlqDeps {
  /** Environment to read SHIPSYNC_GATEWAY_URL and SHIPSYNC_ADMIN_TOKEN from (default process.env). */
  env?: Record<string, string | undefined>;
  /** Parsed configuration, for the gateway port and an admin token from SHIPSYNC_API_TOKENS. */
  config?: () => Config;
  /** Where output lines go (default console.log). */
  out?: (text: string) => void;
  /** Builds the error the CLI reports as bad input (one line, exit code 2). */
  usageError?: (message: string) => Error;
  /** HTTP client (tests may pass their own). */
  http?: AxiosInstance;
}

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
 * gateway's admin API (`--url`, `--token`, or SHIPSYNC_GATEWAY_URL / SHIPSYNC_ADMIN_TOKEN; the token
 * defaults to the first admin token in SHIPSYNC_API_TOKENS). A 4xx from the gateway is bad input.
 */
export function registerDlqCommands(program: Command, deps: DlqDeps = {}): Command {
  const env = deps.env ?? process.env;
  const out = deps.out ?? ((text: string) => console.log(text));
  const usage = deps.usageError ?? ((message: string) => new Error(message));
  const http = deps.http ?? axios.create({ timeout: 15_000, validateStatus: () => true });

  const dlq = program
    .command('dlq')
    .description('inspect, replay and discard dead letters held by the gateway')
    .addOption(new Option('--url <url>', 'gateway base URL').env('SHIPSYNC_GATEWAY_URL'))
    .addOption(new Option('--token <token>', 'admin bearer token').env('SHIPSYNC_ADMIN_TOKEN'));

  function target(cmd: Command) {
    const opts = cmd.optsWithGlobals<{ url?: string; token?: string; json?: boolean }>();
    const config = deps.config?.();
    const url = (
      opts.url ??
      env.SHIPSYNC_GATEWAY_URL ??
      `http://127.0.0.1:${config?.SHIPSYNC_GATEWAY_PORT ?? 8080}`
    ).replace(/\/+$/, '');
    if (!/^https?:\/\/[^\s]+$/.test(url)) throw usage(`--url must be an http(s) URL, got "${url}"`);
    const fromConfig = config
      ? Object.entries(config.SHIPSYNC_API_TOKENS).find(([, role]) => role === 'admin')?.[0]
      : undefined;
    const token = opts.token ?? env.SHIPSYNC_ADMIN_TOKEN ?? fromConfig;
    if (!token) throw usage('no admin token: pass --token or set SHIPSYNC_ADMIN_TOKEN');
    return { url, token, json: opts.json === true };
  }

  async function call<T>(
    cmd: Command,
    method: 'GET' | 'POST',
    path: string,
    params?: Record<string, unknown>,
  ): Promise<{ data: T; json: boolean }> {
    const t = target(cmd);
    let res;
    try {
      res = await http.request({
        method,
        url: `${t.url}${path}`,
        params,
        // An empty JSON object: axios would otherwise label a bodiless POST as a form.
        ...(method === 'POST' ? { data: {} } : {}),
        headers: {
          authorization: `Bearer ${t.token}`,
          ...(method === 'POST' ? { 'idempotency-key': randomUUID() } : {}),
        },
        validateStatus: () => true,
      });
    } catch (err) {
      throw new Error(
        `cannot reach the gateway at ${t.url}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const body = res.data as { code?: string; message?: string } | undefined;
    if (res.status >= 400 && res.status < 500)
      throw usage(`${body?.code ?? res.status}: ${body?.message ?? 'refused'}`);
    if (res.status >= 500)
      throw new Error(`gateway error ${res.status}: ${body?.code ?? ''} ${body?.message ?? ''}`.trim());
    return { data: res.data as T, json: t.json };
  }

  const print = (json: boolean, data: unknown, human: string) =>
    out(json ? JSON.stringify(data, null, 2) : human);

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
