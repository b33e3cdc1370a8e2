import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { VendorAuthResult } from '../integrations/auth-check.js';
import type { Store } from '../storage/store.js';
import type { Forwarder } from './forwarder.js';
import type { GatewayMetrics } from './metrics.js';
import { withTemporalDeadline } from './temporal.js';

/** How long a readiness answer about Temporal is reused, so probes do not hammer the frontend. */
const TEMPORAL_PROBE_CACHE_MS = 2_000;
/** How long the vendors' answers about our credentials are reused: their auth endpoints are metered too. */
const VENDOR_PROBE_CACHE_MS = 60_000;

const VendorAuth = z
  .enum(['ok', 'failed', 'unreachable', 'unconfigured', 'checking'])
  .describe(
    "the vendor's answer to our credential on its cheap auth endpoint (Onfleet GET /auth/test, Zendesk GET /users/me, SAP CSRF token fetch); unconfigured when this gateway holds no credential for it",
  );

async function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const Readiness = z.object({
  ready: z.boolean(),
  store: z.enum(['ok', 'unreachable']),
  temporal: z
    .enum(['ok', 'unreachable'])
    .describe('reported only: the gateway keeps accepting webhooks while Temporal is down'),
  backlog: z.number().int(),
  forwarder: z.enum(['running', 'stopped']),
  vendors: z
    .object({ erp: VendorAuth, dispatch: VendorAuth, crm: VendorAuth })
    .optional()
    .describe(
      'reported only, checked in the background at most once a minute (checking until the first check ends): readiness does not depend on the vendors',
    ),
});

/** Registers /healthz (process up), /readyz (store reachable; Temporal reported) and /metrics. */
export function registerOpsRoutes(
  root: FastifyInstance,
  d: {
    client: Client;
    store: Store;
    metrics: GatewayMetrics;
    forwarder: Forwarder;
    /** In production: the hook that asks /metrics for a bearer token. */
    metricsAuth?: (req: FastifyRequest) => Promise<void>;
    /** Recomputes gauges that are derived from the store (the business KPIs) before a scrape. */
    beforeScrape?: () => Promise<void>;
    /** Checks the vendor credentials this gateway holds (reported by /readyz). */
    vendorAuth?: () => Promise<VendorAuthResult[]>;
  },
) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  let temporalProbe: { at: number; ok: boolean } | undefined;
  type VendorStates = Record<VendorAuthResult['vendor'], z.infer<typeof VendorAuth>>;
  let vendorProbe: { at: number; states: VendorStates } | undefined;
  let vendorCheck: Promise<void> | undefined;

  /**
   * The vendors' last answers, never waited for (a readiness probe must answer at once): a check starts in
   * the background when they are older than the cache time (one at a time); `checking` until the first ends.
   */
  function vendorStates(): VendorStates | undefined {
    const check = d.vendorAuth;
    if (!check) return undefined;
    if (!vendorCheck && (!vendorProbe || Date.now() - vendorProbe.at >= VENDOR_PROBE_CACHE_MS)) {
      vendorCheck = check()
        .then((results) => {
          const states: VendorStates = { erp: 'unconfigured', dispatch: 'unconfigured', crm: 'unconfigured' };
          for (const r of results) states[r.vendor] = r.status;
          vendorProbe = { at: Date.now(), states };
        })
        .catch(() => undefined)
        .finally(() => {
          vendorCheck = undefined;
        });
    }
    return vendorProbe?.states ?? { erp: 'checking', dispatch: 'checking', crm: 'checking' };
  }

  async function temporalReachable(): Promise<boolean> {
    if (temporalProbe && Date.now() - temporalProbe.at < TEMPORAL_PROBE_CACHE_MS) return temporalProbe.ok;
    let ok: boolean;
    try {
      await withTemporalDeadline(d.client, () => d.client.workflowService.getSystemInfo({}), 1_000);
      ok = true;
    } catch {
      ok = false;
    }
    temporalProbe = { at: Date.now(), ok };
    return ok;
  }

  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process answers',
        tags: ['operations'],
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary:
          "Readiness: 200 while the inbox database answers (Temporal reachability and the vendors' answers to our credentials are reported, not required)",
        tags: ['operations'],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_req, reply) => {
      const vendors = vendorStates();
      const [storeOk, temporalOk] = await Promise.all([
        within(2_000, d.store.ping()).then(
          () => true,
          () => false,
        ),
        temporalReachable(),
      ]);
      return reply.status(storeOk ? 200 : 503).send({
        ready: storeOk,
        store: storeOk ? 'ok' : 'unreachable',
        temporal: temporalOk ? 'ok' : 'unreachable',
        backlog: d.forwarder.backlog,
        forwarder: d.forwarder.started ? 'running' : 'stopped',
        ...(vendors ? { vendors } : {}),
      });
    },
  );

  app.get(
    '/metrics',
    {
      ...(d.metricsAuth ? { onRequest: d.metricsAuth } : {}),
      schema: {
        summary: "Prometheus metrics (production: any principal's bearer token)",
        tags: ['operations'],
        hide: false,
      },
    },
    async (_req, reply) => {
      await d.forwarder.refreshBacklog().catch(() => undefined);
      await d
        .beforeScrape?.()
        .catch((err: unknown) => _req.log.warn({ err: String(err) }, 'KPI gauges not refreshed'));
      return reply.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
    },
  );
}
