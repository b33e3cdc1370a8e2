import type { PropSpec, EdmType } from './odata.js';
import { sapTimestamp } from './odata.js';

/**
 * The entity types the ERP sandbox serves, named and typed as SAP S/4HANA names them, plus the `YY1_*`
 * custom fields a customer adds through key-user extensibility. Records are kept in wire form (the exact
 * JSON property values OData V2 returns), so reading never converts and `$filter` compares wire values.
 */

type Opts = Partial<Omit<PropSpec, 'name' | 'type' | 'label'>>;
const p = (name: string, type: EdmType, label: string, opts: Opts = {}): PropSpec => ({
  name,
  type,
  label,
  ...opts,
});
const str = (name: string, maxLength: number, label: string, opts: Opts = {}) =>
  p(name, 'Edm.String', label, { maxLength, ...opts });
const dec = (name: string, precision: number, scale: number, label: string, opts: Opts = {}) =>
  p(name, 'Edm.Decimal', label, { precision, scale, ...opts });
const date = (name: string, label: string, opts: Opts = {}) =>
  p(name, 'Edm.DateTime', label, { precision: 0, ...opts });

/** Properties of `A_OutbDeliveryHeader` (a representative subset of SAP's, plus the YY1 extension fields). */
export const HEADER_PROPS: PropSpec[] = [
  str('DeliveryDocument', 10, 'Delivery', { alpha: true }),
  str('DeliveryDocumentType', 4, 'Delivery Type'),
  str('SDDocumentCategory', 4, 'Document Cat.'),
  str('SalesOrganization', 4, 'Sales Org.'),
  str('SoldToParty', 10, 'Sold-To Party', { alpha: true }),
  str('ShipToParty', 10, 'Ship-To Party', { alpha: true }),
  str('ShippingPoint', 4, 'Shipping Point'),
  str('ShippingCondition', 2, 'Shipping Cond.'),
  str('ShippingType', 2, 'Shipping Type'),
  str('DeliveryPriority', 2, 'Delivery Prior.'),
  str('DeliveryBlockReason', 2, 'Delivery Block'),
  str('HeaderBillingBlockReason', 2, 'Billing Block'),
  str('TotalBlockStatus', 1, 'Overall Blk St.'),
  str('IncotermsClassification', 3, 'Incoterms'),
  str('IncotermsTransferLocation', 28, 'Incoterms 2'),
  date('DocumentDate', 'Document Date', { nullable: true }),
  date('CreationDate', 'Created On', { nullable: true }),
  p('CreationTime', 'Edm.Time', 'Time'),
  str('CreatedByUser', 12, 'Created By'),
  date('LastChangeDate', 'Changed On', { nullable: true }),
  str('LastChangedByUser', 12, 'Changed By'),
  date('PlannedGoodsIssueDate', 'Planned Gds Mvmt', { nullable: true }),
  date('LoadingDate', 'Loading Date', { nullable: true }),
  date('PickingDate', 'Pick Date', { nullable: true }),
  date('TransportationPlanningDate', 'TranspPlngDate', { nullable: true }),
  date('DeliveryDate', 'Delivery Date', { nullable: true }),
  p('DeliveryTime', 'Edm.Time', 'TimeOfDelivery'),
  date('ActualGoodsMovementDate', 'Actual GI Date', { nullable: true }),
  p('ActualGoodsMovementTime', 'Edm.Time', 'GI Time'),
  date('ProofOfDeliveryDate', 'POD Date', { nullable: true }),
  dec('HeaderGrossWeight', 15, 3, 'Total Weight'),
  dec('HeaderNetWeight', 15, 3, 'Net Weight'),
  str('HeaderWeightUnit', 3, 'Unit of Weight'),
  dec('HeaderVolume', 15, 3, 'Volume'),
  str('HeaderVolumeUnit', 3, 'Volume Unit'),
  str('TotalNumberOfPackage', 5, 'No. of Packages'),
  str('MeansOfTransport', 20, 'Mns of Trans.ID'),
  str('ProposedDeliveryRoute', 6, 'Route'),
  str('ActualDeliveryRoute', 6, 'Route'),
  str('BillOfLading', 35, 'Bill of Lading'),
  str('OverallSDProcessStatus', 1, 'Overall Status'),
  str('OverallGoodsMovementStatus', 1, 'TotalGdsMvtStat'),
  str('OverallPickingStatus', 1, 'Ovr.Pick.Status'),
  str('OverallPackingStatus', 1, 'Packing Status'),
  str('OverallDelivReltdBillgStatus', 1, 'Billing Status'),
  str('OverallProofOfDeliveryStatus', 1, 'POD Status'),
  str('TransactionCurrency', 5, 'Doc. Currency'),
  str('Shippinglocationtimezone', 6, 'Del. loc. tzone'),
  str('Receivinglocationtimezone', 6, 'Rec. time zone'),
  str('YY1_DispatchRegion_DLH', 8, 'Dispatch Region', { extension: true }),
  p('YY1_DelivWindowStart_DLH', 'Edm.DateTimeOffset', 'Requested Window Start', {
    extension: true,
    nullable: true,
  }),
  p('YY1_DelivWindowEnd_DLH', 'Edm.DateTimeOffset', 'Requested Window End', {
    extension: true,
    nullable: true,
  }),
  str('YY1_ServiceDays_DLH', 7, 'Service Days (ISO 1-7)', { extension: true }),
  p('YY1_Pallets_DLH', 'Edm.Int16', 'Pallets', { extension: true }),
  p('YY1_HazmatIndicator_DLH', 'Edm.Boolean', 'Dangerous Goods', { extension: true }),
  p('YY1_LiftgateRequired_DLH', 'Edm.Boolean', 'Liftgate Required', { extension: true }),
  str('YY1_DeliveryInstructions_DLH', 255, 'Delivery Instructions', { extension: true }),
  p('YY1_CommittedETA_DLH', 'Edm.DateTimeOffset', 'Committed ETA', { extension: true, nullable: true }),
];

