import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { simAt } from '../domain/clock.js';
import { DISPATCH_EVENT_TYPES, EventEnvelope, type DispatchEvent } from '../domain/events.js';
import { ERROR_CODES, ShipsyncError } from '../domain/errors.js';
import { ShipmentPhase, TimeWindow } from '../domain/model.js';
import { newCommand, runCommand, UsageError } from '../platform/command.js';
import {
  loadConfig,
  PRINCIPAL_KINDS,
  PrincipalId,
  ROLES,
  tokenHash,
  type Config,
  type Role,
} from '../platform/config.js';
import {
  connectTemporal,
  temporalConnectError,
  temporalConnectionOptions,
} from '../platform/temporal-client.js';
import {
  dispatchEventSignal,
  rescheduleUpdate,
  shipmentWorkflowId,
  statusQuery,
} from '../workflows/shipment/contract.js';
import { openStore, storeTargetFromConfig } from '../storage/store.js';
import { registerAuditCommand } from './audit.js';
import { registerDlqCommands } from './dlq.js';
import { registerOperatorCommands } from './operator.js';
import { registerParkedCommands } from './parked.js';
import { registerOdsCommands } from './ods.js';
import { registerReconcileCommand } from './reconcile.js';
import { registerReconciliationReportCommands } from './reconciliation-reports.js';
import { releaseNow, upsertReleaseSchedule } from '../platform/release.js';
import { clockFromConfig, settingsFromConfig, startShipment } from '../platform/shipments.js';

/** An operator action of the CLI, as the audit trail records it. */
interface OperatorAction {
  /** e.g. `cli.reschedule`. */
  action: string;
  /** The command line's command, e.g. `shipsync reschedule`. */
  route: string;
  shipmentId?: string;
  detail?: Record<string, unknown>;
}

interface Ctx {
  config: Config;
  json: boolean;
  /** The operating-system user running the CLI: the principal of its operator actions. */
  operator: string;
  withClient<T>(fn: (client: Client) => Promise<T>): Promise<T>;
  /**
   * Runs an action that changes shipments directly through Temporal (an operator tool: it needs Temporal
   * access, not an API token) and writes it to the gateway's audit trail with the OS user as principal.
   * The audit store is opened first: when it cannot be, nothing is done.
   */
  audited<T>(action: OperatorAction, fn: () => Promise<T>): Promise<T>;
  print(human: string, data: unknown): void;
}

/** The OS user and host running this process, as an operator principal id. */
export function operatorPrincipal(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = `uid-${process.getuid?.() ?? 'unknown'}`;
  }
  return `${user}@${hostname()}`.slice(0, 100);
}

/** The status an outcome would have had at the API, for the audit row of an operator action. */
function statusOfError(err: unknown): { statusCode: number; outcome: string } {
  if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
    const type = err.cause.type ?? '';
    if (Object.hasOwn(ERROR_CODES, type)) {
      return { statusCode: ERROR_CODES[type as keyof typeof ERROR_CODES].http, outcome: type };
    }
  }
  if (err instanceof WorkflowNotFoundError) return { statusCode: 404, outcome: 'SHIPMENT_NOT_FOUND' };
  if (err instanceof UsageError) return { statusCode: 400, outcome: 'VALIDATION_FAILED' };
  return { statusCode: 500, outcome: 'INTERNAL_ERROR' };
}

/** Accepts `shipment-<id>` or a bare ERP delivery id. */
export function toWorkflowId(id: string): string {
  if (!/^[A-Za-z0-9-]{1,60}$/.test(id)) throw new UsageError(`not a shipment or delivery id: "${id}"`);
  return id.startsWith('shipment-') ? id : shipmentWorkflowId(id);
}

function isoInstant(label: string) {
  return (value: string) => {
    if (
      !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) ||
      Number.isNaN(Date.parse(value))
    ) {
      throw new InvalidArgumentError(
        `${label} must be an ISO-8601 date-time with a zone, e.g. 2026-12-02T14:00:00Z`,
      );
    }
    return new Date(Date.parse(value)).toISOString();
  };
}

