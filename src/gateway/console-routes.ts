import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { caseAgeMinutes, EXCEPTION_SLA_MINUTES, slaState } from '../domain/kpis.js';
import { ShipmentPhase } from '../domain/model.js';
import type { Store } from '../storage/store.js';
import { ADMIN_ROLES, READ_ROLES, type Principals } from './auth.js';
import { GatewayError } from './errors.js';
import type { GatewayMetrics } from './metrics.js';
import { kpisOfDays, lastDays } from './kpi-service.js';
import type { OdsProjector } from './ods.js';
import { errorResponses } from './schemas.js';
import { normalizeShipmentId } from './temporal.js';

/** True when this module runs compiled from `dist/src/`. */
const COMPILED = import.meta.url.endsWith('.js');
/** The console's static files (HTML, JS, CSS, no build step): `console/` at the repository root. */
export const CONSOLE_DIR = fileURLToPath(
  new URL(COMPILED ? '../../../console/' : '../../console/', import.meta.url),
);
/** chart.js's UMD build, served from node_modules (no CDN). */
const CHART_JS = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');

const STATIC: Record<string, { file: string; type: string }> = {
  '': { file: join(CONSOLE_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  'app.js': { file: join(CONSOLE_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  'app.css': { file: join(CONSOLE_DIR, 'app.css'), type: 'text/css; charset=utf-8' },
  'vendor/chart.umd.min.js': { file: CHART_JS, type: 'text/javascript; charset=utf-8' },
};

/** What the console routes need. */
export interface ConsoleDeps {
  store: Store;
  principals: Principals;
  onUnknownToken: () => void;
  projector: OdsProjector;
  metrics: GatewayMetrics;
  /** Inbox rows waiting for delivery. */
  backlog: () => number;
  /** Base URL of the Temporal Web UI and the namespace, for links to a shipment's run. */
  temporalUi: { url: string; namespace: string };
}

const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD');
const TodayQuery = z.object({
  day: Day.optional(),
  trendDays: z.coerce.number().int().min(1).max(31).default(7),
});
const ShipmentsQuery = z.object({
  day: Day.optional(),
  phase: ShipmentPhase.optional(),
  region: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/)
    .optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(200),
});
const IdParams = z.object({ id: z.string().min(1).max(200) });
const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  after: z.string().max(600).optional(),
});

/** A keyset cursor: the sort key and id of the last row of a page, opaque to the client. */
function cursorOf(key: string, id: string): string {
  return Buffer.from(JSON.stringify([key, id])).toString('base64url');
}

function fromCursor(cursor: string | undefined): [string, string] | undefined {
  if (cursor === undefined) return undefined;
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string')
      return [v[0], v[1]];
  } catch {
    /* reported below */
  }
  throw new GatewayError('VALIDATION_FAILED', 'invalid cursor', { field: 'query.after' });
}

/** Each exception kind's SLA cutoff at `now`: a case still open that opened before it breached its SLA. */
function slaCutoffs(now: string): { byKind: Record<string, string>; fallback: string } {
  const before = (minutes: number) => new Date(Date.parse(now) - minutes * 60_000).toISOString();
  return {
    byKind: Object.fromEntries(Object.entries(EXCEPTION_SLA_MINUTES).map(([k, m]) => [k, before(m)])),
    fallback: before(240),
  };
}
/** The console's answers are documented in docs/console.md; here only their error shapes are typed. */
const Answer = z.record(z.string(), z.unknown());

/**
 * The ops console: its static files at /ops (no token needed to load them; every figure comes from the
 * JSON routes under /v1/ops, which ask for a bearer token and a role), and an admin-only ODS rebuild.
 */
