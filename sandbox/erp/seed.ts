import { Order } from '../../src/domain/model.js';
import { SeededRandom } from '../common/rng.js';
import { REGIONS, REGION_CODES, zonedTimeToUtc, type RegionDef } from './regions.js';

/** What `seed(n, opts)` may vary. */
export interface SeedOptions {
  /** Region codes to spread deliveries across (default: all of CHI, DAL, ATL, PHX, NYC). */
  regions?: string[];
  /** Planned delivery date, YYYY-MM-DD (default: the next weekday). */
  date?: string;
  /** Seed of this batch (default: derived from the sandbox seed and the batch number). */
  seed?: number;
  /** Share of deliveries whose ZIP is deliberately taken from another region (address-mismatch scenario). */
  mismatchRate?: number;
}

const COMPANY_FIRST = [
  'Lakeview',
  'Northside',
  'Riverbend',
  'Summit',
  'Harbor',
  'Prairie',
  'Granite',
  'Maple',
  'Cedar',
  'Union',
  'Liberty',
  'Pioneer',
  'Redwood',
  'Bluebird',
  'Keystone',
  'Midtown',
];
const COMPANY_SECOND = [
  'Hardware',
  'Office Supply',
  'Market',
  'Pharmacy',
  'Cafe',
  'Auto Parts',
  'Dental Group',
  'Print Shop',
  'Fitness',
  'Books',
  'Deli',
  'Garden Center',
];
const COMPANY_SUFFIX = ['Co.', 'LLC', 'Inc.', '', '', ''];
const FIRST_NAMES = [
  'Dana',
  'Marcus',
  'Priya',
  'Luis',
  'Grace',
  'Tomasz',
  'Aisha',
  'Kevin',
  'Mei',
  'Jordan',
  'Rosa',
  'Samuel',
  'Olivia',
  'Darnell',
  'Hannah',
  'Victor',
];
const LAST_NAMES = [
  'Whitfield',
  'Okafor',
  'Raman',
  'Delgado',
  'Kowalski',
  'Nguyen',
  'Brennan',
  'Haddad',
  'Lindqvist',
  'Carter',
  'Moreno',
  'Fischer',
  'Tanaka',
  'Abbott',
  'Reyes',
  'Sullivan',
];
const INSTRUCTIONS = [
  'Dock 4, call on arrival',
  'Receiving at rear entrance, ring bell',
  'Leave at loading dock',
  'Forklift on site',
  'Ask for the store manager',
  'No deliveries during lunch rush',
  'Freight elevator, 2nd floor',
  '',
  '',
  '',
];

interface CatalogItem {
  sku: string;
  description: string;
  unit: 'PAL' | 'CS';
  kgPerUnit: number;
  hazmat: boolean;
}

const CATALOG: CatalogItem[] = [
  { sku: 'PAP-A4-PAL', description: 'Copy paper, 40 cartons', unit: 'PAL', kgPerUnit: 480, hazmat: false },
  {
    sku: 'BEV-MIX-PAL',
    description: 'Mixed beverages, shrink-wrapped',
    unit: 'PAL',
    kgPerUnit: 620,
    hazmat: false,
  },
  { sku: 'CLN-SUP-PAL', description: 'Cleaning supplies', unit: 'PAL', kgPerUnit: 350, hazmat: false },
  { sku: 'HW-FAST-PAL', description: 'Fasteners assortment', unit: 'PAL', kgPerUnit: 700, hazmat: false },
  {
    sku: 'SOLV-IPA-PAL',
    description: 'Isopropyl alcohol UN1219 cl.3',
    unit: 'PAL',
    kgPerUnit: 540,
    hazmat: true,
  },
  { sku: 'AERO-PNT-CS', description: 'Aerosol paint UN1950 cl.2.1', unit: 'CS', kgPerUnit: 9, hazmat: true },
  { sku: 'OFF-TONER-CS', description: 'Toner cartridges', unit: 'CS', kgPerUnit: 8, hazmat: false },
  { sku: 'JAN-TOWEL-CS', description: 'Paper towels', unit: 'CS', kgPerUnit: 6, hazmat: false },
  { sku: 'ELEC-CBL-CS', description: 'Network cables', unit: 'CS', kgPerUnit: 12, hazmat: false },
  { sku: 'FOOD-SNK-CS', description: 'Snack assortment', unit: 'CS', kgPerUnit: 5, hazmat: false },
];

const SERVICE_DAY_PATTERNS: { days: number[]; weight: number }[] = [
  { days: [1, 2, 3, 4, 5], weight: 70 },
  { days: [1, 2, 3, 4, 5, 6], weight: 15 },
  { days: [1, 3, 5], weight: 10 },
  { days: [2, 3, 4], weight: 5 },
];

/** ISO weekday (1 = Monday) of a calendar date. */
export function isoWeekday(date: string): number {
  const d = new Date(`${date}T00:00:00Z`).getUTCDay();
  return d === 0 ? 7 : d;
}

/** The next Monday-to-Friday date after an instant, YYYY-MM-DD. */
export function nextWeekday(fromMs: number): string {
  let ms = Math.floor(fromMs / 86_400_000) * 86_400_000 + 86_400_000;
  while ([0, 6].includes(new Date(ms).getUTCDay())) ms += 86_400_000;
  return new Date(ms).toISOString().slice(0, 10);
}

function isoInstant(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, 'Z');
}

/** A customer of the ERP: the same number always has the same name, address and habits. */
interface Customer {
  id: string;
  name: string;
  phone: string;
  street: string;
  zip: { zip: string; city: string; state: string };
  serviceDays: number[];
  liftgateAtDock: boolean;
  instructions: string;
}

