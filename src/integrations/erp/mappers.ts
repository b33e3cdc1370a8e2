import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ShipsyncError, issuePath } from '../../domain/errors.js';
import { BillingDocument, Milestone, Order, type ChargeCode } from '../../domain/model.js';
import type { ErpBillingRecord, ErpMilestoneRecord, MilestoneReport } from '../ports.js';

/**
 * Pure mappings between SAP S/4HANA OData V2 (API_OUTBOUND_DELIVERY_SRV, the YY1_ShipmentMilestone custom
 * business object, API_BILLING_DOCUMENT_REQUEST_SRV) and shipsync's canonical model. Bad vendor data
 * becomes a VALIDATION_FAILED ShipsyncError naming the offending OData field, never a crash.
 */

/** Navigation paths the adapter expands when it reads a delivery. */
export const DELIVERY_EXPAND = 'to_DeliveryDocumentItem,to_DeliveryDocumentPartner/to_Address';

/** SAP partner functions of the ship-to party: `WE` internally, `SH` where the English code is shown. */
const SHIP_TO = new Set(['WE', 'SH']);

/** Kilograms per SAP weight unit. */
const KG_PER_UNIT: Record<string, number> = { KG: 1, G: 0.001, LB: 0.45359237, TO: 1000 };

/** Sales units the billing request uses per charge code. */
const BILLING_UNIT: Record<ChargeCode, string> = {
  BASE: 'EA',
  MILEAGE: 'MI',
  LIFTGATE: 'EA',
  WAITING: 'H',
  REDELIVERY: 'EA',
  RETURN: 'EA',
};

const edmDate = z
  .string()
  .regex(/^\/Date\(-?\d{1,15}([+-]\d{4})?\)\/$/, 'expected an Edm.DateTime like /Date(1764547200000)/');
const decimal = z.string().regex(/^-?\d{1,15}(\.\d{1,6})?$/, 'expected an Edm.Decimal in a string');

const ODataAddress = z.looseObject({
  BusinessPartnerName1: z.string(),
  FullName: z.string().optional(),
  StreetName: z.string(),
  HouseNumber: z.string().optional(),
  CityName: z.string(),
  PostalCode: z.string(),
  Region: z.string(),
  Country: z.string(),
  PhoneNumber: z.string().nullable().optional(),
});

const ODataPartner = z.looseObject({
  PartnerFunction: z.string(),
  to_Address: ODataAddress.nullable().optional(),
});

const ODataItem = z.looseObject({
  Material: z.string(),
  DeliveryDocumentItemText: z.string().nullable().optional(),
  ActualDeliveryQuantity: decimal,
  DeliveryQuantityUnit: z.string(),
});

/** The shape of an `A_OutbDeliveryHeader` read with items and ship-to address expanded. */
export const ODataDeliveryHeader = z.looseObject({
  DeliveryDocument: z.string(),
  SoldToParty: z.string(),
  ShipToParty: z.string().optional(),
  DeliveryDate: edmDate,
  HeaderGrossWeight: decimal,
  HeaderWeightUnit: z.string(),
  YY1_DispatchRegion_DLH: z.string(),
  YY1_DelivWindowStart_DLH: edmDate,
  YY1_DelivWindowEnd_DLH: edmDate,
  YY1_ServiceDays_DLH: z
    .string()
    .regex(/^[1-7]{0,7}$/, 'expected ISO weekday digits 1-7')
    .nullable()
    .optional(),
  YY1_Pallets_DLH: z.number().int().nullable().optional(),
  YY1_HazmatIndicator_DLH: z.boolean().nullable().optional(),
  YY1_LiftgateRequired_DLH: z.boolean().nullable().optional(),
  YY1_DeliveryInstructions_DLH: z.string().nullable().optional(),
  to_DeliveryDocumentItem: z.object({ results: z.array(ODataItem) }),
  to_DeliveryDocumentPartner: z.object({ results: z.array(ODataPartner) }),
});
/** A delivery header as the adapter reads it. */
export type ODataDeliveryHeader = z.infer<typeof ODataDeliveryHeader>;

