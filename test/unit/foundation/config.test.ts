import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  configSchema,
  ConfigError,
  loadConfig,
  SANDBOX_PRINCIPALS,
  secret,
  tokenHash,
} from '../../../src/platform/config.js';
import { compressedGraceMinutes } from '../../../tools/stack.js';

const sandbox = (env: Record<string, string> = {}) => loadConfig({ SHIPSYNC_ENV: 'sandbox', ...env });

function issuesOf(fn: () => unknown): { key: string; reason: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('when SHIPSYNC_ENV is unset then nothing starts: the profile has no default', () => {
    expect(issuesOf(() => loadConfig({}))).toEqual([
      { key: 'SHIPSYNC_ENV', reason: expect.stringMatching(/required, no default/) },
    ]);
    expect(issuesOf(() => loadConfig({ SHIPSYNC_ENV: 'staging' }))[0]?.reason).toMatch(
      /sandbox or production/,
    );
  });

  it('when the sandbox profile is chosen then every key has its documented default and the dev principals exist', () => {
    const config = sandbox();
    expect(config.SHIPSYNC_TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(config.SHIPSYNC_TIME_SCALE).toBe(1);
    expect(config.SHIPSYNC_GATEWAY_HOST).toBe('127.0.0.1');
    expect(secret(config, 'SHIPSYNC_DISPATCH_WEBHOOK_SECRET')).toBe('sandbox-dispatch-webhook-secret');
    const finance = config.SHIPSYNC_PRINCIPALS?.find((p) => p.id === 'dev-finance');
    expect(finance).toMatchObject({ roles: ['finance'], tokenSha256: [tokenHash('dev-finance')] });
    expect(config.SHIPSYNC_PRINCIPALS?.map((p) => p.id)).toEqual(SANDBOX_PRINCIPALS.map((p) => p.id));
  });

  it('when SHIPSYNC_API_TOKENS is set, even empty, then start fails: it is retired and never brings dev tokens back', () => {
    for (const value of ['', 'dev-admin:admin']) {
      const issues = issuesOf(() => sandbox({ SHIPSYNC_API_TOKENS: value }));
      expect(issues.find((i) => i.key === 'SHIPSYNC_API_TOKENS')?.reason).toMatch(/retired/);
    }
  });

  it('when principals are configured then the sandbox profile does not add its dev principals', () => {
    const principals = JSON.stringify([
      { id: 'ana', kind: 'person', roles: ['finance'], tokenSha256: tokenHash('ana-token') },
    ]);
    expect(sandbox({ SHIPSYNC_PRINCIPALS: principals }).SHIPSYNC_PRINCIPALS?.map((p) => p.id)).toEqual([
      'ana',
    ]);
  });

  it.each([
    [{ SHIPSYNC_TIME_SCALE: 'fast' }, 'SHIPSYNC_TIME_SCALE', /number/i],
    [{ SHIPSYNC_TIME_SCALE: '-4' }, 'SHIPSYNC_TIME_SCALE', />0|positive|too small/i],
    [{ SHIPSYNC_GATEWAY_PORT: '70000' }, 'SHIPSYNC_GATEWAY_PORT', /65535|too big/i],
    [{ SHIPSYNC_LOG_LEVEL: 'loud' }, 'SHIPSYNC_LOG_LEVEL', /info/],
    [{ SHIPSYNC_DATABASE_URL: 'mysql://x' }, 'SHIPSYNC_DATABASE_URL', /postgres/],
    [{ SHIPSYNC_ERP_URL: 'not a url' }, 'SHIPSYNC_ERP_URL', /url/i],
    [
      { SHIPSYNC_PRINCIPALS: '[{"id":"x","kind":"robot","roles":[],"tokenSha256":"ab"}]' },
      'SHIPSYNC_PRINCIPALS',
      /kind|robot|option/i,
    ],
    [{ SHIPSYNC_PRINCIPALS: 'not json' }, 'SHIPSYNC_PRINCIPALS', /JSON/],
    [{ SHIPSYNC_PRINCIPALS_FILE: '/nonexistent/principals.json' }, 'SHIPSYNC_PRINCIPALS_FILE', /cannot read/],
    [{ SHIPSYNC_DISPATCH_WEBHOOK_SECRET: 'short' }, 'SHIPSYNC_DISPATCH_WEBHOOK_SECRET', /16/],
    [{ SHIPSYNC_CRM_REQUESTS_PER_MINUTE: '5' }, 'SHIPSYNC_CRM_REQUESTS_PER_MINUTE', /10|too small/i],
    [{ SHIPSYNC_FOUR_EYES_THRESHOLD: '100' }, 'SHIPSYNC_FOUR_EYES_THRESHOLD', /APPROVAL_THRESHOLD/],
    [
      { SHIPSYNC_NO_ASSIGNMENT_GRACE_MINUTES: '0' },
      'SHIPSYNC_NO_ASSIGNMENT_GRACE_MINUTES',
      /0|positive|too small/i,
    ],
  ])('when %j then start fails naming %s and the reason', (env, key, reason) => {
    let caught: unknown;
    try {
      sandbox(env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.message).toContain(key);
    expect(error.issues.find((i) => i.key === key)?.reason).toMatch(reason);
  });

  it('when case SLAs are configured per kind then they parse into minutes, and a wrong kind or order is named', () => {
    expect(sandbox().SHIPSYNC_CASE_SLA_MINUTES).toEqual({});
    expect(
      sandbox({ SHIPSYNC_CASE_SLA_MINUTES: 'failed_attempt=480/2880, delay=60/120' })
        .SHIPSYNC_CASE_SLA_MINUTES,
    ).toEqual({ failed_attempt: { escalate: 480, default: 2880 }, delay: { escalate: 60, default: 120 } });
    expect(issuesOf(() => sandbox({ SHIPSYNC_CASE_SLA_MINUTES: 'lost=1/2' }))).toEqual([
      { key: 'SHIPSYNC_CASE_SLA_MINUTES', reason: expect.stringMatching(/kind one of failed_attempt/) },
    ]);
    expect(issuesOf(() => sandbox({ SHIPSYNC_CASE_SLA_MINUTES: 'delay=120/60' }))).toEqual([
      { key: 'SHIPSYNC_CASE_SLA_MINUTES', reason: expect.stringMatching(/default limit must come after/) },
    ]);
  });

  it('when several keys are wrong then each is named', () => {
    expect(() => sandbox({ SHIPSYNC_TIME_SCALE: 'x', SHIPSYNC_GATEWAY_PORT: 'y' })).toThrow(
      /SHIPSYNC_TIME_SCALE.*SHIPSYNC_GATEWAY_PORT|SHIPSYNC_GATEWAY_PORT.*SHIPSYNC_TIME_SCALE/,
    );
  });
});

/** Every .ts file under a folder. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('every key through the schema', () => {
  it('when .env.example is read then it documents every key of the schema', () => {
    const documented = readFileSync('.env.example', 'utf8');
    const missing = Object.keys(configSchema.shape).filter(
      (key) => !new RegExp(`^#? ?${key}=`, 'm').test(documented),
    );
    expect(missing).toEqual([]);
  });

  it('when the processes are read then no SHIPSYNC_ key is taken from process.env around the schema', () => {
    const offenders = [...sources('src'), ...sources('sandbox')]
      .filter((file) => file !== join('src', 'platform', 'config.ts'))
      .filter((file) => {
        const text = readFileSync(file, 'utf8');
        // Reading a key through its schema entry is the one allowed form.
        return /process\.env\.SHIPSYNC_|process\.env\[['"]SHIPSYNC_|\.env\(['"]SHIPSYNC_/.test(
          text.replace(/configSchema\.shape\.\w+\.parse\(process\.env\.SHIPSYNC_\w+/g, ''),
        );
      });
    expect(offenders).toEqual([]);
  });
});

describe('no-assignment grace on a compressed clock', () => {
  it('when the clock runs a day a minute then the grace covers 20 real seconds; in real time it stays as configured', () => {
    expect(compressedGraceMinutes(1)).toBe(60);
    expect(compressedGraceMinutes(60)).toBe(60);
    expect(compressedGraceMinutes(1440)).toBe(480);
    expect(compressedGraceMinutes(100_000)).toBe(24 * 60);
  });
});