function weightedPick<T>(rng: SeededRandom, items: { weight: number; value: T }[]): T {
  const total = items.reduce((s, i) => s + i.weight, 0);
  let roll = rng.next() * total;
  for (const item of items) {
    roll -= item.weight;
    if (roll < 0) return item.value;
  }
  return (items[items.length - 1] as { value: T }).value;
}

function customer(region: RegionDef, regionIndex: number, number: number, baseSeed: number): Customer {
  const id = String(10_100_000 + regionIndex * 1000 + number);
  const rng = new SeededRandom((baseSeed * 2_654_435_761) ^ Number(id));
  const isBusiness = rng.chance(0.75);
  const person = `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;
  const name = isBusiness
    ? `${rng.pick(COMPANY_FIRST)} ${rng.pick(COMPANY_SECOND)} ${rng.pick(COMPANY_SUFFIX)}`.trim()
    : person;
  const zip = rng.pick(region.zips);
  return {
    id,
    name,
    phone: `+1 ${rng.pick(region.areaCodes)} 555 01${String(rng.int(0, 99)).padStart(2, '0')}`,
    street: `${rng.int(100, 4999)} ${rng.pick(region.streets)}`,
    zip: { zip: zip.zip, city: zip.city, state: zip.state },
    serviceDays: weightedPick(
      rng,
      SERVICE_DAY_PATTERNS.map((p) => ({ weight: p.weight, value: p.days })),
    ),
    liftgateAtDock: rng.chance(0.35),
    instructions: rng.pick(INSTRUCTIONS),
  };
}

/**
 * Generates `count` released outbound deliveries as canonical orders: real city/state/ZIP from the
 * gazetteer, plausible streets, names and phones (555-01xx numbers), 2 to 4 hour windows between 08:00
 * and 18:00 local time, pallets, weights and some hazmat and liftgate deliveries. The same seed and first
 * number give the same orders.
 */
export function generateOrders(
  count: number,
  firstNumber: number,
  opts: SeedOptions & { seed: number; date: string },
): Order[] {
  const regionCodes = (opts.regions?.length ? opts.regions : REGION_CODES).filter((r) =>
    Object.hasOwn(REGIONS, r),
  );
  if (regionCodes.length === 0) throw new Error('no known region among those requested');
  const rng = new SeededRandom(opts.seed);
  const weekday = isoWeekday(opts.date);
  const orders: Order[] = [];
  for (let i = 0; i < count; i++) {
    const regionCode = regionCodes[i % regionCodes.length] as string;
    const region = REGIONS[regionCode] as RegionDef;
    const cust = customer(region, REGION_CODES.indexOf(regionCode), rng.int(1, 400), opts.seed);
    let zip = cust.zip;
    if (opts.mismatchRate && rng.chance(opts.mismatchRate)) {
      const others = REGION_CODES.filter((r) => r !== regionCode);
      const foreign = rng.pick((REGIONS[rng.pick(others)] as RegionDef).zips);
      zip = { ...zip, zip: foreign.zip };
    }
    const serviceDays = [...new Set([...cust.serviceDays, weekday])].sort((a, b) => a - b);
    const length = rng.int(2, 4) * 60;
    const start = rng.int(8 * 2, (18 * 60 - length) / 30) * 30;
    const windowStart = zonedTimeToUtc(opts.date, start, region.timeZone);
    const hazmat = rng.chance(0.08);
    const palletized = rng.chance(0.75);
    const pool = CATALOG.filter((c) => (palletized ? c.unit === 'PAL' : c.unit === 'CS') && !c.hazmat);
    const lines: { item: CatalogItem; qty: number }[] = [];
    const lineCount = rng.int(1, 3);
    for (let l = 0; l < lineCount; l++) {
      const item = rng.pick(pool);
      if (lines.some((x) => x.item.sku === item.sku)) continue;
      lines.push({ item, qty: item.unit === 'PAL' ? rng.int(1, 3) : rng.int(2, 24) });
    }
    if (hazmat) {
      const item = CATALOG.find((c) => c.hazmat && c.unit === (palletized ? 'PAL' : 'CS')) as CatalogItem;
      lines.push({ item, qty: item.unit === 'PAL' ? 1 : rng.int(2, 10) });
    }
    const pallets = lines.filter((l) => l.item.unit === 'PAL').reduce((s, l) => s + l.qty, 0);
    const weightKg =
      Math.round(lines.reduce((s, l) => s + l.qty * l.item.kgPerUnit * (0.9 + rng.next() * 0.2), 0) * 10) /
      10;
    const liftgate = pallets > 0 && cust.liftgateAtDock;
    const instructions = [cust.instructions, hazmat ? 'Dangerous goods on board: papers with the driver' : '']
      .filter(Boolean)
      .join('. ');
    orders.push(
      Order.parse({
        deliveryId: String(firstNumber + i),
        customerId: cust.id,
        region: regionCode,
        recipient: { name: cust.name, phone: cust.phone },
        address: {
          street: cust.street,
          city: zip.city,
          state: zip.state,
          postalCode: zip.zip,
          country: 'US',
        },
        plannedDate: opts.date,
        requestedWindow: { start: isoInstant(windowStart), end: isoInstant(windowStart + length * 60_000) },
        serviceDays,
        weightKg,
        pallets,
        hazmat,
        liftgate,
        instructions,
        items: lines.map((l) => ({
          sku: l.item.sku,
          description: l.item.description,
          quantity: l.qty,
          unit: l.item.unit,
        })),
      }),
    );
  }
  return orders;
}
