import type { Client } from '@temporalio/client';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Store } from '../storage/store.js';
import type { Forwarder } from './forwarder.js';
import type { GatewayMetrics } from './metrics.js';
import { withTemporalDeadline } from './temporal.js';

/** How long a readiness answer about Temporal is reused, so probes do not hammer the frontend. */
const TEMPORAL_PROBE_CACHE_MS = 2_000;

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
  },
) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  let temporalProbe: { at: number; ok: boolean } | undefined;

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
          'Readiness: 200 while the inbox database answers (Temporal reachability is reported, not required)',
        tags: ['operations'],
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_req, reply) => {
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
