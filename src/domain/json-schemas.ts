import { z } from 'zod';
import { EVENT_DATA, EventEnvelope } from './events.js';
import * as model from './model.js';

/** The canonical schemas published as JSON Schema, by file stem. */
export const PUBLISHED_SCHEMAS: Record<string, z.ZodType> = {
  Order: model.Order,
  Shipment: model.Shipment,
  Job: model.Job,
  Route: model.Route,
  Stop: model.Stop,
  ProofOfDelivery: model.ProofOfDelivery,
  Case: model.Case,
  Charge: model.Charge,
  BillingDocument: model.BillingDocument,
  EventEnvelope,
  ...Object.fromEntries(Object.entries(EVENT_DATA).map(([type, schema]) => [`event.${type}`, schema])),
};

/** JSON Schema documents (draft 2020-12) for every published schema, as pretty JSON text by file name. */
export function renderJsonSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, schema] of Object.entries(PUBLISHED_SCHEMAS)) {
    const doc = {
      $id: `https://shipsync.dev/schemas/${name}.json`,
      title: name,
      ...z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }),
    };
    out[`${name}.json`] = `${JSON.stringify(doc, null, 2)}\n`;
  }
  return out;
}
