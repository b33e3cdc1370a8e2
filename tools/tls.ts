import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** PEM files of a development certificate authority, a server certificate and a client certificate. */
export interface DevCertificates {
  dir: string;
  /** The CA certificate: trust it on clients, and accept client certificates it signed on servers. */
  ca: string;
  caKey: string;
  /** Server certificate (SAN: the names and addresses given) and its key; also good for client auth. */
  serverCert: string;
  serverKey: string;
  /** A client certificate (CN `clientName`) and its key. */
  clientCert: string;
  clientKey: string;
}

/** File names inside the directory, so a directory made once can be used again. */
export const DEV_CERT_FILES = {
  ca: 'ca.pem',
  caKey: 'ca-key.pem',
  serverCert: 'server.pem',
  serverKey: 'server-key.pem',
  clientCert: 'client.pem',
  clientKey: 'client-key.pem',
} as const;

/** The certificates of a directory made by makeDevCertificates (the files may not exist). */
export function devCertificatesIn(dir: string): DevCertificates {
  const f = DEV_CERT_FILES;
  return {
    dir,
    ca: join(dir, f.ca),
    caKey: join(dir, f.caKey),
    serverCert: join(dir, f.serverCert),
    serverKey: join(dir, f.serverKey),
    clientCert: join(dir, f.clientCert),
    clientKey: join(dir, f.clientKey),
  };
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message?: string };
    if (e.code === 'ENOENT') throw new Error('the openssl command is needed to make certificates');
    throw new Error(`openssl ${args[0]} failed: ${(e.stderr ?? e.message ?? String(err)).trim()}`);
  }
}

/** Signs a new P-256 key's certificate with the CA; `ext` is the openssl extension file's text. */
async function issue(dir: string, name: string, subject: string, ext: string, days: number) {
  const f = DEV_CERT_FILES;
  writeFileSync(join(dir, `${name}.ext`), ext);
  await openssl(dir, [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    `${name}-key.pem`,
    '-out',
    `${name}.csr`,
    '-subj',
    subject,
  ]);
  await openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    f.ca,
    '-CAkey',
    f.caKey,
    '-set_serial',
    `0x${Date.now().toString(16)}${name === 'server' ? '01' : '02'}`,
    '-days',
    String(days),
    '-sha256',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.pem`,
  ]);
  rmSync(join(dir, `${name}.csr`));
  rmSync(join(dir, `${name}.ext`));
}

/**
 * Makes a throwaway CA, a server certificate for `hosts` (DNS names and IP addresses; localhost and
 * 127.0.0.1 by default) usable for server and client auth, and a client certificate, with the `openssl`
 * command, into `dir` (created if missing; keys mode 0600). For development and tests only: the CA's key
 * sits next to the certificates. Files already there are kept unless `force`.
 */
export async function makeDevCertificates(
  dir: string,
  opts: { hosts?: string[]; clientName?: string; days?: number; force?: boolean } = {},
): Promise<DevCertificates> {
  const certs = devCertificatesIn(dir);
  const all = [certs.ca, certs.caKey, certs.serverCert, certs.serverKey, certs.clientCert, certs.clientKey];
  if (!opts.force && all.every((p) => existsSync(p))) return certs;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const days = opts.days ?? 30;
  const hosts = opts.hosts ?? ['localhost', '127.0.0.1'];
  const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
  await openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    DEV_CERT_FILES.caKey,
    '-out',
    DEV_CERT_FILES.ca,
    '-days',
    String(days),
    '-sha256',
    '-subj',
    '/CN=shipsync development CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await issue(
    dir,
    'server',
    `/CN=${hosts[0] ?? 'localhost'}`,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=${san}`,
    ].join('\n'),
    days,
  );
  await issue(
    dir,
    'client',
    `/CN=${opts.clientName ?? 'shipsync-client'}`,
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=clientAuth',
    ].join('\n'),
    days,
  );
  return certs;
}