/** Header properties a PATCH/MERGE may change; every other property is read-only. */
export const HEADER_UPDATABLE = new Set([
  'DeliveryDate',
  'DeliveryTime',
  'DeliveryPriority',
  'BillOfLading',
  'MeansOfTransport',
  'HeaderGrossWeight',
  'YY1_DelivWindowStart_DLH',
  'YY1_DelivWindowEnd_DLH',
  'YY1_DeliveryInstructions_DLH',
  'YY1_CommittedETA_DLH',
]);

/** Properties of `A_OutbDeliveryItem`. */
export const ITEM_PROPS: PropSpec[] = [
  str('DeliveryDocument', 10, 'Delivery', { alpha: true }),
  str('DeliveryDocumentItem', 6, 'Item', { alpha: true }),
  str('DeliveryDocumentItemCategory', 4, 'Item category'),
  str('Material', 40, 'Material'),
  str('MaterialByCustomer', 35, 'Customer Material'),
  str('DeliveryDocumentItemText', 40, 'Description'),
  dec('ActualDeliveryQuantity', 13, 3, 'Delivery qty'),
  str('DeliveryQuantityUnit', 3, 'Sales Unit'),
  dec('ItemGrossWeight', 15, 3, 'Gross Weight'),
  dec('ItemNetWeight', 15, 3, 'Net Weight'),
  str('ItemWeightUnit', 3, 'Unit of Weight'),
  str('Plant', 4, 'Plant'),
  str('StorageLocation', 4, 'Stor. Location'),
  str('ReferenceSDDocument', 10, 'Reference Document', { alpha: true }),
  str('ReferenceSDDocumentItem', 6, 'Reference Item', { alpha: true }),
  str('GoodsMovementStatus', 1, 'GoodsMovementSt'),
  str('PickingStatus', 1, 'Picking Status'),
  str('SDProcessStatus', 1, 'Overall Status'),
];

/** Properties of `A_OutbDeliveryPartner`. */
export const PARTNER_PROPS: PropSpec[] = [
  str('PartnerFunction', 2, 'Partner Functn'),
  str('SDDocument', 10, 'SD Document', { alpha: true }),
  str('SDDocumentItem', 6, 'Item'),
  str('Customer', 10, 'Customer', { alpha: true }),
  str('Supplier', 10, 'Supplier'),
  str('Personnel', 8, 'Personnel No.'),
  str('ContactPerson', 10, 'Contact Person'),
  str('AddressID', 10, 'Address Number'),
];

