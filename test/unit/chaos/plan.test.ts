import { describe, expect, it, vi } from 'vitest';
import { runChaosCli, type ChaosOptions } from '../../../tools/chaos/args.js';
import { postgresRestartCommand } from '../../../tools/chaos/faults.js';
import { CAMPAIGN, faultPlan, usesPostgres, webhooksFlowing } from '../../../tools/chaos/plan.js';

const kinds = (plan: ReturnType<typeof faultPlan>) => plan.map((s) => s.kind);

describe('chaos fault plan', () => {
  it('when one gateway and one worker run on the dev server then the plan is the campaign of old', () => {
    const plan = faultPlan({ backend: 'devserver', gateways: 1, workers: 1 });
    expect(plan.map((s) => [s.at, s.kind])).toEqual([
      [5, 'malformed-webhooks'],
      [20, 'worker-kill'],
      [30, 'erp-outage'],
      [38, 'worker-kill'],
      [56, 'worker-kill'],
      [70, 'temporal-restart'],
      [92, 'worker-kill'],
      [100, 'crm-429-storm'],
      [110, 'worker-kill'],
    ]);
    expect(plan.filter((s) => s.kind === 'worker-kill').map((s) => 'worker' in s && s.worker)).toEqual([
      0, 0, 0, 0, 0,
    ]);
  });

  it('when two gateways and two workers run on PostgreSQL then every multi-process fault is planned, in time order', () => {
    const plan = faultPlan({ backend: 'postgres', gateways: 2, workers: 2 });
    expect(kinds(plan)).toEqual([
      'malformed-webhooks',
      'worker-kill',
      'erp-outage',
      'worker-kill',
      'gateway-kill',
      'worker-kill',
      'temporal-restart',
      'postgres-restart',
      'worker-kill',
      'crm-429-storm',
      'worker-kill',
      'worker-down',
    ]);
    const ats = plan.map((s) => s.at);
    expect(ats).toEqual([...ats].sort((a, b) => a - b));
    // The kills go round the workers; the gateway and the worker kept down are the last ones.
    expect(plan.filter((s) => s.kind === 'worker-kill').map((s) => 'worker' in s && s.worker)).toEqual([
      0, 1, 0, 1, 0,
    ]);
    expect(plan.find((s) => s.kind === 'gateway-kill')).toEqual({
      kind: 'gateway-kill',
      at: CAMPAIGN.gatewayKill.at,
      gateway: 1,
      downSeconds: CAMPAIGN.gatewayKill.downSeconds,
    });
    expect(plan.find((s) => s.kind === 'worker-down')).toMatchObject({ worker: 1 });
  });

  it('when a fault does not apply to the topology then it is left out', () => {
    // Two workers on the dev server with one gateway: nothing lives on PostgreSQL, no second gateway.
    expect(kinds(faultPlan({ backend: 'devserver', gateways: 1, workers: 2 }))).not.toContain(
      'postgres-restart',
    );
    expect(kinds(faultPlan({ backend: 'devserver', gateways: 1, workers: 2 }))).not.toContain('gateway-kill');
    // Two gateways on the dev server share a PostgreSQL inbox: PostgreSQL is restarted.
    expect(kinds(faultPlan({ backend: 'devserver', gateways: 2, workers: 1 }))).toEqual(
      expect.arrayContaining(['gateway-kill', 'postgres-restart']),
    );
    expect(kinds(faultPlan({ backend: 'postgres', gateways: 1, workers: 1 }))).not.toContain('worker-down');
    expect(usesPostgres({ backend: 'postgres', gateways: 1, workers: 1 })).toBe(true);
    expect(usesPostgres({ backend: 'devserver', gateways: 1, workers: 3 })).toBe(false);
  });

  it('when no restart command is configured then the newest local cluster is restarted with pg_ctlcluster', () => {
    const cmd = postgresRestartCommand({});
    expect(cmd[0]).toBe('pg_ctlcluster');
    expect(cmd.slice(2)).toEqual(['main', 'restart']);
    expect(
      postgresRestartCommand({ SHIPSYNC_CHAOS_PG_RESTART: 'sudo pg_ctlcluster 16 main restart' }),
    ).toEqual(['sudo', 'pg_ctlcluster', '16', 'main', 'restart']);
  });
});

