import { type Command, InvalidArgumentError } from 'commander';
import { CalendarDate, type ReconciliationReport } from '../domain/reconciliation.js';
import type { ReconciliationResult } from '../workflows/reconciliation/contract.js';
import { gatewayApi, withGatewayOptions, type GatewayApiDeps } from './gateway-api.js';
import { reportText } from './reconcile.js';

/** A report summary as the gateway lists it. */
interface ReportSummary extends Omit<ReconciliationReport, 'mismatches'> {
  counts: ReconciliationResult['counts'];
}

function calendarDate(value: string): string {
  if (!CalendarDate.safeParse(value).success)
    throw new InvalidArgumentError(`--date must be a calendar date YYYY-MM-DD, got "${value}"`);
  return value;
}

/**
 * Adds `reconciliation list|show` to a commander program: the stored reports of past reconciliation runs,
 * read from the gateway (GET /v1/reconciliation/reports with an auditor's or admin's token).
 */
export function registerReconciliationReportCommands(program: Command, deps: GatewayApiDeps = {}) {
  const { call, print } = gatewayApi(deps, 'auditor');
  const group = program
    .command('reconciliation')
    .description('stored reconciliation reports from the gateway (auditor or admin token)');
  withGatewayOptions(
    group
      .command('list')
      .description('reports, newest first, with their mismatch counts')
      .option('--date <YYYY-MM-DD>', 'only runs that reconciled this date', calendarDate)
      .option('--region <code>', 'only runs of this region')
      .option('--json', 'print machine-readable JSON'),
    'auditor',
  ).action(async (opts: { date?: string; region?: string }, cmd: Command) => {
    const res = await call<{ reports: ReportSummary[] }>(cmd, 'GET', '/v1/reconciliation/reports', {
      ...(opts.date ? { date: opts.date } : {}),
      ...(opts.region ? { region: opts.region } : {}),
    });
    const lines = res.data.reports.map(
      (r) =>
        `${r.id}  ${r.date}${r.region ? ` ${r.region}` : ''}  ${r.status}  checked ${r.checked}  mismatches ${r.counts.total} (repaired ${r.counts.repaired}, for an operator ${r.counts.operator}, safe to repair ${r.counts.suggested})`,
    );
    print(res.json, res.data, lines.length ? lines.join('\n') : 'no reconciliation reports match');
  });
  withGatewayOptions(
    group
      .command('show <reportId>')
      .description('one report: every mismatch with the systems involved and the suggested repair')
      .option('--json', 'print machine-readable JSON'),
    'auditor',
  ).action(async (reportId: string, _opts: unknown, cmd: Command) => {
    const res = await call<ReconciliationReport>(
      cmd,
      'GET',
      `/v1/reconciliation/reports/${encodeURIComponent(reportId)}`,
    );
    const r = res.data;
    const counts = { suggested: 0, repaired: 0, repair_failed: 0, operator: 0, total: r.mismatches.length };
    for (const m of r.mismatches) counts[m.status]++;
    print(
      res.json,
      r,
      reportText({
        reportId: r.id,
        date: r.date,
        repair: r.repair,
        checked: r.checked,
        inFlight: r.inFlight,
        counts,
        mismatches: r.mismatches,
        ...(r.region ? { region: r.region } : {}),
      }),
    );
  });
}
