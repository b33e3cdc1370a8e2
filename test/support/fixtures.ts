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
