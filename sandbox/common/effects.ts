import type { FastifyInstance } from 'fastify';

/** One externally visible effect a sandbox performed, counted by its idempotency key. */
export interface Effect {
  kind: string;
  key: string;
  count: number;
  entityId: string;
  firstAt: string;
  lastAt: string;
  detail: Record<string, unknown>;
}

/**
 * Every effect a sandbox performed (a posted milestone, a created ticket, a billing document), keyed by
 * kind and idempotency key. `count` is how many times the effect itself happened, not how many requests
 * asked for it: an idempotent replay does not raise it, so count > 1 means a duplicate effect.
 */
export class EffectLog {
  private readonly effects = new Map<string, Effect>();

  /** Records that an effect happened once more. */
  record(kind: string, key: string, entityId: string, detail: Record<string, unknown> = {}): Effect {
    const id = `${kind}\u0000${key}`;
    const now = new Date().toISOString();
    const existing = this.effects.get(id);
    if (existing) {
      existing.count += 1;
      existing.lastAt = now;
      return existing;
    }
    const effect: Effect = { kind, key, count: 1, entityId, firstAt: now, lastAt: now, detail };
    this.effects.set(id, effect);
    return effect;
  }

  /** A copy of one effect as it stands now, or undefined when it never happened. */
  snapshot(kind: string, key: string): Effect | undefined {
    const existing = this.effects.get(`${kind}\u0000${key}`);
    return existing ? { ...existing, detail: { ...existing.detail } } : undefined;
  }

  /** Puts an effect back as a snapshot had it (forgets it when the snapshot is undefined): an undone write. */
  restore(kind: string, key: string, snapshot: Effect | undefined) {
    const id = `${kind}\u0000${key}`;
    if (snapshot) this.effects.set(id, snapshot);
    else this.effects.delete(id);
  }

  /** Effects filtered by kind and/or entity. */
  list(filter: { kind?: string; entityId?: string } = {}): Effect[] {
    return [...this.effects.values()].filter(
      (e) => (!filter.kind || e.kind === filter.kind) && (!filter.entityId || e.entityId === filter.entityId),
    );
  }

  /** Registers GET /__sandbox/effects?kind=&entityId= (read-only inspection). */
  install(app: FastifyInstance) {
    app.get<{ Querystring: { kind?: string; entityId?: string } }>('/__sandbox/effects', async (req) => {
      const effects = this.list({ kind: req.query.kind, entityId: req.query.entityId });
      return { effects, duplicates: effects.filter((e) => e.count > 1).length };
    });
  }
}
