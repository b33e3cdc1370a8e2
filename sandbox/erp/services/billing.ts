import { z } from 'zod';
import {
  BILLING_ITEM_PROPS,
  BILLING_PROPS,
  propMap,
  touch,
  type BillingRecord,
  type Wire,
} from '../entities.js';
import { MESSAGES, ODataError, edmDateTime, edmTime } from '../odata.js';
import {
  SERVICE_IDS,
  jsonObject,
  parseBody,
  decimalString,
  stripAlpha,
  type EntitySetDef,
  type ODataEngine,
  type ServiceDef,
  type WriteContext,
  type WriteResult,
} from './engine.js';
import type { ServiceContext } from './context.js';

/** API_BILLING_DOCUMENT_REQUEST_SRV: external billing document requests with their items. */
export function billingService(c: ServiceContext): ServiceDef {
  const header: EntitySetDef = {
    name: 'A_BillingDocumentRequest',
    type: 'A_BillingDocumentRequestType',
    props: BILLING_PROPS,
    map: propMap(BILLING_PROPS),
    keys: ['BillingDocumentRequest'],
    rows: () => [...c.store.billing.values()],
    find: (k) => c.store.billing.get(stripAlpha(k.BillingDocumentRequest ?? '')),
    wire: (r) => (r as BillingRecord).header,
    navs: {
      to_Item: {
        target: 'A_BillingDocumentRequestItem',
        many: true,
        resolve: (r) => (r as BillingRecord).items,
      },
    },
  };
  const item: EntitySetDef = {
    name: 'A_BillingDocumentRequestItem',
    type: 'A_BillingDocumentRequestItemType',
    props: BILLING_ITEM_PROPS,
    map: propMap(BILLING_ITEM_PROPS),
    keys: ['BillingDocumentRequest', 'BillingDocumentRequestItem'],
    rows: () => [...c.store.billing.values()].flatMap((b) => b.items),
    find: (k) =>
      c.store.billing
        .get(stripAlpha(k.BillingDocumentRequest ?? ''))
        ?.items.find(
          (i) =>
            stripAlpha(String(i.BillingDocumentRequestItem)) ===
            stripAlpha(k.BillingDocumentRequestItem ?? ''),
        ),
    wire: (r) => r as Wire,
    navs: {},
  };
  return {
    id: SERVICE_IDS.billing,
    sets: new Map([header, item].map((s) => [s.name, s])),
    functions: new Map(),
    writes: [
      {
        methods: ['POST'],
        name: 'A_BillingDocumentRequest',
        addressed: false,
        handle: (engine, svc, _first, _params, body, ctx) =>
          createBilling(c, engine, svc, jsonObject(body), ctx),
      },
    ],
  };
}

