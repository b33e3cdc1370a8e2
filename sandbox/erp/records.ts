import type { Order } from '../../src/domain/model.js';
import type { DeliveryRecord, Wire } from './entities.js';
import { edmDateTime, edmDateTimeOffset, edmTime } from './odata.js';
import { REGIONS } from './regions.js';

/** Numbers the ERP assigns when it creates a delivery's documents. */
export interface DocumentNumbers {
  addressId: string;
  salesOrder: string;
  createdAtMs: number;
}

const DAY_MS = 86_400_000;

function dayStart(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** Local wall-clock seconds since midnight of an instant in a time zone. */
function localSeconds(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (type: string) => Number(parts.find((x) => x.type === type)?.value ?? 0);
  return get('hour') * 3600 + get('minute') * 60 + get('second');
}

/** Splits `233 S Wacker Dr` into SAP's HouseNumber `233` and StreetName `S Wacker Dr`. */
export function splitStreet(street: string): { houseNumber: string; streetName: string } {
  const m = /^(\d[\dA-Za-z-]{0,9})\s+(.+)$/.exec(street.trim());
  return m?.[1] && m[2]
    ? { houseNumber: m[1], streetName: m[2] }
    : { houseNumber: '', streetName: street.trim() };
}

/**
 * Builds the SAP records of a released outbound delivery from a canonical order: the header with its YY1
 * extension fields, one item per order line, and the ship-to (WE) and sold-to (AG) partners with address.
 */
export function deliveryRecordFromOrder(order: Order, numbers: DocumentNumbers): DeliveryRecord {
  const region = Object.hasOwn(REGIONS, order.region) ? REGIONS[order.region] : undefined;
  const timeZone = region?.timeZone ?? 'UTC';
  const tzCode = region?.sapTimeZone ?? 'UTC';
  const plannedMs = Date.parse(`${order.plannedDate}T00:00:00Z`);
  const createdMs = numbers.createdAtMs;
  const windowStartMs = Date.parse(order.requestedWindow.start);
  const windowEndMs = Date.parse(order.requestedWindow.end);
  const totalQty = order.items.reduce((s, i) => s + i.quantity, 0) || 1;
  const header: Wire = {
    DeliveryDocument: order.deliveryId,
    DeliveryDocumentType: 'LF',
    SDDocumentCategory: 'J',
    SalesOrganization: '1710',
    SoldToParty: order.customerId,
    ShipToParty: order.customerId,
    ShippingPoint: region?.shippingPoint ?? 'US01',
    ShippingCondition: '01',
    ShippingType: '01',
    DeliveryPriority: '02',
    DeliveryBlockReason: '',
    HeaderBillingBlockReason: '',
    TotalBlockStatus: '',
    IncotermsClassification: 'DAP',
    IncotermsTransferLocation: order.address.city.slice(0, 28),
    DocumentDate: edmDateTime(dayStart(createdMs)),
    CreationDate: edmDateTime(dayStart(createdMs)),
    CreationTime: edmTime(Math.floor((createdMs % DAY_MS) / 1000)),
    CreatedByUser: 'CB9980000017',
    LastChangeDate: null,
    LastChangedByUser: '',
    PlannedGoodsIssueDate: edmDateTime(plannedMs),
    LoadingDate: edmDateTime(plannedMs),
    PickingDate: edmDateTime(plannedMs - DAY_MS),
    TransportationPlanningDate: edmDateTime(plannedMs - DAY_MS),
    DeliveryDate: edmDateTime(plannedMs),
    DeliveryTime: edmTime(localSeconds(windowStartMs, timeZone)),
    ActualGoodsMovementDate: null,
    ActualGoodsMovementTime: 'PT00H00M00S',
    ProofOfDeliveryDate: null,
    HeaderGrossWeight: order.weightKg.toFixed(3),
    HeaderNetWeight: (order.weightKg * 0.95).toFixed(3),
    HeaderWeightUnit: 'KG',
    HeaderVolume: (Math.max(order.pallets, 0.2) * 1.6).toFixed(3),
    HeaderVolumeUnit: 'M3',
    TotalNumberOfPackage: String(Math.max(order.pallets, Math.ceil(totalQty))).slice(0, 5),
    MeansOfTransport: '',
    ProposedDeliveryRoute: region?.route ?? 'US0001',
    ActualDeliveryRoute: region?.route ?? 'US0001',
    BillOfLading: '',
    OverallSDProcessStatus: 'A',
    OverallGoodsMovementStatus: 'A',
    OverallPickingStatus: 'C',
    OverallPackingStatus: 'C',
    OverallDelivReltdBillgStatus: 'A',
    OverallProofOfDeliveryStatus: 'A',
    TransactionCurrency: 'USD',
    Shippinglocationtimezone: tzCode,
    Receivinglocationtimezone: tzCode,
    YY1_DispatchRegion_DLH: order.region,
    YY1_DelivWindowStart_DLH: edmDateTimeOffset(windowStartMs),
    YY1_DelivWindowEnd_DLH: edmDateTimeOffset(windowEndMs),
    YY1_ServiceDays_DLH: order.serviceDays.join(''),
    YY1_Pallets_DLH: order.pallets,
    YY1_HazmatIndicator_DLH: order.hazmat,
    YY1_LiftgateRequired_DLH: order.liftgate,
    YY1_DeliveryInstructions_DLH: order.instructions.slice(0, 255),
    YY1_CommittedETA_DLH: null,
  };
  const items: Wire[] = order.items.map((item, i) => {
    const gross = (order.weightKg * item.quantity) / totalQty;
    return {
      DeliveryDocument: order.deliveryId,
      DeliveryDocumentItem: String((i + 1) * 10).padStart(6, '0'),
      DeliveryDocumentItemCategory: 'TAN',
      Material: item.sku.slice(0, 40),
      MaterialByCustomer: '',
      DeliveryDocumentItemText: item.description.slice(0, 40),
      ActualDeliveryQuantity: item.quantity.toFixed(3),
      DeliveryQuantityUnit: item.unit.slice(0, 3),
      ItemGrossWeight: gross.toFixed(3),
      ItemNetWeight: (gross * 0.95).toFixed(3),
      ItemWeightUnit: 'KG',
      Plant: '1710',
      StorageLocation: '171A',
      ReferenceSDDocument: numbers.salesOrder,
      ReferenceSDDocumentItem: String((i + 1) * 10).padStart(6, '0'),
      GoodsMovementStatus: 'A',
      PickingStatus: 'C',
      SDProcessStatus: 'A',
    };
  });
  const { houseNumber, streetName } = splitStreet(order.address.street);
  const address: Wire = {
    AddressID: numbers.addressId,
    POBox: '',
    POBoxDeviatingCountry: '',
    BusinessPartnerName1: order.recipient.name.slice(0, 40),
    BusinessPartnerName2: '',
    FullName: order.recipient.name.slice(0, 80),
    StreetName: streetName.slice(0, 60),
    HouseNumber: houseNumber,
    CityName: order.address.city.slice(0, 40),
    District: '',
    PostalCode: order.address.postalCode,
    Region: order.address.state,
    Country: order.address.country,
    PhoneNumber: order.recipient.phone ?? '',
    FaxNumber: '',
    AddressTimeZone: tzCode,
    CorrespondenceLanguage: 'EN',
    TransportZone: order.region.slice(0, 10),
  };
  const partner = (fn: string): Wire => ({
    PartnerFunction: fn,
    SDDocument: order.deliveryId,
    SDDocumentItem: '000000',
    Customer: order.customerId,
    Supplier: '',
    Personnel: '00000000',
    ContactPerson: '',
    AddressID: numbers.addressId,
  });
  return {
    header,
    items,
    partners: [
      { partner: partner('WE'), address },
      { partner: partner('AG'), address: { ...address } },
    ],
    changedAtMs: createdMs,
    version: 0,
    pendingConcurrentEdits: 0,
  };
}