/** Where each canonical field comes from, for error messages that name the vendor's field. */
function vendorField(path: string, shipTo: number): string {
  const address = `to_DeliveryDocumentPartner/${shipTo}/to_Address`;
  const item = /^items\.(\d+)\.(\w+)/.exec(path);
  if (item) {
    const fields: Record<string, string> = {
      sku: 'Material',
      description: 'DeliveryDocumentItemText',
      quantity: 'ActualDeliveryQuantity',
      unit: 'DeliveryQuantityUnit',
    };
    const name = item[2] as string;
    const field = Object.hasOwn(fields, name) ? fields[name] : undefined;
    return `to_DeliveryDocumentItem/${item[1]}/${field ?? item[2]}`;
  }
  const table: Record<string, string> = {
    deliveryId: 'DeliveryDocument',
    customerId: 'SoldToParty',
    region: 'YY1_DispatchRegion_DLH',
    'recipient.name': `${address}/BusinessPartnerName1`,
    'recipient.phone': `${address}/PhoneNumber`,
    'address.street': `${address}/StreetName`,
    'address.city': `${address}/CityName`,
    'address.state': `${address}/Region`,
    'address.postalCode': `${address}/PostalCode`,
    'address.country': `${address}/Country`,
    plannedDate: 'DeliveryDate',
    'requestedWindow.start': 'YY1_DelivWindowStart_DLH',
    'requestedWindow.end': 'YY1_DelivWindowEnd_DLH',
    requestedWindow: 'YY1_DelivWindowEnd_DLH',
    serviceDays: 'YY1_ServiceDays_DLH',
    weightKg: 'HeaderGrossWeight',
    pallets: 'YY1_Pallets_DLH',
    hazmat: 'YY1_HazmatIndicator_DLH',
    liftgate: 'YY1_LiftgateRequired_DLH',
    instructions: 'YY1_DeliveryInstructions_DLH',
    items: 'to_DeliveryDocumentItem',
  };
  const hit = Object.keys(table)
    .filter((k) => path === k || path.startsWith(`${k}.`))
    .sort((a, b) => b.length - a.length)[0];
  return hit ? (table[hit] as string) : path;
}

function invalid(deliveryId: string, field: string, reason: string, body?: unknown): ShipsyncError {
  return new ShipsyncError(
    'VALIDATION_FAILED',
    `ERP delivery ${deliveryId || '(unknown)'}: ${field}: ${reason}`,
    {
      field,
      ...(body === undefined ? {} : { body }),
    },
  );
}

/** SAP's ALPHA output conversion: an all-digit number loses its leading zeros, anything else stays. */
export function alphaOut(value: string): string {
  return /^\d+$/.test(value) ? value.replace(/^0+(?=\d)/, '') : value;
}

/** Epoch ms of an OData V2 `/Date(...)/` value (already checked by the schema). */
function dateMs(value: string): number {
  return Number(/-?\d+/.exec(value)?.[0]);
}