async function statusOf(client: Client, id: string) {
  const workflowId = toWorkflowId(id);
  try {
    return await client.workflow.getHandle(workflowId).query(statusQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new UsageError(`unknown shipment: ${workflowId}`);
    throw err;
  }
}

/** Builds the `shipsync` command tree; `ctxFactory` lets tests supply their own configuration. */
export function buildCli(ctxFactory: (json: boolean) => Ctx = defaultCtx): Command {
  const program = newCommand('shipsync')
    .description('Keep ERP, dispatch and CRM in step, one Temporal workflow per shipment.')
    .option('--json', 'print machine-readable JSON');
  const ctx = () => ctxFactory(program.opts<{ json?: boolean }>().json ?? false);

  program
    .command('release')
    .description('create or update the Temporal Schedule that pulls released deliveries from the ERP')
    .option('--now', 'also run one release pass now and wait for it')
    .option(
      '--every <minutes>',
      'minutes between pulls (default from SHIPSYNC_RELEASE_INTERVAL_MINUTES)',
      (v) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0)
          throw new InvalidArgumentError('--every must be a positive number of minutes');
        return n;
      },
    )
    .action(async (opts: { now?: boolean; every?: number }) => {
      const c = ctx();
      await c.withClient(async (client) => {
        const minutes = opts.every ?? c.config.SHIPSYNC_RELEASE_INTERVAL_MINUTES;
        const { scheduleId, run } = await c.audited(
          {
            action: 'cli.release',
            route: 'shipsync release',
            detail: { everyMinutes: minutes, now: opts.now === true },
          },
          async () => ({
            scheduleId: await upsertReleaseSchedule(client, c.config, minutes),
            run: opts.now ? await releaseNow(client, c.config) : undefined,
          }),
        );
        c.print(
          `schedule ${scheduleId}: every ${minutes} min${run ? `; pass now: ${run.seen} released, ${run.started} started, ${run.attached} already running` : ''}`,
          { scheduleId, everyMinutes: minutes, run },
        );
      });
    });

  registerReconcileCommand(program, ctx);

  program
    .command('start <deliveryId>')
    .description('start the shipment of one ERP delivery (attaches if it is already running)')
    .action(async (deliveryId: string) => {
      const c = ctx();
      toWorkflowId(deliveryId);
      const { createErpAdapter } = await import('../integrations/erp/adapter.js');
      const erp = createErpAdapter({ baseUrl: c.config.SHIPSYNC_ERP_URL });
      let order;
      try {
        order = await erp.getDelivery(deliveryId.replace(/^shipment-/, ''));
      } catch (err) {
        if (err instanceof ShipsyncError && err.code === 'ERP_DELIVERY_NOT_FOUND')
          throw new UsageError(`unknown delivery: ${deliveryId}`);
        throw err;
      }
      const shipmentId = shipmentWorkflowId(order.deliveryId);
      await c.withClient(async (client) => {
        const out = await c.audited({ action: 'cli.start', route: 'shipsync start', shipmentId }, () =>
          startShipment(client, order, {
            clock: clockFromConfig(c.config),
            settings: settingsFromConfig(c.config),
            taskQueuePrefix: c.config.SHIPSYNC_TASK_QUEUE_PREFIX,
          }),
        );
        c.print(`${out.workflowId}: ${out.started ? 'started' : 'already running, attached'}`, out);
      });
    });

  program
    .command('status <id>')
    .description(
      "print a shipment's status (phase, window, ETA, driver, attempts, cases, charges, milestones)",
    )
    .action(async (id: string) => {
      const c = ctx();
      await c.withClient(async (client) => {
        const s = await statusOf(client, id);
        const lines = [
          `${s.shipmentId}  ${s.phase}${s.outcome ? ` (${s.outcome})` : ''}  region ${s.region}  customer ${s.customerId}`,
          `window ${s.window.start} – ${s.window.end}${s.eta ? `  eta ${s.eta}` : ''}`,
          `attempts ${s.attempts}${s.driverId ? `  driver ${s.driverId}` : ''}${s.taskId ? `  task ${s.taskId}` : ''}`,
          `open cases: ${s.openCases.map((x) => `${x.kind} ${x.caseId}`).join(', ') || 'none'}`,
          `milestones: ${s.milestones.map((m) => `${m.milestone}#${m.attempt}`).join(' → ') || 'none'}`,
          `charges: ${s.charges.map((ch) => `${ch.code} ${ch.amount.toFixed(2)}`).join(', ') || 'not computed yet'}${s.pricingVersion ? `  (ERP prices ${s.pricingVersion})` : ''}${s.awaitingApproval ? '  (awaiting finance approval)' : ''}`,
        ];
        c.print(lines.join('\n'), s);
      });
    });

  program
    .command('reschedule <id>')
    .description(
      'move the delivery window (rejected once out for delivery); an operator tool: needs Temporal access, records the OS user as principal in the audit trail',
    )
    .requiredOption('--from <iso>', 'window start', isoInstant('--from'))
    .requiredOption('--to <iso>', 'window end', isoInstant('--to'))
    .option('--reason <text>', 'why', 'requested from the command line')
    .action(async (id: string, opts: { from: string; to: string; reason: string }) => {
      const c = ctx();
      const window = TimeWindow.safeParse({ start: opts.from, end: opts.to });
      if (!window.success)
        throw new UsageError(`bad window: ${window.error.issues[0]?.message ?? 'invalid'}`);
      const workflowId = toWorkflowId(id);
      await c.withClient(async (client) => {
        try {
          const result = await c.audited(
            {
              action: 'cli.reschedule',
              route: 'shipsync reschedule',
              shipmentId: workflowId,
              detail: { window: window.data },
            },
            () =>
              client.workflow.getHandle(workflowId).executeUpdate(rescheduleUpdate, {
                args: [
                  {
                    window: window.data,
                    reason: opts.reason.slice(0, 500),
                    requestedBy: `operator:${c.operator}`.slice(0, 100),
                  },
                ],
              }),
          );
          c.print(
            `${workflowId}: window ${result.window.start} – ${result.window.end}${result.eta ? `, eta ${result.eta}` : ''}`,
            result,
          );
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw new UsageError(`unknown shipment: ${workflowId}`);
          if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
            throw new UsageError(`rejected (${err.cause.type ?? 'REJECTED'}): ${err.cause.message}`);
          }
          throw err;
        }
      });
    });

  program
    .command('event <id> <type>')
    .description(
      `send a canonical dispatch event to a shipment (${DISPATCH_EVENT_TYPES.join(', ')}); an operator tool: needs Temporal access, records the OS user as principal in the audit trail`,
    )
    .requiredOption('--data <json>', 'the event data as JSON, e.g. \'{"taskId":"t1","attempt":1,...}\'')
    .option('--event-id <id>', 'event id (default: generated); resending the same id has no second effect')
    .action(async (id: string, type: string, opts: { data: string; eventId?: string }) => {
      const c = ctx();
      const workflowId = toWorkflowId(id);
      if (!(DISPATCH_EVENT_TYPES as readonly string[]).includes(type)) {
        throw new UsageError(`unknown event type "${type}"; one of ${DISPATCH_EVENT_TYPES.join(', ')}`);
      }
      let data: unknown;
      try {
        data = JSON.parse(opts.data);
      } catch {
        throw new UsageError('--data is not valid JSON');
      }
      const now = new Date(simAt(clockFromConfig(c.config), Date.now())).toISOString();
      const parsed = EventEnvelope.safeParse({
        specversion: '1.0',
        id: opts.eventId ?? `cli-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
        source: 'cli',
        type,
        subject: workflowId,
        time: now,
        correlationid: workflowId,
        data,
      });
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new UsageError(`invalid ${type}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`);
      }
      await c.withClient(async (client) => {
        try {
          await c.audited(
            {
              action: 'cli.event',
              route: 'shipsync event',
              shipmentId: workflowId,
              detail: { type, eventId: parsed.data.id },
            },
            () =>
              client.workflow.getHandle(workflowId).signal(dispatchEventSignal, parsed.data as DispatchEvent),
          );
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw new UsageError(`unknown shipment: ${workflowId}`);
          throw err;
        }
        c.print(`${workflowId}: sent ${type} ${parsed.data.id}`, {
          workflowId,
          eventId: parsed.data.id,
          type,
        });
      });
    });

  program
    .command('list')
    .description('list shipments by status, region or open exception (Temporal visibility)')
    .addOption(new Option('--status <phase>', 'phase').choices(ShipmentPhase.options))
    .option('--region <code>', 'region code', (v) => {
      if (!/^[A-Z]{2,8}$/.test(v))
        throw new InvalidArgumentError('--region must be a region code in capitals, e.g. CHI');
      return v;
    })
    .addOption(
      new Option('--exception <kind>', 'open exception kind').choices([
        'failed_attempt',
        'delay',
        'damage',
        'address_mismatch',
        'missing_pod',
        'no_assignment',
      ]),
    )
    .option('--limit <n>', 'at most this many', '100')
    .action(async (opts: { status?: string; region?: string; exception?: string; limit: string }) => {
      const c = ctx();
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive integer');
      const clauses = [`WorkflowType = 'ShipmentWorkflow'`];
      if (opts.status) clauses.push(`ShipmentStatus = '${opts.status}'`);
      if (opts.region) clauses.push(`Region = '${opts.region}'`);
      if (opts.exception) clauses.push(`OpenException = '${opts.exception}'`);
      await c.withClient(async (client) => {
        const rows: {
          workflowId: string;
          status: string;
          region: string;
          exception: string;
          closed: boolean;
        }[] = [];
        for await (const wf of client.workflow.list({ query: clauses.join(' AND ') })) {
          const sa = wf.searchAttributes as Record<string, string[] | undefined>;
          rows.push({
            workflowId: wf.workflowId,
            status: sa.ShipmentStatus?.[0] ?? '',
            region: sa.Region?.[0] ?? '',
            exception: sa.OpenException?.[0] ?? '',
            closed: wf.status.name !== 'RUNNING',
          });
          if (rows.length >= limit) break;
        }
        c.print(
          rows.map((r) => `${r.workflowId}\t${r.status}\t${r.region}\t${r.exception}`).join('\n') ||
            'no shipments match',
          rows,
        );
      });
    });

  program
    .command('history <id>')
    .description("export a shipment's event history as JSON (for replay tests and support)")
    .option('--out <file>', 'write to this file instead of standard output')
    .action(async (id: string, opts: { out?: string }) => {
      const c = ctx();
      const workflowId = toWorkflowId(id);
      await c.withClient(async (client) => {
        let history;
        try {
          history = await client.workflow.getHandle(workflowId).fetchHistory();
        } catch (err) {
          if (err instanceof WorkflowNotFoundError) throw new UsageError(`unknown shipment: ${workflowId}`);
          throw err;
        }
        const text = historyToJSON(history);
        if (opts.out) {
          writeFileSync(opts.out, text);
          console.log(`${workflowId}: ${history.events?.length ?? 0} events written to ${opts.out}`);
        } else {
          console.log(text);
        }
      });
    });

  const apiDeps = {
    config: () => loadConfig(process.env, { process: 'api-client' }),
    usageError: (message: string) => new UsageError(message),
  };
  registerDlqCommands(program, apiDeps);
  registerParkedCommands(program, apiDeps);
  registerOperatorCommands(program, apiDeps);
  registerAuditCommand(program, apiDeps);
  registerReconciliationReportCommands(program, apiDeps);
  registerOdsCommands(program, apiDeps);
  registerPrincipalCommand(program);
  return program;
}

/** The CLI's configuration (the `cli` process: production requires the payload key). */
function cliConfig(): Config {
  return loadConfig(process.env, { process: 'cli' });
}

/**
 * `shipsync principal new <id> --kind person --role finance`: a fresh 256-bit token, printed once, and the
 * principal entry with its SHA-256 to add to SHIPSYNC_PRINCIPALS or SHIPSYNC_PRINCIPALS_FILE.
 */
function registerPrincipalCommand(program: Command) {
  const principal = program.command('principal').description('make API principals and their tokens');
  principal
    .command('new <id>')
    .description(
      'print a new random token (once) and the principal entry holding its SHA-256, for SHIPSYNC_PRINCIPALS(_FILE)',
    )
    .addOption(new Option('--kind <kind>', 'person or service').choices(PRINCIPAL_KINDS).default('person'))
    .addOption(
      new Option('--role <role>', 'a role (repeat for several)')
        .choices(ROLES)
        .argParser((value: string, previous: Role[] | undefined) => [...(previous ?? []), value as Role]),
    )
    .option('--json', 'print machine-readable JSON')
    .action(
      (id: string, opts: { kind: 'person' | 'service'; role?: Role[]; json?: boolean }, cmd: Command) => {
        const parsed = PrincipalId.safeParse(id);
        if (!parsed.success)
          throw new UsageError(`principal id: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
        const token = randomBytes(32).toString('base64url');
        const entry = {
          id,
          kind: opts.kind,
          roles: [...new Set(opts.role ?? [])],
          tokenSha256: tokenHash(token),
        };
        const json = opts.json === true || cmd.optsWithGlobals<{ json?: boolean }>().json === true;
        console.log(
          json
            ? JSON.stringify({ token, principal: entry }, null, 2)
            : [
                `token (shown once; give it to ${id} only): ${token}`,
                'principal entry (add it to SHIPSYNC_PRINCIPALS or SHIPSYNC_PRINCIPALS_FILE):',
                JSON.stringify(entry),
              ].join('\n'),
        );
      },
    );
}

function defaultCtx(json: boolean): Ctx {
  let config: Config;
  try {
    config = cliConfig();
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const operator = operatorPrincipal();
  return {
    config,
    json,
    operator,
    async audited(action, fn) {
      let store;
      try {
        store = await openStore(storeTargetFromConfig(config));
      } catch (err) {
        throw new Error(
          `cannot open the audit trail (${err instanceof Error ? err.message : String(err)}); nothing was changed`,
        );
      }
      try {
        let result;
        let outcome = { statusCode: 200, outcome: 'ok' };
        try {
          result = await fn();
        } catch (err) {
          outcome = statusOfError(err);
          throw err;
        } finally {
          await store.audit.append({
            at: new Date().toISOString(),
            principalId: operator,
            principalKind: 'operator',
            action: action.action,
            method: 'CLI',
            route: action.route,
            ...(action.shipmentId ? { shipmentId: action.shipmentId } : {}),
            ...outcome,
            ...(action.detail ? { detail: action.detail } : {}),
          });
        }
        return result;
      } finally {
        await store.close();
      }
    },
    async withClient(fn) {
      let conn;
      try {
        conn = await connectTemporal(config);
      } catch (err) {
        const target = temporalConnectionOptions(config);
        if (target.tls) throw temporalConnectError(target, err);
        throw new Error(
          `cannot reach Temporal at ${config.SHIPSYNC_TEMPORAL_ADDRESS} (start it with npm run temporal)`,
        );
      }
      try {
        return await fn(conn.client);
      } finally {
        await conn.close();
      }
    },
    print(human, data) {
      console.log(json ? JSON.stringify(data, null, 2) : human);
    },
  };
}

/** Runs the CLI with the given user arguments; returns the exit code. */
export function runCli(argv: readonly string[]): Promise<number> {
  return runCommand(buildCli(), argv);
}

if (process.argv[1] && /cli\.(ts|js)$|shipsync(\.mjs)?$/.test(process.argv[1])) {
  process.exit(await runCli(process.argv.slice(2)));
}