/** Properties of `A_OutbDeliveryAddress` (its odd three-part key is SAP's). */
export const ADDRESS_PROPS: PropSpec[] = [
  str('AddressID', 10, 'Address Number'),
  str('POBox', 10, 'PO Box'),
  str('POBoxDeviatingCountry', 3, 'PO Box C/R'),
  str('BusinessPartnerName1', 40, 'Name'),
  str('BusinessPartnerName2', 40, 'Name 2'),
  str('FullName', 80, 'Full Name'),
  str('StreetName', 60, 'Street'),
  str('HouseNumber', 10, 'House Number'),
  str('CityName', 40, 'City'),
  str('District', 40, 'District'),
  str('PostalCode', 10, 'Postal Code'),
  str('Region', 3, 'Region'),
  str('Country', 3, 'Country/Reg.'),
  str('PhoneNumber', 30, 'Telephone'),
  str('FaxNumber', 30, 'Fax'),
  str('AddressTimeZone', 6, 'Time Zone'),
  str('CorrespondenceLanguage', 2, 'Language'),
  str('TransportZone', 10, 'Transport Zone'),
];

/** Properties of the custom business object `YY1_ShipmentMilestone`. */
export const MILESTONE_PROPS: PropSpec[] = [
  p('SAP_UUID', 'Edm.Guid', 'UUID'),
  str('DeliveryDocument', 10, 'Delivery', { alpha: true }),
  str('MilestoneCode', 20, 'Milestone'),
  p('AttemptNumber', 'Edm.Int16', 'Attempt'),
  p('OccurredAt', 'Edm.DateTimeOffset', 'Occurred At'),
  p('PlannedETA', 'Edm.DateTimeOffset', 'Planned ETA', { nullable: true }),
  str('Note', 255, 'Note'),
  p('SAP_CreatedDateTime', 'Edm.DateTimeOffset', 'Created On'),
  str('SAP_CreatedByUser', 12, 'Created By'),
];

/** Milestone codes the `YY1_ShipmentMilestone` object accepts. */
export const MILESTONE_CODES = [
  'PLANNED',
  'DISPATCHED',
  'DELAYED',
  'DELIVERED',
  'FAILED_ATTEMPT',
  'RETURNED',
  'BILLED',
  'CANCELLED',
] as const;

/** Properties of `A_BillingDocumentRequest`. */
export const BILLING_PROPS: PropSpec[] = [
  str('BillingDocumentRequest', 10, 'Billing Doc. Request', { alpha: true }),
  str('BillingDocumentRequestType', 4, 'BDR Type'),
  str('SalesOrganization', 4, 'Sales Org.'),
  str('DistributionChannel', 2, 'Distr. Channel'),
  str('Division', 2, 'Division'),
  str('SoldToParty', 10, 'Sold-To Party', { alpha: true }),
  str('PayerParty', 10, 'Payer', { alpha: true }),
  str('ReferenceDocument', 10, 'Reference Document', { alpha: true }),
  str('PurchaseOrderByCustomer', 35, 'Customer Reference'),
  date('BillingDocumentDate', 'Billing Date', { nullable: true }),
  date('CreationDate', 'Created On', { nullable: true }),
  p('CreationTime', 'Edm.Time', 'Time'),
  str('TransactionCurrency', 5, 'Doc. Currency'),
  dec('TotalNetAmount', 15, 2, 'Net Value'),
  str('OverallBillingDocReqStatus', 1, 'Overall Status'),
  str('YY1_ApprovedBy_BDR', 40, 'Approved By', { extension: true }),
  str('YY1_SecondApprovedBy_BDR', 40, 'Second Approver', { extension: true }),
  str('YY1_PricingVersion_BDR', 40, 'Pricing Version', { extension: true }),
];