function isoInstant(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

/** Unwraps `{ d: entity }` (an entity response or the release push) to the entity. */
function unwrap(body: unknown): unknown {
  if (body !== null && typeof body === 'object' && 'd' in body && !('DeliveryDocument' in body)) {
    return body.d;
  }
  return body;
}

/** Maps an OData outbound delivery (items and ship-to address expanded) to a canonical order. */
export function orderFromDelivery(body: unknown): Order {
  const entity = unwrap(body);
  const rawId =
    entity !== null &&
    typeof entity === 'object' &&
    typeof (entity as { DeliveryDocument?: unknown }).DeliveryDocument === 'string'
      ? (entity as { DeliveryDocument: string }).DeliveryDocument
      : '';
  const wire = ODataDeliveryHeader.safeParse(entity);
  if (!wire.success) {
    const issue = wire.error.issues[0];
    const field =
      (issue?.path ?? [])
        .filter((p) => p !== 'results')
        .map(String)
        .join('/') || '(root)';
    throw invalid(rawId, field, issue?.message ?? 'invalid', undefined);
  }
  const h = wire.data;
  const id = alphaOut(h.DeliveryDocument);
  const partners = h.to_DeliveryDocumentPartner.results;
  const shipTo = partners.findIndex((p) => SHIP_TO.has(p.PartnerFunction));
  if (shipTo < 0) throw invalid(id, 'to_DeliveryDocumentPartner', 'no ship-to (WE) partner');
  const address = partners[shipTo]?.to_Address;
  if (!address)
    throw invalid(
      id,
      `to_DeliveryDocumentPartner/${shipTo}/to_Address`,
      'the ship-to partner has no address',
    );
  const unit = h.HeaderWeightUnit.toUpperCase();
  const perKg = Object.hasOwn(KG_PER_UNIT, unit) ? KG_PER_UNIT[unit] : undefined;
  if (perKg === undefined)
    throw invalid(id, 'HeaderWeightUnit', `unknown weight unit "${h.HeaderWeightUnit.slice(0, 10)}"`);
  const days = (h.YY1_ServiceDays_DLH ?? '').split('').map(Number);
  const candidate = {
    deliveryId: id,
    customerId: alphaOut(h.SoldToParty),
    region: h.YY1_DispatchRegion_DLH,
    recipient: {
      name: address.BusinessPartnerName1 || address.FullName || '',
      ...(address.PhoneNumber ? { phone: address.PhoneNumber } : {}),
    },
    address: {
      street: `${address.HouseNumber ?? ''} ${address.StreetName}`.trim(),
      city: address.CityName,
      state: address.Region,
      postalCode: address.PostalCode,
      country: address.Country,
    },
    plannedDate: new Date(dateMs(h.DeliveryDate)).toISOString().slice(0, 10),
    requestedWindow: {
      start: isoInstant(dateMs(h.YY1_DelivWindowStart_DLH)),
      end: isoInstant(dateMs(h.YY1_DelivWindowEnd_DLH)),
    },
    ...(days.length > 0 ? { serviceDays: [...new Set(days)].sort((a, b) => a - b) } : {}),
    weightKg: Math.round(Number(h.HeaderGrossWeight) * perKg * 1000) / 1000,
    pallets: h.YY1_Pallets_DLH ?? 0,
    hazmat: h.YY1_HazmatIndicator_DLH ?? false,
    liftgate: h.YY1_LiftgateRequired_DLH ?? false,
    instructions: h.YY1_DeliveryInstructions_DLH ?? '',
    items: h.to_DeliveryDocumentItem.results.map((i) => ({
      sku: i.Material,
      description: i.DeliveryDocumentItemText ?? '',
      quantity: Number(i.ActualDeliveryQuantity),
      unit: i.DeliveryQuantityUnit,
    })),
  };
  const order = Order.safeParse(candidate);
  if (!order.success) {
    const issue = order.error.issues[0];
    const field = vendorField(issuePath(issue?.path ?? []), shipTo);
    throw invalid(id, field, issue?.message ?? 'invalid');
  }
  return order.data;
}

function edmDateTime(ms: number): string {
  return `/Date(${ms})/`;
}

function edmDateTimeOffset(ms: number): string {
  return `/Date(${ms}+0000)/`;
}

function edmTime(seconds: number): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `PT${p(Math.floor(seconds / 3600))}H${p(Math.floor((seconds % 3600) / 60))}M${p(seconds % 60)}S`;
}

/** The OData form of a canonical order (header, items, ship-to partner and address), as the ERP holds it. */
export function deliveryFromOrder(order: Order): Record<string, unknown> {
  const m = /^(\d[\dA-Za-z-]{0,9})\s+(.+)$/.exec(order.address.street);
  const plannedMs = Date.parse(`${order.plannedDate}T00:00:00Z`);
  return {
    DeliveryDocument: order.deliveryId,
    DeliveryDocumentType: 'LF',
    SoldToParty: order.customerId,
    ShipToParty: order.customerId,
    DeliveryDate: edmDateTime(plannedMs),
    PlannedGoodsIssueDate: edmDateTime(plannedMs),
    HeaderGrossWeight: order.weightKg.toFixed(3),
    HeaderWeightUnit: 'KG',
    OverallSDProcessStatus: 'A',
    OverallGoodsMovementStatus: 'A',
    DeliveryBlockReason: '',
    YY1_DispatchRegion_DLH: order.region,
    YY1_DelivWindowStart_DLH: edmDateTimeOffset(Date.parse(order.requestedWindow.start)),
    YY1_DelivWindowEnd_DLH: edmDateTimeOffset(Date.parse(order.requestedWindow.end)),
    YY1_ServiceDays_DLH: order.serviceDays.join(''),
    YY1_Pallets_DLH: order.pallets,
    YY1_HazmatIndicator_DLH: order.hazmat,
    YY1_LiftgateRequired_DLH: order.liftgate,
    YY1_DeliveryInstructions_DLH: order.instructions.slice(0, 255),
    to_DeliveryDocumentItem: {
      results: order.items.map((item, i) => ({
        DeliveryDocument: order.deliveryId,
        DeliveryDocumentItem: String((i + 1) * 10).padStart(6, '0'),
        Material: item.sku,
        DeliveryDocumentItemText: item.description.slice(0, 40),
        ActualDeliveryQuantity: item.quantity.toFixed(3),
        DeliveryQuantityUnit: item.unit,
      })),
    },
    to_DeliveryDocumentPartner: {
      results: [
        {
          PartnerFunction: 'WE',
          SDDocument: order.deliveryId,
          Customer: order.customerId,
          to_Address: {
            BusinessPartnerName1: order.recipient.name.slice(0, 40),
            FullName: order.recipient.name.slice(0, 80),
            HouseNumber: m?.[1] ?? '',
            StreetName: m?.[2] ?? order.address.street,
            CityName: order.address.city,
            PostalCode: order.address.postalCode,
            Region: order.address.state,
            Country: order.address.country,
            PhoneNumber: order.recipient.phone ?? '',
          },
        },
      ],
    },
  };
}

