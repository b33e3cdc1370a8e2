import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../platform/config.js';
import type { EventSource } from '../storage/store.js';
import { GatewayError } from './errors.js';
import type { GatewayMetrics } from './metrics.js';

/** Which limit refused a request: the client address on /v1, the principal on /v1, or the webhook source. */
export type RateLimitScope = 'ip' | 'principal' | 'source';

/** The limits, each in requests per window; 0 turns one off. */
export interface RateLimits {
  windowMs: number;
  apiPerIp: number;
  apiPerPrincipal: number;
  webhooksPerSource: number;
}

/** The limits a configuration sets. */
export function rateLimitsFromConfig(config: Config): RateLimits {
  return {
    windowMs: config.SHIPSYNC_RATE_LIMIT_WINDOW_SECONDS * 1000,
    apiPerIp: config.SHIPSYNC_RATE_LIMIT_API_PER_IP,
    apiPerPrincipal: config.SHIPSYNC_RATE_LIMIT_API_PER_PRINCIPAL,
    webhooksPerSource: config.SHIPSYNC_RATE_LIMIT_WEBHOOKS_PER_SOURCE,
  };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The vendor a webhook route belongs to: its requests share that source's rate limit. */
    webhookSource?: EventSource;
  }
  interface FastifyRequest {
    /** Set when a rate limit refused the request (the audit hook does not record such calls). */
    rateLimited?: RateLimitScope;
  }
}

/** Keys the limiter counters are kept for (least recently seen dropped first): addresses, principals. */
const COUNTERS_KEPT = 20_000;

type Limiter = (req: FastifyRequest) => Promise<
  | { isAllowed: true; key: string }
  | {
      isAllowed: false;
      key: string;
      max: number;
      remaining: number;
      ttlInSeconds: number;
      isExceeded: boolean;
    }
>;

const WHAT: Record<RateLimitScope, string> = {
  ip: 'from this client address',
  principal: 'of this principal',
  source: 'of this webhook source',
};

/**
 * Rate limits with @fastify/rate-limit's counters (in memory, per gateway process): every /v1 request is
 * counted per client address before its token is checked (so guessing tokens is limited too), each
 * authenticated /v1 request also per principal (after authentication, before its body is parsed), and
 * every webhook request per source (dispatch, erp, crm) before its signature is checked. A refused request
 * gets 429 RATE_LIMITED in the usual error body with Retry-After (seconds until the window ends) and is
 * counted in `shipsync_gateway_rate_limited_total`.
 */
export async function registerRateLimits(
  app: FastifyInstance,
  d: { limits: RateLimits; metrics: GatewayMetrics },
): Promise<void> {
  const { limits } = d;
  // global: false, so the plugin adds no hook of its own; the limiters below are called from ours.
  await app.register(rateLimit, { global: false, timeWindow: limits.windowMs });
  const make = (max: number, keyGenerator?: (req: FastifyRequest) => string): Limiter | undefined =>
    max > 0
      ? app.createRateLimit({
          max,
          timeWindow: limits.windowMs,
          // Each limiter keeps its own counters: an LRU of this many keys (read at run time, not in the types).
          ...({ cache: COUNTERS_KEPT } as object),
          ...(keyGenerator ? { keyGenerator } : {}),
        })
      : undefined;
  // The default key is the client address (IPv6 by /64), as fastify resolves it (trustProxy decides).
  const perIp = make(limits.apiPerIp);
  const perPrincipal = make(limits.apiPerPrincipal, (req) => req.principal?.id ?? '');
  const perSource = make(limits.webhooksPerSource, (req) => req.routeOptions.config?.webhookSource ?? '');

  async function check(
    limiter: Limiter | undefined,
    scope: RateLimitScope,
    req: FastifyRequest,
    reply: FastifyReply,
    source: string,
  ) {
    if (!limiter) return;
    const r = await limiter(req);
    if (r.isAllowed || !r.isExceeded) return;
    req.rateLimited = scope;
    d.metrics.rateLimited.inc({ scope, source });
    const retryAfterSeconds = Math.max(1, r.ttlInSeconds);
    void reply.header('x-ratelimit-limit', String(r.max));
    void reply.header('x-ratelimit-remaining', '0');
    void reply.header('x-ratelimit-reset', String(retryAfterSeconds));
    throw new GatewayError(
      'RATE_LIMITED',
      `more than ${r.max} requests in ${limits.windowMs / 1000} s ${WHAT[scope]}; retry in ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
  }

  app.addHook('onRequest', async (req, reply) => {
    const source = req.routeOptions.config?.webhookSource;
    if (source) return check(perSource, 'source', req, reply, source);
    if (req.url.startsWith('/v1/') || req.url === '/v1') return check(perIp, 'ip', req, reply, 'api');
  });
  // After the routes' own onRequest hooks (authentication) and before the body is parsed.
  app.addHook('preParsing', async (req, reply, payload) => {
    if (req.principal && req.url.startsWith('/v1/'))
      await check(perPrincipal, 'principal', req, reply, 'api');
    return payload;
  });
}