/** Properties of `A_BillingDocumentRequestItem`. */
export const BILLING_ITEM_PROPS: PropSpec[] = [
  str('BillingDocumentRequest', 10, 'Billing Doc. Request', { alpha: true }),
  str('BillingDocumentRequestItem', 6, 'Item', { alpha: true }),
  str('Material', 40, 'Material'),
  str('BillingDocumentRequestItemText', 40, 'Item Description'),
  dec('BillingQuantity', 13, 3, 'Billed Quantity'),
  str('BillingQuantityUnit', 3, 'Sales Unit'),
  dec('NetAmount', 15, 2, 'Net Value'),
  str('TransactionCurrency', 5, 'Doc. Currency'),
  dec('YY1_UnitPrice_BDI', 15, 2, 'Unit Price', { extension: true }),
];

/** Properties of `A_SlsPrcgConditionRecord` (API_SLSPRICINGCONDITIONRECORD_SRV), a representative subset. */
export const CONDITION_PROPS: PropSpec[] = [
  str('ConditionRecord', 10, 'Condition record no.', { alpha: true }),
  str('ConditionSequentialNumber', 2, 'Sequential No.'),
  str('ConditionTable', 3, 'Condition table'),
  str('ConditionApplication', 2, 'Application'),
  str('ConditionType', 4, 'Condition Type'),
  date('ConditionValidityStartDate', 'Valid From'),
  date('ConditionValidityEndDate', 'Valid To'),
  str('CreatedByUser', 12, 'Created By'),
  date('CreationDate', 'Created On', { nullable: true }),
  str('ConditionTextID', 32, 'Text ID'),
  str('ConditionCalculationType', 3, 'Calculation Type'),
  dec('ConditionRateValue', 24, 9, 'Amount'),
  str('ConditionRateValueUnit', 5, 'Condition Currency'),
  dec('ConditionQuantity', 5, 0, 'Pricing Unit'),
  str('ConditionQuantityUnit', 3, 'Unit of Measure'),
  p('ConditionIsDeleted', 'Edm.Boolean', 'Deletion Indicator'),
  str('ConditionReleaseStatus', 1, 'Release Status'),
  p('LastChangeDateTime', 'Edm.DateTimeOffset', 'Last Changed'),
];

/** One condition record: its wire form and a change counter that moves its ETag. */
export interface ConditionRecord {
  wire: Wire;
  version: number;
}

/** The ETag of a condition record, from its last change. */
export function conditionEtag(rec: ConditionRecord): string {
  const ms = Number(/-?\d+/.exec(String(rec.wire.LastChangeDateTime))?.[0] ?? 0);
  return `W/"'${sapTimestamp(ms, rec.version % 10_000)}'"`;
}

/** A wire-form entity: OData property name to JSON value. */
export type Wire = Record<string, unknown>;

/** One outbound delivery as the sandbox stores it. */
export interface DeliveryRecord {
  header: Wire;
  items: Wire[];
  partners: { partner: Wire; address: Wire }[];
  /** Time of the last change (epoch ms); with the version it makes the ETag. */
  changedAtMs: number;
  /** Bumped on every change, so two changes within one millisecond still get different ETags. */
  version: number;
  /** Conditional writes still to be preceded by a simulated edit of another user (a sandbox fault). */
  pendingConcurrentEdits: number;
}

/** One milestone posted to `YY1_ShipmentMilestone`. */
export interface MilestoneRecord {
  seq: number;
  wire: Wire;
  repeatabilityRequestId?: string;
}

/** One billing document request. */
export interface BillingRecord {
  header: Wire;
  items: Wire[];
  repeatabilityRequestId?: string;
}

/** The ETag of a delivery, in SAP's weak timestamp form `W/"'20261130170000.1234567'"`. */
export function deliveryEtag(rec: DeliveryRecord): string {
  return `W/"'${sapTimestamp(rec.changedAtMs, rec.version % 10_000)}'"`;
}

/** Marks a delivery changed now; the version bump moves its ETag even within one millisecond. */
export function touch(rec: DeliveryRecord, nowMs: number, user = 'SHIPSYNC_COMM'): void {
  rec.changedAtMs = Math.max(nowMs, rec.changedAtMs);
  rec.version += 1;
  const day = Math.floor(nowMs / 86_400_000) * 86_400_000;
  rec.header.LastChangeDate = `/Date(${day})/`;
  rec.header.LastChangedByUser = user;
}

/** Lookup tables from property name to spec. */
export const propMap = (props: PropSpec[]) => new Map(props.map((s) => [s.name, s]));