/** `$filter` of the released-deliveries query: open, not goods-issued, not blocked, after the cursor. */
export function releasedFilter(cursor?: string): string {
  const parts = [
    "OverallSDProcessStatus eq 'A'",
    "OverallGoodsMovementStatus eq 'A'",
    "DeliveryBlockReason eq ''",
  ];
  if (cursor !== undefined) parts.push(`DeliveryDocument gt '${cursor.replace(/'/g, "''")}'`);
  return parts.join(' and ');
}

const MilestoneReportShape = z.object({
  deliveryId: z.string().regex(/^[0-9A-Z-]{1,10}$/, 'expected an ERP delivery id of up to 10 characters'),
  milestone: Milestone,
  attempt: z.number().int().min(1).max(99),
  occurredAt: z.iso.datetime({ offset: true }),
  eta: z.iso.datetime({ offset: true }).optional(),
  note: z.string().optional(),
});

function checkReport(report: MilestoneReport) {
  const parsed = MilestoneReportShape.safeParse(report);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issuePath(issue?.path ?? []);
    throw new ShipsyncError(
      'VALIDATION_FAILED',
      `milestone report: ${field}: ${issue?.message ?? 'invalid'}`,
      { field },
    );
  }
}

/** The `YY1_ShipmentMilestone` entity to create for a business milestone. */
export function milestoneToOData(report: MilestoneReport): Record<string, unknown> {
  checkReport(report);
  return {
    DeliveryDocument: report.deliveryId,
    MilestoneCode: milestoneCode(report.milestone),
    AttemptNumber: report.attempt,
    OccurredAt: edmDateTimeOffset(Date.parse(report.occurredAt)),
    PlannedETA: report.eta ? edmDateTimeOffset(Date.parse(report.eta)) : null,
    Note: (report.note ?? '').slice(0, 255),
  };
}

/** The custom business object's code for a canonical milestone (`failed_attempt` -> `FAILED_ATTEMPT`). */
export function milestoneCode(milestone: Milestone): string {
  return milestone.toUpperCase();
}

/**
 * The header MERGE that moves the ERP commit date to dispatch's ETA: `DeliveryDate`/`DeliveryTime` carry
 * the ETA's UTC date and time, `YY1_CommittedETA_DLH` the exact instant.
 */
export function commitDateToOData(eta: string): Record<string, unknown> {
  const ms = Date.parse(eta);
  if (!z.iso.datetime({ offset: true }).safeParse(eta).success || !Number.isFinite(ms)) {
    throw new ShipsyncError(
      'VALIDATION_FAILED',
      `commit date: eta: expected an ISO instant, got "${eta.slice(0, 40)}"`,
      { field: 'eta' },
    );
  }
  const day = Math.floor(ms / 86_400_000) * 86_400_000;
  return {
    DeliveryDate: edmDateTime(day),
    DeliveryTime: edmTime(Math.floor((ms - day) / 1000)),
    YY1_CommittedETA_DLH: edmDateTimeOffset(ms),
  };
}

/** The `A_BillingDocumentRequest` deep insert (header and items) for a canonical billing document. */
export function billingToOData(doc: BillingDocument): Record<string, unknown> {
  const parsed = BillingDocument.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issuePath(issue?.path ?? []);
    throw new ShipsyncError(
      'VALIDATION_FAILED',
      `billing document: ${field}: ${issue?.message ?? 'invalid'}`,
      { field },
    );
  }
  const d = parsed.data;
  return {
    BillingDocumentRequestType: 'EBDR',
    SoldToParty: d.customerId,
    ReferenceDocument: d.deliveryId,
    PurchaseOrderByCustomer: d.shipmentId.slice(0, 35),
    TransactionCurrency: d.currency,
    TotalNetAmount: d.total.toFixed(2),
    ...(d.approvedBy ? { YY1_ApprovedBy_BDR: d.approvedBy.slice(0, 40) } : {}),
    ...(d.secondApprovedBy ? { YY1_SecondApprovedBy_BDR: d.secondApprovedBy.slice(0, 40) } : {}),
    ...(d.pricingVersion ? { YY1_PricingVersion_BDR: d.pricingVersion } : {}),
    to_Item: {
      results: d.charges.map((c, i) => ({
        BillingDocumentRequestItem: String((i + 1) * 10).padStart(6, '0'),
        Material: c.code,
        BillingDocumentRequestItemText: (c.description || c.code).slice(0, 40),
        BillingQuantity: c.quantity.toFixed(3),
        BillingQuantityUnit: BILLING_UNIT[c.code],
        NetAmount: c.amount.toFixed(2),
        YY1_UnitPrice_BDI: c.unitPrice.toFixed(2),
      })),
    },
  };
}

