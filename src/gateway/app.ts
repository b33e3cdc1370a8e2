import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Client } from '@temporalio/client';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, validatorCompiler } from 'fastify-type-provider-zod';
import { clockFromConfig, settingsFromConfig } from '../platform/shipments.js';
import {
  checkVendorAuth,
  vendorCredentialsFromConfig,
  type VendorAuthResult,
} from '../integrations/auth-check.js';
import { crmAdapterFromConfig } from '../integrations/crm/adapter.js';
import { createDispatchAdapter } from '../integrations/dispatch/adapter.js';
import { ConfigError, type Config } from '../platform/config.js';
import type { AppLogger } from '../platform/logger.js';
import { InboxWriter, type Store, type TelemetryBatcher } from '../storage/store.js';
import { registerApiRoutes, type ApiDeps } from './api-routes.js';
import { registerAuditHook } from './audit.js';
import { registerConsoleRoutes } from './console-routes.js';
import { ANY_PRINCIPAL, Principals } from './auth.js';
import { allDialects, type DialectOptions } from './dialects.js';
import { toErrorResponse } from './errors.js';
import { errorText, Forwarder, type ForwarderOptions } from './forwarder.js';
import { Intake } from './intake.js';
import { KpiMetrics } from './kpi-service.js';
import { GatewayMetrics } from './metrics.js';
import { OdsProjector, type OdsVendorReader } from './ods.js';
import { registerOpsRoutes } from './ops-routes.js';
import { registerReconciliationRoutes } from './reconciliation-routes.js';
import { rateLimitsFromConfig, registerRateLimits, type RateLimits } from './rate-limit.js';
import { TaskGuard, type TaskGuardOptions } from './task-guard.js';
import { deliverEvent, normalizeShipmentId, type DeliveryContext } from './temporal.js';
import { registerWebhookRoutes, type RawBodyRequest } from './webhook-routes.js';

/** Options of the gateway; only config, client, store and logger are required. */
export interface GatewayOptions extends DialectOptions {
  config: Config;
  /** A Temporal client; its connection may be lazy, so the gateway starts while Temporal is down. */
  client: Client;
  store: Store;
  logger: AppLogger;
  /** The gateway's clock (signature tolerance, receipt times, retries). */
  clock?: () => Date;
  /** Largest request body in bytes (default 256 KiB). */
  bodyLimit?: number;
  /** Inbox rows waiting for delivery above which webhooks get 429 INBOX_BACKLOG_FULL (default 50,000). */
  backlogLimit?: number;
  /** Forwarder tuning. */
  forwarder?: ForwarderOptions;
  /** How the forwarder checks dispatch task ids against the shipment's status query. */
  taskGuard?: TaskGuardOptions;
  /** Telemetry batching: rows per insert and longest wait. */
  telemetry?: { maxRows?: number; maxDelayMs?: number };
  /** How long a synchronous update may take (default 30 s). */
  updateTimeoutMs?: number;
  /** How long a status query or list may take (default 5 s). */
  queryTimeoutMs?: number;
  /** Collect process metrics (default true; benchmarks and tests running many gateways turn it off). */
  defaultMetrics?: boolean;
  /** ODS sweep interval in real ms (default SHIPSYNC_ODS_SWEEP_SECONDS); the sweep starts with `ods.start()`. */
  odsSweepMs?: number;
  /**
   * How the ODS reads a shipment's vendor records (dispatch tasks, CRM case tickets) at its close and on a
   * rebuild; by default the dispatch and CRM adapters on the configured URLs and credentials, `false` for none.
   */
  odsVendors?: OdsVendorReader | false;
  /**
   * Dispatch's force completion for `POST /v1/shipments/{id}/dispatch/complete`; by default the dispatch
   * adapter on the configured URL and key, `false` for none (the route then answers 503).
   */
  dispatch?: ApiDeps['dispatch'] | false;
  /** Rate limits; by default those of the configuration (SHIPSYNC_RATE_LIMIT_*). */
  rateLimits?: RateLimits;
  /** How /readyz checks the vendor credentials; by default those of the configuration, on each vendor. */
  vendorAuth?: () => Promise<VendorAuthResult[]>;
}