describe('chaos command line: topology', () => {
  const quiet = () => {
    const lines: string[] = [];
    const spy = vi
      .spyOn(process.stderr, 'write')
      .mockImplementation((chunk) => lines.push(String(chunk)) > 0);
    return { lines: () => lines, restore: () => spy.mockRestore() };
  };

  const parse = async (argv: string[]) => {
    let seen: ChaosOptions | undefined;
    const code = await runChaosCli(argv, async (o) => {
      seen = o;
      return 0;
    });
    process.exitCode = undefined;
    return { code, seen };
  };

  it('when no topology is given then it is the dev server with one gateway and one worker', async () => {
    const { code, seen } = await parse([]);
    expect(code).toBe(0);
    expect(seen).toMatchObject({ backend: 'devserver', gateways: 1, workers: 1, shipments: 200 });
    expect(seen).toMatchObject({ scale: 720, timeoutSeconds: 1020 });
  });

  it('when a large campaign gives no scale or timeout then its day runs slower and it waits 8 simulated days at its scale', async () => {
    const { seen } = await parse(['--shipments', '1000']);
    expect(seen).toMatchObject({ shipments: 1000, scale: 120, timeoutSeconds: 5820 });
    const { seen: chosen } = await parse(['--shipments', '1000', '--scale', '180']);
    expect(chosen).toMatchObject({ scale: 180, timeoutSeconds: 3900 });
    const { seen: slowest } = await parse(['--scale', '60']);
    expect(slowest).toMatchObject({ scale: 60, timeoutSeconds: 11580 });
    const { seen: given } = await parse(['--shipments', '1000', '--timeout', '2400']);
    expect(given).toMatchObject({ scale: 120, timeoutSeconds: 2400 });
  });

  it('when the scale-out campaign is asked for then backend, gateways and workers are taken', async () => {
    const { seen } = await parse([
      '--shipments',
      '1000',
      '--backend',
      'postgres',
      '--gateways',
      '2',
      '--workers',
      '2',
      '--json',
      '--timeout',
      '3000',
    ]);
    expect(seen).toEqual({
      shipments: 1000,
      seed: 7,
      // Above 200 shipments the day runs at ×120 unless a scale is given.
      scale: 120,
      json: true,
      timeoutSeconds: 3000,
      backend: 'postgres',
      gateways: 2,
      workers: 2,
    });
  });

  it.each([
    ['--backend sqlite', /--backend.*sqlite.*devserver, postgres/],
    ['--gateways 0', /--gateways must be an integer from 1 to 8/],
    ['--gateways 1.5', /--gateways must be an integer from 1 to 8/],
    ['--workers 9', /--workers must be an integer from 1 to 8/],
    ['--workers two', /--workers must be an integer from 1 to 8/],
  ])('when given %s then it exits 2 with one line that says what is allowed', async (argv, message) => {
    let ran = false;
    const err = quiet();
    const code = await runChaosCli(argv.split(' '), async () => {
      ran = true;
      return 0;
    }).finally(err.restore);
    expect(code).toBe(2);
    expect(ran).toBe(false);
    expect(err.lines()).toHaveLength(1);
    expect(err.lines()[0]).toMatch(message);
  });
});

describe('the gateway kill waits for webhook traffic', () => {
  const now = Date.parse('2026-12-01T06:10:00.000Z');
  const attempt = (msAgo: number, status: number | 'error') => ({
    at: new Date(now - msAgo).toISOString(),
    status,
  });
  const traffic = { windowMs: 5000, deliveries: 3 };

  it('when enough deliveries were acknowledged in the window then traffic is flowing', () => {
    const log = [attempt(4000, 200), attempt(2000, 200), attempt(100, 200)];
    expect(webhooksFlowing(log, now, traffic)).toBe(true);
  });

  it('when the deliveries are older than the window, failed or refused then traffic is not flowing', () => {
    const log = [
      attempt(60_000, 200),
      attempt(9000, 200),
      attempt(3000, 'error'),
      attempt(2000, 503),
      attempt(1000, 200),
    ];
    expect(webhooksFlowing(log, now, traffic)).toBe(false);
    expect(webhooksFlowing([], now, traffic)).toBe(false);
  });

  it('when a slow attempt ended out of order then it still counts', () => {
    const log = [attempt(1000, 200), attempt(4500, 200), attempt(500, 200)];
    expect(webhooksFlowing(log, now, traffic)).toBe(true);
  });
});
