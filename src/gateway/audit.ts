import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Store } from '../storage/store.js';
import { errorText } from './forwarder.js';
import type { GatewayMetrics } from './metrics.js';
import { normalizeShipmentId } from './temporal.js';

/** What a route records in the audit trail. */
export interface AuditSpec {
  /** The action's name, e.g. `charges.approve`. */
  action: string;
  /** Particulars worth keeping (never personal data): from the request and the parsed response body. */
  detail?: (req: FastifyRequest, response: unknown) => Record<string, unknown> | undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on routes whose every call (by an authenticated principal) writes an audit row. */
    audit?: AuditSpec;
  }
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Writes one audit row per call of an audited route by an authenticated principal, whatever the answer:
 * principal, role, time, route, shipment, Idempotency-Key and outcome (status and error code). The row is
 * written before the answer leaves; a failure to write it is logged and counted, and the answer still goes
 * out (the action it describes has already happened). Calls without a known token, and calls refused by a
 * rate limit, are only counted.
 */
export function registerAuditHook(
  app: FastifyInstance,
  d: { store: Store; metrics: GatewayMetrics; now: () => Date },
) {
  app.addHook('onSend', async (req, reply, payload) => {
    const spec = req.routeOptions.config?.audit;
    const principal = req.principal;
    // Calls refused by a rate limit are counted (shipsync_gateway_rate_limited_total), not written, so a
    // principal flooding the API cannot flood the audit trail too.
    if (!spec || !principal || req.rateLimited) return payload;
    let body: unknown;
    if (typeof payload === 'string') {
      try {
        body = JSON.parse(payload);
      } catch {
        body = undefined;
      }
    }
    const status = reply.statusCode;
    const code = (body as { code?: unknown } | undefined)?.code;
    const outcome = status < 400 ? 'ok' : typeof code === 'string' ? code : `HTTP_${status}`;
    const params = (req.params ?? {}) as { id?: unknown };
    // Shipment ids are strings; dead-letter ids arrive as numbers once the schema has coerced them.
    const id = typeof params.id === 'string' || typeof params.id === 'number' ? String(params.id) : undefined;
    const onShipment = req.routeOptions.url?.startsWith('/v1/shipments/') ?? false;
    let detail: Record<string, unknown> | undefined;
    try {
      detail = spec.detail?.(req, body);
    } catch {
      detail = undefined;
    }
    const replayed = reply.getHeader('idempotent-replayed') === 'true';
    try {
      await d.store.audit.append({
        at: d.now().toISOString(),
        principalId: principal.id,
        principalKind: principal.kind,
        ...(req.actingRole ? { role: req.actingRole } : {}),
        action: spec.action,
        method: req.method,
        route: `${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]}`,
        ...(onShipment && id ? { shipmentId: normalizeShipmentId(id) ?? id.slice(0, 60) } : {}),
        ...(!onShipment && id ? { target: id.slice(0, 60) } : {}),
        ...(headerValue(req.headers['idempotency-key'])
          ? { idempotencyKey: headerValue(req.headers['idempotency-key']) }
          : {}),
        statusCode: status,
        outcome,
        ...(detail || replayed ? { detail: { ...detail, ...(replayed ? { replayed: true } : {}) } } : {}),
      });
    } catch (err) {
      d.metrics.auditWriteFailures.inc();
      req.log.error(
        { err: errorText(err), action: spec.action, principal: principal.id, status },
        'audit row could not be written',
      );
    }
    return payload;
  });
}