function createBilling(
  c: ServiceContext,
  engine: ODataEngine,
  svc: ServiceDef,
  body: Record<string, unknown>,
  ctx: WriteContext,
): WriteResult {
  const input = parseBody(BillingInput, body);
  const deliveryId = stripAlpha(input.ReferenceDocument);
  const delivery = c.store.deliveries.get(deliveryId);
  if (!delivery) {
    throw new ODataError(
      400,
      MESSAGES.deliveryMissing,
      `Delivery ${input.ReferenceDocument} does not exist`,
      'ReferenceDocument',
    );
  }
  if (stripAlpha(input.SoldToParty) !== stripAlpha(String(delivery.header.SoldToParty))) {
    throw new ODataError(
      400,
      MESSAGES.billingInvalid,
      `Sold-to party ${input.SoldToParty} differs from the delivery's ${String(delivery.header.SoldToParty)}`,
      'SoldToParty',
    );
  }
  const block = c.store.rules.billingBlockReason;
  if (block) {
    throw new ODataError(
      400,
      MESSAGES.billingBlocked,
      `Delivery ${deliveryId} is blocked for billing: ${block}`,
      'ReferenceDocument',
    );
  }
  const existing = [...c.store.billing.values()].find((b) => b.header.ReferenceDocument === deliveryId);
  if (existing) {
    throw new ODataError(
      400,
      MESSAGES.alreadyBilled,
      `Delivery ${deliveryId} is already referenced by billing document request ${String(existing.header.BillingDocumentRequest)}`,
      'ReferenceDocument',
    );
  }
  const items = Array.isArray(input.to_Item) ? input.to_Item : input.to_Item.results;
  const cents = (s: string) => Math.round(Number(s) * 100);
  items.forEach((item, i) => {
    if (
      item.YY1_UnitPrice_BDI !== undefined &&
      cents(item.NetAmount) !==
        Math.round(Number(item.BillingQuantity) * Number(item.YY1_UnitPrice_BDI) * 100)
    ) {
      throw new ODataError(
        400,
        MESSAGES.billingInvalid,
        `Item ${i + 1}: net amount differs from quantity times unit price`,
        `to_Item/${i}/NetAmount`,
      );
    }
  });
  if (items.reduce((s, i) => s + cents(i.NetAmount), 0) !== cents(input.TotalNetAmount)) {
    throw new ODataError(
      400,
      MESSAGES.billingInvalid,
      'Total net amount differs from the sum of the items',
      'TotalNetAmount',
    );
  }
  const number = String(c.store.counters.nextBilling++);
  c.store.saveCounters();
  const dayMs = Math.floor(ctx.now / 86_400_000) * 86_400_000;
  const rec: BillingRecord = {
    repeatabilityRequestId: ctx.repeatabilityRequestId,
    header: {
      BillingDocumentRequest: number,
      BillingDocumentRequestType: input.BillingDocumentRequestType ?? 'EBDR',
      SalesOrganization: '1710',
      DistributionChannel: '10',
      Division: '00',
      SoldToParty: stripAlpha(input.SoldToParty),
      PayerParty: stripAlpha(input.SoldToParty),
      ReferenceDocument: deliveryId,
      PurchaseOrderByCustomer: input.PurchaseOrderByCustomer ?? '',
      BillingDocumentDate: edmDateTime(dayMs),
      CreationDate: edmDateTime(dayMs),
      CreationTime: edmTime(Math.floor((ctx.now - dayMs) / 1000)),
      TransactionCurrency: input.TransactionCurrency,
      TotalNetAmount: (cents(input.TotalNetAmount) / 100).toFixed(2),
      OverallBillingDocReqStatus: 'A',
      YY1_ApprovedBy_BDR: input.YY1_ApprovedBy_BDR ?? '',
      YY1_SecondApprovedBy_BDR: input.YY1_SecondApprovedBy_BDR ?? '',
      YY1_PricingVersion_BDR: input.YY1_PricingVersion_BDR ?? '',
    },
    items: items.map((item, i) => ({
      BillingDocumentRequest: number,
      BillingDocumentRequestItem: String((i + 1) * 10).padStart(6, '0'),
      Material: item.Material,
      BillingDocumentRequestItemText: item.BillingDocumentRequestItemText ?? '',
      BillingQuantity: Number(item.BillingQuantity).toFixed(3),
      BillingQuantityUnit: item.BillingQuantityUnit,
      NetAmount: (cents(item.NetAmount) / 100).toFixed(2),
      TransactionCurrency: input.TransactionCurrency,
      YY1_UnitPrice_BDI:
        item.YY1_UnitPrice_BDI === undefined ? null : Number(item.YY1_UnitPrice_BDI).toFixed(2),
    })),
  };
  c.store.saveBilling(rec);
  Object.assign(delivery.header, { OverallDelivReltdBillgStatus: 'C', OverallSDProcessStatus: 'C' });
  touch(delivery, ctx.now);
  c.store.saveDelivery(delivery);
  c.recordEffect('billing_request', ctx.effectKey, deliveryId, {
    billingDocumentRequest: number,
    total: rec.header.TotalNetAmount,
  });
  const set = engine.setOf(svc, 'A_BillingDocumentRequest');
  const entity = engine.entityJson(svc, set, rec, ctx.baseUrl, new Map([['to_Item', new Map()]]));
  return {
    status: 201,
    headers: { location: String((entity.__metadata as { uri: string }).uri) },
    body: { d: entity },
  };
}

const BillingItemInput = z
  .object({
    __metadata: z.unknown().optional(),
    BillingDocumentRequestItem: z.string().max(6).optional(),
    Material: z.string().min(1).max(40),
    BillingDocumentRequestItemText: z.string().max(40).optional(),
    BillingQuantity: decimalString,
    BillingQuantityUnit: z.string().min(1).max(3),
    NetAmount: decimalString.refine((s) => Number(s) >= 0, 'must not be negative'),
    TransactionCurrency: z.string().max(5).optional(),
    YY1_UnitPrice_BDI: decimalString.optional(),
  })
  .strict();

const BillingInput = z
  .object({
    __metadata: z.unknown().optional(),
    BillingDocumentRequestType: z.string().min(1).max(4).optional(),
    SoldToParty: z.string().min(1).max(10),
    ReferenceDocument: z.string().min(1).max(10),
    PurchaseOrderByCustomer: z.string().max(35).optional(),
    TransactionCurrency: z.literal('USD'),
    TotalNetAmount: decimalString,
    YY1_ApprovedBy_BDR: z.string().max(40).optional(),
    YY1_SecondApprovedBy_BDR: z.string().max(40).optional(),
    YY1_PricingVersion_BDR: z.string().max(40).optional(),
    to_Item: z.union([
      z.object({ results: z.array(BillingItemInput).min(1).max(50) }),
      z.array(BillingItemInput).min(1).max(50),
    ]),
  })
  .strict();
