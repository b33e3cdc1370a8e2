import type { EffectLog } from '../common/effects.js';
import type { DeliveryRecord, Wire } from './entities.js';
import type { PathSegment, QueryOptions } from './odata.js';
import { billingService } from './services/billing.js';
import type { ServiceContext } from './services/context.js';
import { deliveryJson, deliveryService } from './services/delivery.js';
import { ODataEngine, type ServiceDef, type WriteContext, type WriteResult } from './services/engine.js';
import { milestoneService } from './services/milestone.js';
import { pricingService } from './services/pricing.js';
import type { ErpStore } from './state.js';

export {
  MAX_PAGE_SIZE,
  SERVICE_IDS,
  stripAlpha,
  type ServiceDef,
  type WriteContext,
  type WriteResult,
} from './services/engine.js';

/**
 * The ERP's OData services (outbound deliveries, billing document requests, shipment milestones, pricing
 * condition records),
 * one file each under services/, over the generic OData engine; their writes go to the effect log.
 */
export class ErpServices {
  readonly services: Map<string, ServiceDef>;
  private readonly engine: ODataEngine;
  private readonly ctx: ServiceContext;

  constructor(
    private readonly store: ErpStore,
    private readonly effects: EffectLog,
    onDeliveryChanged: (rec: DeliveryRecord) => void = () => {},
  ) {
    const context: ServiceContext = {
      store,
      recordEffect: (kind, key, entityId, detail) => this.recordEffect(kind, key, entityId, detail),
      onDeliveryChanged,
    };
    const defs = [
      deliveryService(context),
      billingService(context),
      milestoneService(context),
      pricingService(context),
    ];
    this.ctx = context;
    this.services = new Map(defs.map((d) => [d.id, d]));
    this.engine = new ODataEngine(this.services);
  }

  /** What the services share (the store, the effect log), for sandbox controls that act as an ERP user. */
  get context(): ServiceContext {
    return this.ctx;
  }

  /** Records an effect and persists its count. */
  recordEffect(kind: string, key: string, entityId: string, detail: Record<string, unknown>) {
    const before = this.effects.snapshot(kind, key);
    this.store.onRollback(() => {
      this.effects.restore(kind, key, before);
      if (before) this.store.saveEffect(before);
      else this.store.forgetEffect(kind, key);
    });
    const effect = this.effects.record(kind, key, entityId, detail);
    this.store.saveEffect(effect);
  }

  /** Answers a GET on a resource path: a collection, an entity, a navigation or a `$count`. */
  read(svc: ServiceDef, path: PathSegment[], opts: QueryOptions, baseUrl: string, requestUrl: string) {
    return this.engine.read(svc, path, opts, baseUrl, requestUrl);
  }

  /** Dispatches a write (POST, PATCH/MERGE/PUT, DELETE) to its service's handler. */
  write(
    svc: ServiceDef,
    method: string,
    path: PathSegment[],
    params: Map<string, string[]>,
    body: unknown,
    ctx: WriteContext,
  ): WriteResult {
    return this.engine.write(svc, method, path, params, body, ctx);
  }

  /** The service's EDMX document (OData V2, with SAP annotations). */
  metadata(svc: ServiceDef): string {
    return this.engine.metadata(svc);
  }

  /** A delivery with its items and partners expanded, as the release push sends it. */
  deliveryJson(rec: DeliveryRecord, baseUrl: string): Wire {
    return deliveryJson(this.engine, rec, baseUrl);
  }
}
