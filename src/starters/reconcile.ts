import type { Client } from '@temporalio/client';
import { type Command, InvalidArgumentError } from 'commander';
import { CalendarDate, type Mismatch } from '../domain/reconciliation.js';
import { UsageError } from '../platform/command.js';
import type { Config } from '../platform/config.js';
import {
  awaitReconciliation,
  startReconciliation,
  upsertReconciliationSchedule,
} from '../platform/reconciliation.js';
import type { ReconciliationResult } from '../workflows/reconciliation/contract.js';

/** What the reconcile command needs from the CLI around it. */
export interface ReconcileCtx {
  config: Config;
  json: boolean;
  withClient<T>(fn: (client: Client) => Promise<T>): Promise<T>;
  audited<T>(
    action: { action: string; route: string; detail?: Record<string, unknown> },
    fn: () => Promise<T>,
  ): Promise<T>;
  print(human: string, data: unknown): void;
}

function calendarDate(value: string): string {
  const parsed = CalendarDate.safeParse(value);
  if (!parsed.success)
    throw new InvalidArgumentError(`--date must be a calendar date YYYY-MM-DD, got "${value}"`);
  return parsed.data;
}

function regionCode(value: string): string {
  if (!/^[A-Z]{2,5}$/.test(value))
    throw new InvalidArgumentError(`--region must be a region code such as CHI, got "${value}"`);
  return value;
}

function cronExpression(value: string): string {
  if (!/^(\S+\s+){4}\S+$/.test(value.trim()))
    throw new InvalidArgumentError('--cron must be a five-field cron expression, e.g. "30 2 * * *"');
  return value.trim();
}

function mismatchLine(m: Mismatch): string {
  const status = m.status === 'repair_failed' ? `repair failed: ${m.error ?? ''}` : m.status;
  return `  ${m.shipmentId}  ${m.kind} [${m.systems.join(', ')}] ${m.detail}\n      ${status}: ${m.suggestedRepair}`;
}

/** The report as an operator reads it: totals, then one entry per mismatch. */
export function reportText(r: ReconciliationResult): string {
  const c = r.counts;
  const head = [
    `reconciliation ${r.reportId}: ${r.date}${r.region ? ` ${r.region}` : ''}${r.repair ? ' (with repairs)' : ''}`,
    `shipments checked ${r.checked} (${r.inFlight} still running)`,
    c.total === 0
      ? 'mismatches 0: ERP, dispatch and CRM agree with the workflows'
      : `mismatches ${c.total}: repaired ${c.repaired}, repair failed ${c.repair_failed}, safe to repair ${c.suggested} (run again with --repair), for an operator ${c.operator}`,
  ];
  const shown = r.mismatches.map(mismatchLine);
  const hidden = c.total - r.mismatches.length;
  return [
    ...head,
    ...shown,
    ...(hidden > 0 ? [`  ... ${hidden} more in the stored report ${r.reportId}`] : []),
  ].join('\n');
}

/** `shipsync reconcile`: one day now (optionally with repairs), or the nightly Schedule. */
export function registerReconcileCommand(program: Command, ctx: () => ReconcileCtx) {
  program
    .command('reconcile')
    .description(
      "compare a day's shipments with the ERP, dispatch and the CRM, keep the report, and with --repair fix what is safe",
    )
    .option('--date <YYYY-MM-DD>', 'the delivery date to reconcile', calendarDate)
    .option('--region <code>', 'only this region', regionCode)
    .option('--repair', 're-post missing milestones and solve stale cases; the rest stays for an operator')
    .option('--schedule', 'create or update the nightly Schedule instead (cron from SHIPSYNC_RECONCILE_CRON)')
    .option('--cron <expr>', 'with --schedule: this cron expression (UTC) instead', cronExpression)
    .action(
      async (opts: {
        date?: string;
        region?: string;
        repair?: boolean;
        schedule?: boolean;
        cron?: string;
      }) => {
        const c = ctx();
        if (opts.schedule) {
          if (opts.date || opts.region || opts.repair)
            throw new UsageError(
              '--schedule takes no --date, --region or --repair (each night reconciles the day before)',
            );
          const cron = opts.cron ?? c.config.SHIPSYNC_RECONCILE_CRON;
          await c.withClient(async (client) => {
            const scheduleId = await c.audited(
              { action: 'cli.reconcile.schedule', route: 'shipsync reconcile --schedule', detail: { cron } },
              () => upsertReconciliationSchedule(client, c.config, cron),
            );
            c.print(`schedule ${scheduleId}: cron "${cron}" (UTC), each run reconciles the day before`, {
              scheduleId,
              cron,
            });
          });
          return;
        }
        if (opts.cron) throw new UsageError('--cron goes with --schedule');
        if (!opts.date) throw new UsageError('--date is required (or --schedule for the nightly run)');
        const input = {
          date: opts.date,
          repair: opts.repair === true,
          ...(opts.region ? { region: opts.region } : {}),
        };
        await c.withClient(async (client) => {
          const result = await c.audited(
            { action: 'cli.reconcile', route: 'shipsync reconcile', detail: input },
            async () => {
              const handle = await startReconciliation(client, c.config, input);
              console.error(`reconciliation ${handle.workflowId} started`);
              return awaitReconciliation(handle, (p) =>
                console.error(
                  `  ${p.phase}: ${p.checked} shipments checked, ${p.mismatches} mismatches${p.phase === 'repairing' ? `, ${p.repaired} repaired` : ''}`,
                ),
              );
            },
          );
          c.print(reportText(result), result);
          // Like diff: 1 while something is still out of step (repaired mismatches count as settled).
          if (result.counts.total > result.counts.repaired) process.exitCode = 1;
        });
      },
    );
}
