import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  DEFAULT_POSTGRES_TARGET,
  MAX_MEMBERSHIP_PORT,
  cliTlsArgs,
  conventionalPorts,
  freeServerPorts,
  renderServerConfig,
  type ServerConfigInput,
} from '../../../tools/temporal/postgres.js';

function options(overrides: Partial<ServerConfigInput> = {}): ServerConfigInput {
  return {
    ports: conventionalPorts(7233),
    db: { ...DEFAULT_POSTGRES_TARGET, dbName: 'temporal_x', visibilityDbName: 'temporal_x_vis' },
    ...overrides,
  };
}

function nonCommentLines(yaml: string): string[] {
  return yaml.split('\n').filter((line) => !line.trimStart().startsWith('#'));
}

describe('server config template', () => {
  it('when the checked-in template is rendered then no placeholder is left and the ports and databases are in it', () => {
    const yaml = renderServerConfig(options());
    expect(nonCommentLines(yaml).join('\n')).not.toContain('${');
    expect(yaml).toContain('grpcPort: 7233');
    expect(yaml).toContain('membershipPort: 6933');
    expect(yaml).toContain('httpPort: 7243');
    expect(yaml).toContain('listenAddress: "127.0.0.1:8000"');
    expect(yaml).toContain('databaseName: "temporal_x"');
    expect(yaml).toContain('databaseName: "temporal_x_vis"');
    expect(yaml).toMatch(/filepath: ".*deploy\/temporal\/dynamicconfig\.yaml"/);
  });

  it('when the password has quotes and a colon then it is rendered as one quoted YAML scalar', () => {
    const yaml = renderServerConfig(options({ db: { ...options().db, password: 'p"w: #1' } }));
    expect(yaml).toContain('password: "p\\"w: #1"');
  });

  it('when TLS is asked for then the frontend and internode sections require client certificates from the CA and the CLI gets its TLS flags', () => {
    const tls = {
      caFile: '/pki/ca.pem',
      certFile: '/pki/server.pem',
      keyFile: '/pki/server-key.pem',
      clientCertFile: '/pki/client.pem',
      clientKeyFile: '/pki/client-key.pem',
    };
    const config = parse(renderServerConfig(options({ tls }))) as {
      global: { tls: Record<string, unknown>; membership: unknown };
    };
    const group = {
      server: {
        certFile: '/pki/server.pem',
        keyFile: '/pki/server-key.pem',
        requireClientAuth: true,
        clientCaFiles: ['/pki/ca.pem'],
      },
      client: { serverName: 'localhost', rootCaFiles: ['/pki/ca.pem'] },
    };
    expect(config.global.tls).toEqual({ internode: group, frontend: group });
    expect(config.global.membership).toBeDefined();
    expect(cliTlsArgs(tls)).toEqual([
      '--tls-ca-path',
      '/pki/ca.pem',
      '--tls-cert-path',
      '/pki/client.pem',
      '--tls-key-path',
      '/pki/client-key.pem',
      '--tls-server-name',
      'localhost',
    ]);
    expect(
      (parse(renderServerConfig(options())) as { global: { tls?: unknown } }).global.tls,
    ).toBeUndefined();
  });

  it('when the template names a value that does not exist then rendering fails instead of leaving it empty', () => {
    expect(() => renderServerConfig(options(), 'log:\n  level: ${NO_SUCH_VALUE}\n')).toThrow(/NO_SUCH_VALUE/);
  });
});

describe('server ports', () => {
  it('when the frontend port is the default then the services get the upstream development ports', () => {
    expect(conventionalPorts(7233)).toEqual({
      frontend: 7233,
      frontendHttp: 7243,
      frontendMembership: 6933,
      history: 7234,
      historyMembership: 6934,
      matching: 7235,
      matchingMembership: 6935,
      worker: 7239,
      workerMembership: 6939,
      metrics: 8000,
    });
  });

  it('when the frontend port would push membership ports past the SMALLINT column then it is refused', () => {
    expect(() => conventionalPorts(40_000)).toThrow(/membership ports/);
  });

  it('when free ports are picked then they are distinct and membership ports fit the SQL schema', async () => {
    const ports = await freeServerPorts();
    const all = Object.values(ports);
    expect(new Set(all).size).toBe(all.length);
    for (const p of [
      ports.frontendMembership,
      ports.historyMembership,
      ports.matchingMembership,
      ports.workerMembership,
    ])
      expect(p).toBeLessThanOrEqual(MAX_MEMBERSHIP_PORT);
  });
});