/** The certificate and key the gateway serves HTTPS with, read from the configured files; none for HTTP. */
export function gatewayTls(
  config: Pick<Config, 'SHIPSYNC_GATEWAY_TLS_CERT' | 'SHIPSYNC_GATEWAY_TLS_KEY'>,
): { cert: Buffer; key: Buffer } | undefined {
  const { SHIPSYNC_GATEWAY_TLS_CERT: cert, SHIPSYNC_GATEWAY_TLS_KEY: key } = config;
  if (cert === undefined || key === undefined) return undefined;
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

/** The gateway: a fastify instance plus the parts tests and the entry point drive. */
export type Gateway = FastifyInstance & {
  forwarder: Forwarder;
  telemetry: TelemetryBatcher;
  metrics: GatewayMetrics;
  intake: Intake;
  /** The operational data store's feed; `ods.start()` starts its periodic sweep (main.ts does). */
  ods: OdsProjector;
};

/** Default largest request body. */
export const DEFAULT_BODY_LIMIT = 256 * 1024;

/**
 * Builds the gateway: vendor webhooks into the durable inbox, the forwarder that delivers the inbox to
 * Temporal, telemetry batching, the synchronous API with its OpenAPI document, dead letters, health and
 * metrics. The forwarder is created but not started; call `gateway.forwarder.start()` (main.ts does).
 */
export async function createGateway(opts: GatewayOptions): Promise<Gateway> {
  const { config, client, store, logger } = opts;
  const now = opts.clock ?? (() => new Date());
  const bodyLimit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const metrics = new GatewayMetrics({ defaultMetrics: opts.defaultMetrics ?? true });
  const telemetry = store.telemetryBatcher({
    ...opts.telemetry,
    onError: (err, rows) =>
      logger.error({ err: errorText(err), rows }, 'telemetry batch could not be written'),
  });
  const clockAtStart = clockFromConfig(config);
  const delivery: DeliveryContext = {
    client,
    clock: () => clockAtStart,
    settings: settingsFromConfig(config),
    taskQueuePrefix: config.SHIPSYNC_TASK_QUEUE_PREFIX,
    taskGuard: new TaskGuard(client, opts.taskGuard),
    forwardedBefore: (workflowId) => store.inbox.forwardedBefore(workflowId),
  };
  const ods = new OdsProjector({
    client,
    store,
    logger: logger.child({ component: 'ods' }),
    clock: clockAtStart,
    taskQueuePrefix: config.SHIPSYNC_TASK_QUEUE_PREFIX,
    sweepMs: opts.odsSweepMs ?? config.SHIPSYNC_ODS_SWEEP_SECONDS * 1000,
    ...odsVendorsOption(
      opts.odsVendors === false ? undefined : (opts.odsVendors ?? odsVendorsFromConfig(config)),
    ),
  });
  const forwarder = new Forwarder(
    store,
    async (event) => {
      const result = await deliverEvent(delivery, event);
      // The read model follows what reached the workflow; its failures never fail a delivery.
      if ((result?.outcome ?? 'forwarded') === 'forwarded') await ods.onDelivered(event);
      return result;
    },
    logger.child({ component: 'forwarder' }),
    metrics,
    {
      now,
      ...opts.forwarder,
    },
  );
  const intake = new Intake({
    store,
    inbox: new InboxWriter(store.inbox),
    telemetry,
    forwarder,
    metrics,
    logger,
    now,
    backlogLimit: opts.backlogLimit ?? 50_000,
  });
  const dialects = allDialects(config, opts);
  if (!config.SHIPSYNC_PRINCIPALS)
    throw new ConfigError([
      { key: 'SHIPSYNC_PRINCIPALS', reason: 'missing: the gateway needs its principals' },
    ]);
  const principals = new Principals(config.SHIPSYNC_PRINCIPALS);
  const onUnknownToken = () => metrics.authRefusals.inc();
  // Production keeps the API description and the metrics behind a token (any principal, whatever its roles).
  const operationsAuth =
    config.SHIPSYNC_ENV === 'production' ? principals.require(ANY_PRINCIPAL, onUnknownToken) : undefined;

  const https = gatewayTls(config);
  const app: FastifyInstance = Fastify({
    // Behind a proxy the client address is the one the proxy appended to X-Forwarded-For: the proxy, the
    // direct peer, is the only hop trusted.
    ...(config.SHIPSYNC_GATEWAY_BEHIND_PROXY ? { trustProxy: (_addr: string, hop: number) => hop < 1 } : {}),
    loggerInstance: logger.child({ component: 'gateway' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit,
    requestTimeout: 60_000,
    routerOptions: { maxParamLength: 200 },
    // Node's own parser errors (bad request line, oversized headers) answer in the same error shape.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return;
      const status = (err as { code?: string }).code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      const body = JSON.stringify({ code: 'VALIDATION_FAILED', message: 'malformed HTTP request' });
      socket.end(
        `HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
    },
    // HTTPS when a certificate is configured (the http and https overloads differ only in the server type).
    ...((https ? { https: { ...https, minVersion: 'TLSv1.2' } } : {}) as object),
  }) as unknown as FastifyInstance;

  app.setValidatorCompiler(validatorCompiler);
  // Response schemas document the API; they are not enforced at run time, so no response can become a 500.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // Webhook signatures are computed over the exact bytes, so every JSON body is kept raw. Webhook bodies are
  // parsed by their handler only once the signature is verified; the API's are parsed here.
  app.removeAllContentTypeParsers();
  app.decorateRequest('rawBody', undefined);
  app.decorateRequest('jsonInvalid', false);
  app.decorateRequest('principal', undefined);
  app.decorateRequest('actingRole', undefined);
  app.decorateRequest('rateLimited', undefined);
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit }, (req, body, done) => {
    const r = req as RawBodyRequest;
    const raw = body as Buffer;
    r.rawBody = raw;
    if (raw.length === 0 || req.routeOptions.config?.rawBodyOnly) return done(null, undefined);
    try {
      done(null, JSON.parse(raw.toString('utf8')));
    } catch {
      r.jsonInvalid = true;
      done(null, undefined);
    }
  });
  // Routes with a body schema refuse bodies that are not JSON; webhooks decide after checking the signature.
  app.addHook('preValidation', async (req) => {
    if ((req as RawBodyRequest).jsonInvalid && req.url.startsWith('/v1/')) {
      throw Object.assign(new Error('body is not valid JSON'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY' });
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const r = toErrorResponse(err);
    const id = (req.params as { id?: unknown } | undefined)?.id;
    const shipmentId =
      typeof id === 'string' && req.url.startsWith('/v1/shipments/') ? normalizeShipmentId(id) : undefined;
    if (r.status >= 500) {
      const fields = { err: errorText(err), url: req.url.slice(0, 200), code: r.body.code, shipmentId };
      if (r.status === 503) req.log.warn(fields, 'request answered 503');
      else req.log.error(fields, 'request failed');
    }
    if (r.retryAfterSeconds) void reply.header('retry-after', String(r.retryAfterSeconds));
    return reply.status(r.status).type('application/json; charset=utf-8').send(r.body);
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({
      code: 'ROUTE_NOT_FOUND',
      message: `no route ${req.method} ${req.url.split('?')[0]?.slice(0, 200) ?? ''}`,
    }),
  );
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpDuration.observe(
      {
        route: req.routeOptions.url ?? 'unmatched',
        method: req.method,
        status: `${Math.floor(reply.statusCode / 100)}xx`,
      },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'shipsync gateway',
        version: '1',
        description:
          'Vendor webhooks in (durable inbox to Temporal), the synchronous shipment API, dead letters. Every 4xx body is {code, message, field?, eventId?}.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      tags: [{ name: 'audit', description: 'The append-only audit trail (auditor, admin)' }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    ...(operationsAuth
      ? {
          uiHooks: {
            onRequest: (req: FastifyRequest, _reply: unknown, done: (err?: Error) => void) => {
              operationsAuth(req).then(() => done(), done);
            },
          },
        }
      : {}),
  });
  registerAuditHook(app, { store, metrics, now });
  await registerRateLimits(app, { limits: opts.rateLimits ?? rateLimitsFromConfig(config), metrics });

  registerWebhookRoutes(app, intake, dialects);
  registerApiRoutes(app, {
    client,
    store,
    principals,
    onUnknownToken,
    intake,
    dialects,
    now,
    updateTimeoutMs: opts.updateTimeoutMs ?? 30_000,
    queryTimeoutMs: opts.queryTimeoutMs ?? 5_000,
    ...optional(
      'dispatch',
      opts.dispatch === false ? undefined : (opts.dispatch ?? dispatchFromConfig(config)),
    ),
  });
  registerReconciliationRoutes(app, { store, principals, onUnknownToken });
  const kpiMetrics = new KpiMetrics(metrics.registry, store, () => ods.now().slice(0, 10));
  metrics.odsQueriesFrom(ods.stats.queries);
  const vendors = vendorCredentialsFromConfig(config);
  registerOpsRoutes(app, {
    client,
    store,
    metrics,
    forwarder,
    metricsAuth: operationsAuth,
    beforeScrape: () => kpiMetrics.refresh(),
    vendorAuth: opts.vendorAuth ?? (() => checkVendorAuth(vendors, { timeoutMs: 2_500 })),
  });
  registerConsoleRoutes(app, {
    store,
    principals,
    onUnknownToken,
    projector: ods,
    metrics,
    backlog: () => forwarder.backlog,
    temporalUi: {
      url: config.SHIPSYNC_TEMPORAL_UI_URL ?? `http://127.0.0.1:${config.SHIPSYNC_TEMPORAL_UI_PORT}`,
      namespace: config.SHIPSYNC_TEMPORAL_NAMESPACE,
    },
  });

  app.addHook('onClose', async () => {
    await forwarder.stop();
    await ods.stop();
    await telemetry.close();
  });
  return Object.assign(app, { forwarder, telemetry, metrics, intake, ods });
}

/**
 * The ODS's reader of vendor records: the dispatch and CRM adapters on the configured URLs and credentials;
 * undefined when this gateway has no dispatch API key (the ODS then knows what the workflow and webhooks say).
 */
export function odsVendorsFromConfig(config: Config): OdsVendorReader | undefined {
  const dispatch = dispatchFromConfig(config);
  if (!dispatch) return undefined;
  // The workers' adapter and settings: the read model's reads gather in the same Zendesk window.
  const tickets = crmAdapterFromConfig(config);
  return {
    tasksOfShipment: (id) => dispatch.tasksOfShipment(id),
    caseTicketsOf: (id, known) => tickets.caseTicketsOf(id, known),
  };
}

/** The dispatch adapter on the configured URL and API key; undefined when this gateway has no key. */
function dispatchFromConfig(config: Config) {
  if (!config.SHIPSYNC_DISPATCH_API_KEY) return undefined;
  return createDispatchAdapter({
    baseUrl: config.SHIPSYNC_DISPATCH_URL,
    apiKey: config.SHIPSYNC_DISPATCH_API_KEY,
  });
}

/** `{ [key]: value }` when the value is set, else nothing (for options under exactOptionalPropertyTypes). */
const optional = <K extends string, V>(key: K, value: V | undefined) =>
  (value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;

const odsVendorsOption = (vendors: OdsVendorReader | undefined) => optional('vendors', vendors);
