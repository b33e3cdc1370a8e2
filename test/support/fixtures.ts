import type { DispatchEvent, DispatchEventType } from '../../src/domain/events.js';
import type { Order } from '../../src/domain/model.js';

/** A valid released order; tests override what they need. */
export function sampleOrder(overrides: Partial<Order> = {}): Order {
  return {
    deliveryId: '80000001',
    customerId: 'C1001',
    region: 'CHI',
    recipient: { name: 'Dana Whitfield', phone: '+1 312 555 0142' },
    address: { street: '233 S Wacker Dr', city: 'Chicago', state: 'IL', postalCode: '60606', country: 'US' },
    plannedDate: '2026-12-01',
    requestedWindow: { start: '2026-12-01T14:00:00Z', end: '2026-12-01T18:00:00Z' },
    serviceDays: [1, 2, 3, 4, 5],
    weightKg: 420,
    pallets: 2,
    hazmat: false,
    liftgate: true,
    instructions: 'Dock 4, call on arrival',
    items: [{ sku: 'SKU-1', description: 'Pallet of paper', quantity: 2, unit: 'PAL' }],
    ...overrides,
  };
}

/**
 * A canonical dispatch event for a shipment's current task, with plausible defaults per type that `data`
 * overrides; `id` is unique per workflow, type, attempt and sequence.
 */
export function dispatchEventFor(e: {
  workflowId: string;
  type: DispatchEventType;
  taskId: string;
  attempt: number;
  window: { start: string };
  sequence: number;
  time: string;
  podLocation: { lat: number; lng: number };
  source: string;
  data?: Record<string, unknown>;
}): DispatchEvent {
  const { workflowId, type, time } = e;
  const base = { taskId: e.taskId, attempt: e.attempt };
  const defaults: Record<DispatchEventType, Record<string, unknown>> = {
    'route.assigned.v1': {
      ...base,
      driverId: 'drv-1',
      routeId: 'route-1',
      eta: new Date(Date.parse(e.window.start) + 30 * 60_000).toISOString(),
    },
    'route.unassigned.v1': { ...base },
    'stop.started.v1': { ...base, driverId: 'drv-1' },
    'stop.eta.v1': { ...base, eta: time, driftSeconds: 0 },
    'delivery.delayed.v1': { ...base, eta: time, delaySeconds: 0 },
    'stop.arrived.v1': { ...base, arrivedAt: time },
    'delivery.completed.v1': {
      ...base,
      pod: {
        deliveredAt: time,
        location: e.podLocation,
        signatureId: 'sig-1',
        photoIds: ['ph-1'],
        notes: '',
      },
      mileageKm: 18.4,
      accessorials: { liftgate: false, waitingMinutes: 0 },
    },
    'delivery.failed.v1': { ...base, reason: 'recipient_absent', failedAt: time, notes: '', mileageKm: 9 },
  };
  return {
    specversion: '1.0',
    id: `${workflowId}-${type}-${e.attempt}-${e.sequence}`,
    source: e.source,
    type,
    subject: workflowId,
    time,
    datacontenttype: 'application/json',
    correlationid: workflowId,
    sequence: e.sequence,
    data: { ...defaults[type], ...e.data },
  } as DispatchEvent;
}
