import { type Command, InvalidArgumentError } from 'commander';
import type { ParkedOutcome, ParkedView } from '../workflows/shipment/contract.js';
import { gatewayApi, withGatewayOptions, type GatewayApiDeps } from './gateway-api.js';

/** Fields `parked edit --set` accepts (the workflow decides which a parked kind allows). */
const EDIT_FIELDS = ['occurredAt', 'eta', 'message', 'subject', 'description', 'priority'] as const;

/** `--set field=value`, repeatable, into an edits object. */
function collectEdit(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  const field = eq > 0 ? value.slice(0, eq) : '';
  if (!(EDIT_FIELDS as readonly string[]).includes(field))
    throw new InvalidArgumentError(`expected field=value with field one of ${EDIT_FIELDS.join(', ')}`);
  return { ...previous, [field]: value.slice(eq + 1) };
}

/** One line per parked side effect: id, kind, what it carries, the vendor's code and message. */
export function formatParked(p: ParkedView): string {
  const a = p.action as Record<string, unknown>;
  const what =
    a.kind === 'milestone'
      ? `${String(a.milestone)}#${String(a.attempt)}`
      : a.kind === 'openCase'
        ? `case ${String(a.exception)}`
        : a.kind === 'notify'
          ? `notice ${String(a.topic)}`
          : String(a.kind);
  return `${p.id}  ${what}  ${p.code}  rejected ${p.rejections}x since ${p.parkedAt}  ${p.message.slice(0, 160)}`;
}

/**
 * Adds `parked list <shipment>|retry|edit|skip` to a commander program: the operator actions on side effects
 * a vendor rejected for good, through the gateway's API as the token's principal (dispatcher, finance or
 * admin), each written to the audit trail by the gateway.
 */
export function registerParkedCommands(program: Command, deps: GatewayApiDeps = {}): Command {
  const { call, print, usage } = gatewayApi(deps, 'dispatcher');
  const parkedIdArg = (value: string) => {
    if (!/^p\d{1,6}$/.test(value)) throw usage(`a parked item id looks like p1, got "${value.slice(0, 40)}"`);
    return value;
  };
  const parked = withGatewayOptions(
    program
      .command('parked')
      .description('side effects a vendor rejected for good: list, retry, edit and retry, or skip them'),
    'dispatcher',
  );
  const path = (shipment: string, action: string) =>
    `/v1/shipments/${encodeURIComponent(shipment)}/parked/${action}`;
  const done = (r: ParkedOutcome) =>
    `${r.shipmentId} ${r.parkedId} ${r.outcome}; ${r.stillParked} still parked`;

  parked
    .command('list <shipment>')
    .description("a shipment's parked side effects")
    .option('--json', 'print machine-readable JSON')
    .action(async (shipment: string, _opts: unknown, cmd: Command) => {
      const { data, json } = await call<{ parked?: ParkedView[] }>(
        cmd,
        'GET',
        `/v1/shipments/${encodeURIComponent(shipment)}`,
      );
      const items = data.parked ?? [];
      print(json, items, items.length ? items.map(formatParked).join('\n') : 'nothing parked');
    });

  parked
    .command('retry <shipment> <parkedId>')
    .description('send it again as it is (after fixing the data at the vendor)')
    .option('--json', 'print machine-readable JSON')
    .action(async (shipment: string, parkedId: string, _opts: unknown, cmd: Command) => {
      const body = { parkedId: parkedIdArg(parkedId) };
      const { data, json } = await call<ParkedOutcome>(cmd, 'POST', path(shipment, 'retry'), {}, body);
      print(json, data, done(data));
    });

  parked
    .command('edit <shipment> <parkedId>')
    .description('change fields (--set field=value, repeatable) and send it again')
    .requiredOption('--set <field=value>', `a field to change: ${EDIT_FIELDS.join(', ')}`, collectEdit)
    .option('--json', 'print machine-readable JSON')
    .action(
      async (shipment: string, parkedId: string, opts: { set: Record<string, string> }, cmd: Command) => {
        const body = { parkedId: parkedIdArg(parkedId), edits: opts.set };
        const { data, json } = await call<ParkedOutcome>(cmd, 'POST', path(shipment, 'edit'), {}, body);
        print(json, data, done(data));
      },
    );

  parked
    .command('skip <shipment> <parkedId>')
    .description('drop it for good with a reason (a skipped billing post closes the shipment unbilled)')
    .requiredOption('--reason <text>', 'why; kept on the shipment and in the audit trail')
    .option('--json', 'print machine-readable JSON')
    .action(async (shipment: string, parkedId: string, opts: { reason: string }, cmd: Command) => {
      const body = { parkedId: parkedIdArg(parkedId), reason: opts.reason };
      const { data, json } = await call<ParkedOutcome>(cmd, 'POST', path(shipment, 'skip'), {}, body);
      print(json, data, done(data));
    });

  return parked;
}
