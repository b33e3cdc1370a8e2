import type { DeliveryRecord } from '../entities.js';
import type { ErpStore } from '../state.js';

/** What each service needs besides the engine: the store, the effect log and delivery-change notices. */
export interface ServiceContext {
  store: ErpStore;
  /** Records an effect (an ERP write that must happen once) and persists its count. */
  recordEffect(kind: string, key: string, entityId: string, detail: Record<string, unknown>): void;
  /** Called after a delivery changed, e.g. to push it to subscribers. */
  onDeliveryChanged(rec: DeliveryRecord): void;
}
