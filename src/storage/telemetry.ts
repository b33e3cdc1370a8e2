import { plainColumns, type AtRestCipher } from './at-rest.js';
import type { Db } from './db.js';
import { toIso } from './db.js';

/** One telemetry sample: a GPS position and/or a small ETA drift of a driver. */
export interface TelemetryPosition {
  driverId: string;
  shipmentId?: string;
  taskId?: string;
  lat?: number;
  lng?: number;
  driftSeconds?: number;
  at: string;
}

/** Rows per INSERT statement; keeps PostgreSQL under its 65535 bind-parameter limit. */
const ROWS_PER_STATEMENT = 500;

/** The operational data store for driver telemetry: written in batches, never part of a workflow. */
export class TelemetryRepository {
  /**
   * `cipher`, when active, keeps a sample's position and drift sealed in the `sealed` column instead of the
   * plain `lat`, `lng` and `drift_seconds` (where a driver was is personal data); plain by default.
   */
  constructor(
    private readonly db: Db,
    private readonly cipher: AtRestCipher = plainColumns(),
  ) {}

  /** Inserts many samples with as few statements as possible. */
  async insertMany(rows: readonly TelemetryPosition[]): Promise<void> {
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      const chunk = rows.slice(i, i + ROWS_PER_STATEMENT);
      await this.db.kysely
        .insertInto('telemetry_positions')
        .values(
          chunk.map((r) => {
            const point = { lat: r.lat ?? null, lng: r.lng ?? null, drift_seconds: r.driftSeconds ?? null };
            const sealed = this.cipher.active
              ? this.cipher.seal(JSON.stringify(point), 'telemetry_positions.sealed')
              : null;
            return {
              driver_id: r.driverId,
              shipment_id: r.shipmentId ?? null,
              task_id: r.taskId ?? null,
              ...(sealed ? { lat: null, lng: null, drift_seconds: null } : point),
              sealed,
              at: r.at,
            };
          }),
        )
        .execute();
    }
  }

  /** Latest samples first, optionally of one driver or shipment. */
  async list(
    opts: { driverId?: string; shipmentId?: string; limit?: number } = {},
  ): Promise<TelemetryPosition[]> {
    let q = this.db.kysely
      .selectFrom('telemetry_positions')
      .selectAll()
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(opts.limit ?? 100);
    if (opts.driverId) q = q.where('driver_id', '=', opts.driverId);
    if (opts.shipmentId) q = q.where('shipment_id', '=', opts.shipmentId);
    return (await q.execute()).map((row) => {
      const r = row.sealed
        ? {
            ...row,
            ...(JSON.parse(this.cipher.open(row.sealed, 'telemetry_positions.sealed')) as {
              lat: number | null;
              lng: number | null;
              drift_seconds: number | null;
            }),
          }
        : row;
      return {
        driverId: r.driver_id,
        ...(r.shipment_id !== null ? { shipmentId: r.shipment_id } : {}),
        ...(r.task_id !== null ? { taskId: r.task_id } : {}),
        ...(r.lat !== null ? { lat: Number(r.lat) } : {}),
        ...(r.lng !== null ? { lng: Number(r.lng) } : {}),
        ...(r.drift_seconds !== null ? { driftSeconds: Number(r.drift_seconds) } : {}),
        at: toIso(r.at),
      };
    });
  }

  /** Deletes samples taken before the cut-off (the retention); returns how many went. */
  async purgeBefore(before: Date): Promise<number> {
    const res = await this.db.kysely
      .deleteFrom('telemetry_positions')
      .where('at', '<', before.toISOString())
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }

  /** Number of stored samples. */
  async count(): Promise<number> {
    const r = await this.db.kysely
      .selectFrom('telemetry_positions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}

/** Options of a telemetry batcher. */
export interface TelemetryBatcherOptions {
  /** Flush once this many samples wait. */
  maxRows?: number;
  /** Flush at most this long after the first waiting sample arrived. */
  maxDelayMs?: number;
  /** Called when a flush fails; the samples of that flush are reported to their callers as failed. */
  onError?: (err: unknown, rows: number) => void;
}

interface Pending {
  row: TelemetryPosition;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Collects telemetry samples and writes them in one statement every `maxRows` samples or `maxDelayMs`.
 * `add` resolves once its sample is stored, so a webhook is answered 2xx only for telemetry that is durable.
 */
export class TelemetryBatcher {
  private pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly maxRows: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly repo: TelemetryRepository,
    private readonly opts: TelemetryBatcherOptions = {},
  ) {
    this.maxRows = opts.maxRows ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 100;
  }

  /** Queues a sample; resolves when it is stored, rejects when its batch could not be written. */
  add(row: TelemetryPosition): Promise<void> {
    if (this.closed) return Promise.reject(new Error('telemetry batcher is closed'));
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      if (this.pending.length >= this.maxRows) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.maxDelayMs);
    });
  }

  /** Samples waiting for the next flush. */
  get size(): number {
    return this.pending.length;
  }

  /** Writes every waiting sample now; resolves when they and any earlier flush are done. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    // Flushes run one after another so batches reach the table in arrival order.
    this.flushing = this.flushing.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.repo.insertMany(batch.map((p) => p.row));
        for (const p of batch) p.resolve();
      } catch (err) {
        this.opts.onError?.(err, batch.length);
        for (const p of batch) p.reject(err);
      }
    });
    return this.flushing;
  }

  /** Flushes what is waiting and refuses further samples. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
