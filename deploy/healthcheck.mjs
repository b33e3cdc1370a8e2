#!/usr/bin/env node
// The image's HEALTHCHECK: `node deploy/healthcheck.mjs [role]` exits 0 when the role this container runs
// answers, 1 otherwise. Without a role it reads the container's command line (/proc/1/cmdline) to find it:
//   gateway   GET /healthz on SHIPSYNC_GATEWAY_PORT (8080), over HTTPS when SHIPSYNC_GATEWAY_TLS_CERT is set
//   codec-server  GET /healthz on SHIPSYNC_CODEC_PORT (8888)
//   worker    GET /metrics on SHIPSYNC_WORKER_METRICS_PORT when set, else a TCP connect to Temporal
//   sandbox   an HTTP answer from each sandbox's port (--port, else 4001/4002/4003)
//   other     (the shipsync CLI, one-shot commands) healthy
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import process from 'node:process';
import { pathToFileURL } from 'node:url';

const TIMEOUT_MS = 3000;
const SANDBOX_PORTS = { erp: 4001, dispatch: 4002, crm: 4003 };

/** The container's command line: PID 1, or the process after an init such as docker-init. */
function commandLine() {
  try {
    return readFileSync('/proc/1/cmdline', 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** The role named on the command line, and its --port when given. */
export function roleOf(argv) {
  const line = argv.join(' ');
  const portAt = argv.indexOf('--port');
  const portArg = portAt >= 0 ? argv[portAt + 1] : argv.find((a) => a.startsWith('--port='))?.slice(7);
  const port = portArg ? Number(portArg) : undefined;
  if (/gateway\/main\.js/.test(line)) return { role: 'gateway' };
  if (/gateway\/codec-main\.js/.test(line)) return { role: 'codec-server' };
  if (/workers\/main\.js/.test(line)) return { role: 'worker' };
  const one = /sandbox\/(erp|dispatch|crm)\/main\.js/.exec(line);
  if (one) return { role: `sandbox-${one[1]}`, port };
  if (/sandbox\/main\.js/.test(line)) return { role: 'sandbox' };
  return { role: 'other' };
}

/** Resolves with the HTTP status of GET url (any answer counts as up; the caller judges the status). */
function httpStatus(url) {
  return new Promise((resolve, reject) => {
    // Over HTTPS on loopback the certificate names the public host, not 127.0.0.1: liveness only, no check.
    const send = url.startsWith('https:') ? httpsRequest : request;
    const tls = url.startsWith('https:') ? { rejectUnauthorized: false } : {};
    const req = send(url, { timeout: TIMEOUT_MS, ...tls }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} in ${TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Resolves when a TCP connection to host:port opens. */
function tcpOpen(address) {
  const at = address.lastIndexOf(':');
  const host = address.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(at + 1));
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: TIMEOUT_MS }, () => {
      socket.end();
      resolve();
    });
    socket.on('timeout', () => socket.destroy(new Error(`no connection to ${address} in ${TIMEOUT_MS} ms`)));
    socket.on('error', reject);
  });
}

async function expectOk(url) {
  const status = await httpStatus(url);
  if (status !== 200) throw new Error(`${url} answered ${status}`);
}

async function expectAnswer(port) {
  const status = await httpStatus(`http://127.0.0.1:${port}/`);
  if (status >= 500) throw new Error(`port ${port} answered ${status}`);
}

async function check({ role, port }, env) {
  switch (role) {
    case 'gateway':
      return expectOk(
        `${env.SHIPSYNC_GATEWAY_TLS_CERT ? 'https' : 'http'}://127.0.0.1:${env.SHIPSYNC_GATEWAY_PORT || 8080}/healthz`,
      );
    case 'codec-server':
      return expectOk(`http://127.0.0.1:${env.SHIPSYNC_CODEC_PORT || 8888}/healthz`);
    case 'worker':
      return env.SHIPSYNC_WORKER_METRICS_PORT
        ? expectOk(`http://127.0.0.1:${env.SHIPSYNC_WORKER_METRICS_PORT}/metrics`)
        : tcpOpen(env.SHIPSYNC_TEMPORAL_ADDRESS || '127.0.0.1:7233');
    case 'sandbox-erp':
    case 'sandbox-dispatch':
    case 'sandbox-crm':
      return expectAnswer(port ?? SANDBOX_PORTS[role.slice('sandbox-'.length)]);
    case 'sandbox':
      await Promise.all(Object.values(SANDBOX_PORTS).map(expectAnswer));
      return;
    default:
      return;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const named = process.argv[2];
  const target = named ? { role: named } : roleOf(commandLine());
  try {
    await check(target, process.env);
    process.exit(0);
  } catch (err) {
    process.stderr.write(`unhealthy ${target.role}: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
