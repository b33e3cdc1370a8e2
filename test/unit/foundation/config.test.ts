import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/platform/config.js';
import { compressedGraceMinutes } from '../../../tools/stack.js';

describe('configuration', () => {
  it('when nothing is set then every key has its documented default', () => {
    const config = loadConfig({});
    expect(config.SHIPSYNC_TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
    expect(config.SHIPSYNC_TIME_SCALE).toBe(1);
    expect(config.SHIPSYNC_API_TOKENS['dev-finance']).toBe('finance');
  });

  it.each([
    [{ SHIPSYNC_TIME_SCALE: 'fast' }, 'SHIPSYNC_TIME_SCALE', /number/i],
    [{ SHIPSYNC_TIME_SCALE: '-4' }, 'SHIPSYNC_TIME_SCALE', />0|positive|too small/i],
    [{ SHIPSYNC_GATEWAY_PORT: '70000' }, 'SHIPSYNC_GATEWAY_PORT', /65535|too big/i],
    [{ SHIPSYNC_LOG_LEVEL: 'loud' }, 'SHIPSYNC_LOG_LEVEL', /info/],
    [{ SHIPSYNC_DATABASE_URL: 'mysql://x' }, 'SHIPSYNC_DATABASE_URL', /postgres/],
    [{ SHIPSYNC_ERP_URL: 'not a url' }, 'SHIPSYNC_ERP_URL', /url/i],
    [{ SHIPSYNC_API_TOKENS: 'abc:superuser' }, 'SHIPSYNC_API_TOKENS', /superuser/],
    [{ SHIPSYNC_DISPATCH_WEBHOOK_SECRET: 'short' }, 'SHIPSYNC_DISPATCH_WEBHOOK_SECRET', /16/],
    [{ SHIPSYNC_CRM_REQUESTS_PER_MINUTE: '5' }, 'SHIPSYNC_CRM_REQUESTS_PER_MINUTE', /10|too small/i],
    [
      { SHIPSYNC_NO_ASSIGNMENT_GRACE_MINUTES: '0' },
      'SHIPSYNC_NO_ASSIGNMENT_GRACE_MINUTES',
      /0|positive|too small/i,
    ],
  ])('when %j then start fails naming %s and the reason', (env, key, reason) => {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.message).toContain(key);
    expect(error.issues.find((i) => i.key === key)?.reason).toMatch(reason);
  });

  it('when several keys are wrong then each is named', () => {
    expect(() => loadConfig({ SHIPSYNC_TIME_SCALE: 'x', SHIPSYNC_GATEWAY_PORT: 'y' })).toThrow(
      /SHIPSYNC_TIME_SCALE.*SHIPSYNC_GATEWAY_PORT|SHIPSYNC_GATEWAY_PORT.*SHIPSYNC_TIME_SCALE/,
    );
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
