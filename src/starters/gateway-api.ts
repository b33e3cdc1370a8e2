import { randomUUID } from 'node:crypto';
import axios, { type AxiosInstance } from 'axios';
import { type Command, Option } from 'commander';
import { clientToken, ConfigError, type Config, type Role } from '../platform/config.js';

/** What the CLI's gateway API commands (dlq, audit) need from the CLI around them. */
export interface GatewayApiDeps {
  /** Parsed configuration: SHIPSYNC_GATEWAY_URL (else the local gateway port) and SHIPSYNC_API_TOKEN. */
  config?: () => Config;
  /** Where output lines go (default console.log). */
  out?: (text: string) => void;
  /** Builds the error the CLI reports as bad input (one line, exit code 2). */
  usageError?: (message: string) => Error;
  /** HTTP client (tests may pass their own). */
  http?: AxiosInstance;
}

/** Adds `--url` and `--token` to a command that talks to the gateway's API. */
export function withGatewayOptions(cmd: Command, role: Role): Command {
  return cmd
    .addOption(
      new Option('--url <url>', 'gateway base URL (default SHIPSYNC_GATEWAY_URL, else the local port)'),
    )
    .addOption(
      new Option(
        '--token <token>',
        `bearer token of a principal with the ${role} role (default SHIPSYNC_API_TOKEN; the sandbox profile's development token)`,
      ),
    );
}

/**
 * A small client of the gateway's API for CLI commands: resolves the URL and the principal's token, sends an
 * Idempotency-Key with every POST, and turns a 4xx into a one-line bad-input error.
 */
export function gatewayApi(deps: GatewayApiDeps, role: Role) {
  const out = deps.out ?? ((text: string) => console.log(text));
  const usage = deps.usageError ?? ((message: string) => new Error(message));
  const http = deps.http ?? axios.create({ timeout: 15_000, validateStatus: () => true });

  function target(cmd: Command) {
    const opts = cmd.optsWithGlobals<{ url?: string; token?: string; json?: boolean }>();
    const config = deps.config?.();
    const url = (
      opts.url ??
      config?.SHIPSYNC_GATEWAY_URL ??
      `http://127.0.0.1:${config?.SHIPSYNC_GATEWAY_PORT ?? 8080}`
    ).replace(/\/+$/, '');
    if (!/^https?:\/\/[^\s]+$/.test(url)) throw usage(`--url must be an http(s) URL, got "${url}"`);
    let token = opts.token;
    if (!token && config) {
      try {
        token = clientToken(config, role);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
      }
    }
    if (!token)
      throw usage(`no token: pass --token or set SHIPSYNC_API_TOKEN (a principal with the ${role} role)`);
    return { url, token, json: opts.json === true };
  }

  async function call<T>(
    cmd: Command,
    method: 'GET' | 'POST',
    path: string,
    params?: Record<string, unknown>,
    payload?: Record<string, unknown>,
  ): Promise<{ data: T; json: boolean }> {
    const t = target(cmd);
    let res;
    try {
      res = await http.request({
        method,
        url: `${t.url}${path}`,
        params,
        // At least an empty JSON object: axios would otherwise label a bodiless POST as a form.
        ...(method === 'POST' ? { data: payload ?? {} } : {}),
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

  return { call, print, usage };
}
