import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { SeededRandom } from './rng.js';

/** Fault injection settings of one sandbox; set at start from config or at run time by POST /__sandbox/faults. */
export const FaultSettings = z.object({
  /** Share of API requests answered with a 5xx. */
  errorRate: z.number().min(0).max(1).default(0),
  /** Extra latency added to each API request, in ms. */
  latencyMs: z.number().int().min(0).max(60_000).default(0),
  /** While set and in the future, every API request gets 503 (an outage window, epoch ms). */
  outageUntilMs: z.number().int().nonnegative().default(0),
  /** While set and in the future, every API request gets 429 with Retry-After (epoch ms). */
  rateLimitStormUntilMs: z.number().int().nonnegative().default(0),
  /** Share of outgoing webhooks sent more than once. */
  webhookDuplicateRate: z.number().min(0).max(1).default(0),
  /** Copies sent of a duplicated webhook, in total. */
  webhookDuplicateCopies: z.number().int().min(2).max(5).default(3),
  /** Share of outgoing webhooks held back and sent after a later one. */
  webhookReorderRate: z.number().min(0).max(1).default(0),
});
export type FaultSettings = z.infer<typeof FaultSettings>;

/** Vendor-specific shape of an injected error response. */
export interface FaultResponder {
  unavailable(reply: FastifyReply): FastifyReply;
  rateLimited(reply: FastifyReply, retryAfterSeconds: number): FastifyReply;
}

/**
 * The API requests a sandbox received, as the vendor meters them: one per HTTP request, a bulk call
 * included, by route template (`POST /api/v2/tickets/create_many.json`).
 */
export interface RequestCounts {
  total: number;
  byRoute: Record<string, number>;
}

/** Holds a sandbox's faults and decides, with a seeded generator, which requests they hit. */
export class FaultInjector {
  settings: FaultSettings;
  /** API requests received since the start (read by `GET /__sandbox/requests`). */
  readonly requests: RequestCounts = { total: 0, byRoute: {} };
  private readonly rng: SeededRandom;
  constructor(initial: Partial<FaultSettings> = {}, seed = 1) {
    this.settings = FaultSettings.parse(initial);
    this.rng = new SeededRandom(seed ^ 0x5eed);
  }
  /** Replaces some settings; returns the full settings in force. */
  update(patch: Partial<FaultSettings>): FaultSettings {
    this.settings = FaultSettings.parse({ ...this.settings, ...patch });
    return this.settings;
  }
  /** True when an outgoing webhook should be sent several times. */
  duplicateWebhook(): boolean {
    return this.rng.chance(this.settings.webhookDuplicateRate);
  }
  /** True when an outgoing webhook should be held back behind the next one. */
  reorderWebhook(): boolean {
    return this.rng.chance(this.settings.webhookReorderRate);
  }
  /**
   * Registers the fault hook on API routes, the /__sandbox/faults endpoints and /__sandbox/requests (the
   * request counts, with what `moreCounts` adds for the vendor).
   */
  install(
    app: FastifyInstance,
    responder: FaultResponder,
    isApiRoute: (url: string) => boolean,
    moreCounts?: () => object,
    routeOf?: (req: FastifyRequest) => string,
  ) {
    app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (!isApiRoute(req.url)) return;
      // Zendesk-style `.json` twins of a route count as the route.
      const route =
        routeOf?.(req) ??
        `${req.method} ${(req.routeOptions.url ?? req.url.split('?')[0] ?? '').replace(/\.json$/, '')}`;
      this.requests.total++;
      this.requests.byRoute[route] = (this.requests.byRoute[route] ?? 0) + 1;
      const s = this.settings;
      if (s.latencyMs > 0) await sleep(s.latencyMs);
      const now = Date.now();
      if (s.outageUntilMs > now) return responder.unavailable(reply);
      if (s.rateLimitStormUntilMs > now) {
        return responder.rateLimited(reply, Math.max(1, Math.ceil((s.rateLimitStormUntilMs - now) / 1000)));
      }
      if (s.errorRate > 0 && this.rng.chance(s.errorRate)) return responder.unavailable(reply);
    });
    app.get('/__sandbox/faults', async () => this.settings);
    app.get('/__sandbox/requests', async () => ({ ...this.requests, ...moreCounts?.() }));
    app.post('/__sandbox/faults', async (req, reply) => {
      const parsed = FaultSettings.partial()
        .strict()
        .safeParse(req.body ?? {});
      if (!parsed.success) {
        return reply.code(400).send({ error: 'invalid fault settings', issues: parsed.error.issues });
      }
      return this.update(parsed.data);
    });
  }
}