const BillingCreated = z.object({
  d: z.looseObject({ BillingDocumentRequest: z.string().regex(/^\d{1,10}$/, 'expected a document number') }),
});

/** The billing document request number from the 201 answer to a billing request. */
export function billingDocumentIdFrom(body: unknown): string {
  const parsed = BillingCreated.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issuePath(issue?.path ?? []) || 'd';
    throw new ShipsyncError(
      'VALIDATION_FAILED',
      `billing response: ${field}: ${issue?.message ?? 'invalid'}`,
      { field },
    );
  }
  return alphaOut(parsed.data.d.BillingDocumentRequest);
}

/** Namespace of shipsync's repeatability request ids (a fixed UUID). */
const REPEATABILITY_NAMESPACE = Buffer.from('6f1c2b1e8a4d4e0b9c332f7d3a9e41b7', 'hex');

/**
 * The `Repeatability-Request-ID` of an idempotency key: a name-based (version 5, SHA-1) UUID, so every
 * retry of the same business step sends the same id, in the UUID form SAP requires.
 */
export function repeatabilityRequestId(idempotencyKey: string): string {
  const hash = createHash('sha1').update(REPEATABILITY_NAMESPACE).update(idempotencyKey, 'utf8').digest();
  hash.writeUInt8((hash.readUInt8(6) & 0x0f) | 0x50, 6);
  hash.writeUInt8((hash.readUInt8(8) & 0x3f) | 0x80, 8);
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The message of an SAP Gateway error body, and the field it names, when the body is one. */
export function odataErrorOf(body: unknown): { code?: string; message?: string; target?: string } {
  const parsed = z
    .object({
      error: z.looseObject({
        code: z.string().optional(),
        message: z.union([z.string(), z.looseObject({ value: z.string() })]).optional(),
        innererror: z
          .looseObject({ errordetails: z.array(z.looseObject({ target: z.string().optional() })).optional() })
          .optional(),
      }),
    })
    .safeParse(body);
  if (!parsed.success) return {};
  const e = parsed.data.error;
  const message = typeof e.message === 'string' ? e.message : e.message?.value;
  const target = e.innererror?.errordetails?.find((d) => d.target)?.target;
  return { code: e.code, message, target };
}

/** A `$filter` that selects rows of these deliveries: `DeliveryDocument eq '1' or DeliveryDocument eq '2'`. */
export function deliveriesFilter(property: string, deliveryIds: string[]): string {
  return deliveryIds.map((id) => `${property} eq '${id.replace(/'/g, "''")}'`).join(' or ');
}

const MilestoneRow = z.object({
  DeliveryDocument: z.string(),
  MilestoneCode: z.string(),
  AttemptNumber: z.coerce.number().int(),
  OccurredAt: z.string(),
});

/** A YY1_ShipmentMilestone row read back: canonical milestone (`FAILED_ATTEMPT` -> `failed_attempt`). */
export function milestoneFromOData(row: unknown): ErpMilestoneRecord {
  const r = MilestoneRow.parse(row);
  const ms = r.OccurredAt.startsWith('/Date(') ? dateMs(r.OccurredAt) : Date.parse(r.OccurredAt);
  return {
    deliveryId: alphaOut(r.DeliveryDocument),
    milestone: r.MilestoneCode.toLowerCase(),
    attempt: r.AttemptNumber,
    occurredAt: Number.isFinite(ms) ? isoInstant(ms) : r.OccurredAt,
  };
}

const BillingRow = z.object({
  BillingDocumentRequest: z.string(),
  ReferenceDocument: z.string(),
  TotalNetAmount: z.coerce.number(),
  TransactionCurrency: z.string().default(''),
});

/** An A_BillingDocumentRequest row read back. */
export function billingFromOData(row: unknown): ErpBillingRecord {
  const r = BillingRow.parse(row);
  return {
    deliveryId: alphaOut(r.ReferenceDocument),
    billingDocumentId: alphaOut(r.BillingDocumentRequest),
    total: r.TotalNetAmount,
    currency: r.TransactionCurrency,
  };
}