export function registerConsoleRoutes(root: FastifyInstance, d: ConsoleDeps) {
  const app = root.withTypeProvider<ZodTypeProvider>();
  const security = [{ bearer: [] }];
  const read = d.principals.require(READ_ROLES, d.onUnknownToken);
  const tags = ['ops console'];

  // A shipment an operator just changed through the API (reschedule, approval, ...) is projected again now.
  root.addHook('onResponse', async (req, reply) => {
    const url = req.routeOptions.url ?? '';
    if (req.method !== 'POST' || reply.statusCode !== 200 || !url.startsWith('/v1/shipments/:id/')) return;
    const raw = (req.params as { id?: unknown }).id;
    const id = typeof raw === 'string' ? normalizeShipmentId(raw) : undefined;
    if (id) d.projector.schedule(id);
  });

  root.get('/ops', { schema: { hide: true } }, (_req, reply) => reply.redirect('/ops/'));
  root.get('/ops/*', { schema: { hide: true } }, async (req, reply) => {
    const path = (req.params as { '*': string })['*'];
    const asset = Object.hasOwn(STATIC, path) ? STATIC[path] : undefined;
    if (!asset) throw new GatewayError('ROUTE_NOT_FOUND', `no console file ${path.slice(0, 100)}`);
    const body = await readFile(asset.file);
    return reply
      .type(asset.type)
      .header('cache-control', path.startsWith('vendor/') ? 'public, max-age=86400' : 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header(
        'content-security-policy',
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'",
      )
      .send(body);
  });

  app.get(
    '/v1/ops/me',
    {
      onRequest: read,
      schema: { summary: 'Who the token belongs to, and the console settings', tags, security },
    },
    async (req) => ({
      principal: req.principal?.id,
      kind: req.principal?.kind,
      roles: req.principal?.roles ?? [],
      now: d.projector.now(),
      temporalUi: d.temporalUi,
    }),
  );

  app.get(
    '/v1/ops/today',
    {
      onRequest: read,
      schema: {
        summary: "A day's shipments by phase and region, its KPIs, and the KPI trend of the days before",
        tags,
        security,
        querystring: TodayQuery,
        response: { 200: Answer, ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const now = d.projector.now();
      const day = req.query.day ?? now.slice(0, 10);
      const trendDays = lastDays(day, req.query.trendDays);
      const sla = slaCutoffs(now);
      const [counts, kpis, openCases] = await Promise.all([
        d.store.ods.phaseCounts([day]),
        kpisOfDays(d.store, trendDays),
        d.store.ods.openCaseCounts(sla.byKind, sla.fallback),
      ]);
      const today = kpis.at(-1);
      return {
        day,
        now,
        counts: counts.map(({ region, phase, n }) => ({ region, phase, n })),
        total: counts.reduce((a, c) => a + c.n, 0),
        openExceptions: openCases.reduce((a, c) => a + c.open, 0),
        breached: openCases.reduce((a, c) => a + c.breached, 0),
        backlog: d.backlog(),
        kpis: today,
        trend: kpis.map((k) => ({
          day: k.day,
          onTime: k.all.onTime.rate,
          etaP50: k.all.etaErrorMinutes.p50,
          etaP90: k.all.etaErrorMinutes.p90,
          exceptionsOpened: k.all.exceptions.reduce((a, e) => a + e.opened, 0),
        })),
      };
    },
  );

  app.get(
    '/v1/ops/exceptions',
    {
      onRequest: read,
      schema: {
        summary: 'Open cases, oldest first, with age and SLA state: one page, and the counts by kind',
        tags,
        security,
        querystring: PageQuery,
      },
    },
    async (req) => {
      const now = d.projector.now();
      const after = fromCursor(req.query.after);
      const sla = slaCutoffs(now);
      const [counts, page] = await Promise.all([
        d.store.ods.openCaseCounts(sla.byKind, sla.fallback),
        d.store.ods.openCasesPage({
          limit: req.query.limit,
          ...(after ? { after: { openedAt: after[0], caseKey: after[1] } } : {}),
        }),
      ]);
      const last = page.at(-1);
      return {
        now,
        slaMinutes: EXCEPTION_SLA_MINUTES,
        total: counts.reduce((a, c) => a + c.open, 0),
        breached: counts.reduce((a, c) => a + c.breached, 0),
        byKind: Object.fromEntries(counts.map((c) => [c.kind, c.open])),
        cases: page.map((c) => ({
          ...c,
          ageMinutes: Math.round(caseAgeMinutes(c, now)),
          sla: slaState(c, now),
        })),
        next: last && page.length === req.query.limit ? cursorOf(last.openedAt, last.caseKey) : null,
      };
    },
  );

  app.get(
    '/v1/ops/shipments',
    {
      onRequest: read,
      schema: {
        summary: 'Shipments of the ODS by day, phase and region',
        tags,
        security,
        querystring: ShipmentsQuery,
      },
    },
    async (req) => ({
      shipments: await d.store.ods.shipments({
        ...(req.query.day ? { days: [req.query.day] } : {}),
        ...(req.query.phase ? { phases: [req.query.phase] } : {}),
        ...(req.query.region ? { region: req.query.region } : {}),
        limit: req.query.limit,
      }),
    }),
  );

  app.get(
    '/v1/ops/shipments/:id',
    {
      onRequest: read,
      schema: {
        summary: "A shipment's read model: row, stops, cases, timeline and its Temporal Web UI link",
        tags,
        security,
        params: IdParams,
        response: { 200: Answer, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const id = normalizeShipmentId(req.params.id);
      if (!id) throw new GatewayError('VALIDATION_FAILED', 'invalid shipment id', { field: 'params.id' });
      const shipment = await d.store.ods.shipment(id);
      if (!shipment)
        throw new GatewayError('SHIPMENT_NOT_FOUND', `${id} is not in the operational data store`);
      const [stops, cases, events] = await Promise.all([
        d.store.ods.stops({ shipmentId: id }),
        d.store.ods.cases({ shipmentId: id }),
        d.store.ods.events(id),
      ]);
      const ui = d.temporalUi.url.replace(/\/$/, '');
      return {
        shipment,
        stops,
        cases,
        events,
        temporalUrl: `${ui}/namespaces/${encodeURIComponent(d.temporalUi.namespace)}/workflows/${encodeURIComponent(id)}`,
      };
    },
  );

  app.get(
    '/v1/ops/invoice-ready',
    {
      onRequest: read,
      schema: {
        summary:
          'Delivered shipments waiting for finance approval or the billing post: one page, oldest first',
        tags,
        security,
        querystring: PageQuery,
      },
    },
    async (req) => {
      const after = fromCursor(req.query.after);
      const [counts, shipments] = await Promise.all([
        d.store.ods.invoiceReadyCounts(),
        d.store.ods.invoiceReadyPage({
          limit: req.query.limit,
          ...(after ? { after: { deliveredAt: after[0], shipmentId: after[1] } } : {}),
        }),
      ]);
      const last = shipments.at(-1);
      return {
        ...counts,
        shipments,
        next:
          last && shipments.length === req.query.limit
            ? cursorOf(last.deliveredAt ?? '', last.shipmentId)
            : null,
      };
    },
  );

  app.get(
    '/v1/ops/health',
    {
      onRequest: read,
      schema: {
        summary: "Vendors' webhook health, the inbox backlog, dead letters and the read model's feed",
        tags,
        security,
      },
    },
    async () => {
      const [inbox, deadLetters, shipments, events] = await Promise.all([
        d.store.ods.inboxBySource(),
        d.store.ods.deadLetterCounts(),
        d.store.ods.count(),
        d.metrics.events.get(),
      ]);
      const sources = [...new Set([...inbox.map((r) => r.source), ...Object.keys(deadLetters)])].sort();
      return {
        backlog: d.backlog(),
        vendors: sources.map((source) => {
          const rows = inbox.filter((r) => r.source === source);
          const last =
            rows
              .map((r) => r.lastReceivedAt)
              .filter((v): v is string => !!v)
              .sort()
              .at(-1) ?? null;
          const byOutcome: Record<string, number> = {};
          for (const v of events.values)
            if (v.labels.source === source) {
              const key = [v.labels.outcome, v.labels.code]
                .filter((x) => x !== undefined && x !== '')
                .join(':');
              byOutcome[key] = (byOutcome[key] ?? 0) + v.value;
            }
          return {
            source,
            pending: rows.filter((r) => r.status === 'pending').reduce((a, r) => a + r.n, 0),
            delivered: rows.filter((r) => r.status === 'delivered').reduce((a, r) => a + r.n, 0),
            dead: rows.filter((r) => r.status === 'dead').reduce((a, r) => a + r.n, 0),
            deadLettersOpen: deadLetters[source] ?? 0,
            lastReceivedAt: last,
            webhooksSinceStart: byOutcome,
          };
        }),
        ods: { shipments, ...d.projector.stats },
      };
    },
  );

  app.post(
    '/v1/ops/ods/rebuild',
    {
      onRequest: d.principals.require(ADMIN_ROLES, d.onUnknownToken),
      config: {
        audit: {
          action: 'ods.rebuild',
          detail: (_req, response) =>
            response && typeof response === 'object' ? (response as Record<string, unknown>) : {},
        },
      },
      schema: {
        summary:
          "Rebuild the operational data store from Temporal visibility, each shipment's status query and the inbox's delivered events",
        tags,
        security,
        response: { 200: Answer, ...errorResponses(401, 403) },
      },
    },
    async () => d.projector.rebuild(),
  );
}
