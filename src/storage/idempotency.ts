import { fromJsonColumn, toIso, toJsonColumn, type Db } from './db.js';

/** A stored API response for one Idempotency-Key. */
export interface StoredResponse {
  key: string;
  route: string;
  bodyHash: string;
  statusCode: number;
  response: unknown;
  createdAt: string;
}

/** Responses of the synchronous API by Idempotency-Key, so a retried request gets the first answer again. */
export class IdempotencyRepository {
  constructor(private readonly db: Db) {}

  /** The stored response for a key, if any. */
  async get(key: string): Promise<StoredResponse | undefined> {
    const r = await this.db.kysely
      .selectFrom('idempotency_keys')
      .selectAll()
      .where('key', '=', key)
      .executeTakeFirst();
    if (!r) return undefined;
    return {
      key: r.key,
      route: r.route,
      bodyHash: r.body_hash,
      statusCode: Number(r.status_code),
      response: fromJsonColumn(r.response),
      createdAt: toIso(r.created_at),
    };
  }

  /**
   * Stores the response of the first request with this key. When another request stored one first, returns
   * that one instead, so concurrent requests with one key agree on the answer.
   */
  async put(s: StoredResponse): Promise<StoredResponse> {
    const res = await this.db.kysely
      .insertInto('idempotency_keys')
      .values({
        key: s.key,
        route: s.route,
        body_hash: s.bodyHash,
        status_code: s.statusCode,
        response: toJsonColumn(s.response),
        created_at: s.createdAt,
      })
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0) > 0) return s;
    return (await this.get(s.key)) ?? s;
  }

  /** Forgets keys stored before the cut-off; returns how many went. */
  async purgeBefore(before: Date): Promise<number> {
    const res = await this.db.kysely
      .deleteFrom('idempotency_keys')
      .where('created_at', '<', before.toISOString())
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
