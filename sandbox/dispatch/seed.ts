import { SeededRandom } from '../common/rng.js';
import { secondsOfHhMm } from '../../src/domain/local-time.js';
import type { LngLat, OnfleetHub, OnfleetTeam, OnfleetWorker } from './onfleet.js';

/** One region's team: where its hub is, its time zone and how many drivers it has. */
export interface TeamSeed {
  /** shipsync region code; also the team's name, which is how the adapter finds the team. */
  region: string;
  timezone: string;
  hub: LngLat;
  city: string;
  state: string;
  street?: string;
  postalCode?: string;
  /** Drivers in the team (default 28, enough for about 200 stops of a few pallets a day). */
  workers?: number;
  /** Shift start, local "HH:MM" (default 08:00). */
  shiftStart?: string;
  /** Shift end, local "HH:MM" (default 18:00). */
  shiftEnd?: string;
}

/** The five regions shipsync serves out of the box, each with a hub in its city. */
export const DEFAULT_TEAMS: readonly TeamSeed[] = [
  {
    region: 'CHI',
    timezone: 'America/Chicago',
    hub: [-87.6553, 41.8532],
    city: 'Chicago',
    state: 'IL',
    street: '2100 S Morgan St',
    postalCode: '60608',
  },
  {
    region: 'DAL',
    timezone: 'America/Chicago',
    hub: [-96.8237, 32.7831],
    city: 'Dallas',
    state: 'TX',
    street: '2500 Irving Blvd',
    postalCode: '75207',
  },
  {
    region: 'ATL',
    timezone: 'America/New_York',
    hub: [-84.4208, 33.7785],
    city: 'Atlanta',
    state: 'GA',
    street: '1000 Marietta St NW',
    postalCode: '30318',
  },
  {
    region: 'PHX',
    timezone: 'America/Phoenix',
    hub: [-112.0296, 33.4262],
    city: 'Phoenix',
    state: 'AZ',
    street: '2020 E University Dr',
    postalCode: '85034',
  },
  {
    region: 'NYC',
    timezone: 'America/New_York',
    hub: [-73.9366, 40.7445],
    city: 'Long Island City',
    state: 'NY',
    street: '47-00 33rd St',
    postalCode: '11101',
  },
];

/** Skills a vehicle can have; tasks that need one go only to vehicles that have it. */
export const VEHICLE_SKILLS = ['liftgate', 'hazmat'] as const;
/** A vehicle skill. */
export type VehicleSkill = (typeof VEHICLE_SKILLS)[number];

/** What the sandbox knows about a driver beyond the Onfleet worker object. */
export interface WorkerProfile {
  workerId: string;
  teamId: string;
  region: string;
  timezone: string;
  capacity: number;
  shiftStartSec: number;
  shiftEndSec: number;
  skills: VehicleSkill[];
}

/** The seeded organisation: hubs, teams, workers and the driver profiles behind them. */
export interface SeededOrganization {
  organizationId: string;
  adminId: string;
  hubs: OnfleetHub[];
  teams: OnfleetTeam[];
  workers: OnfleetWorker[];
  profiles: Map<string, WorkerProfile>;
  teamSeeds: Map<string, TeamSeed>;
}

const ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~*';

/** Onfleet-looking ids (24 characters) from a seeded generator, so a seed always yields the same ids. */
export class IdFactory {
  private readonly rng: SeededRandom;
  constructor(seed: number) {
    this.rng = new SeededRandom(seed);
  }
  /** A 24-character Onfleet-style id. */
  next(): string {
    let id = '';
    for (let i = 0; i < 24; i++) id += ID_ALPHABET[this.rng.int(0, ID_ALPHABET.length - 1)];
    return id;
  }
  /** An 8-character lowercase hex short id, as in tracking links. */
  shortId(): string {
    let s = '';
    for (let i = 0; i < 8; i++) s += this.rng.int(0, 15).toString(16);
    return s;
  }
}

const FIRST_NAMES = [
  'Ana',
  'Ben',
  'Carla',
  'Dev',
  'Elena',
  'Femi',
  'Gus',
  'Hana',
  'Ivan',
  'Jo',
  'Kofi',
  'Lena',
  'Marco',
  'Nia',
  'Omar',
  'Priya',
  'Quinn',
  'Rosa',
  'Sam',
  'Tomas',
  'Uma',
  'Vic',
  'Wen',
  'Yara',
];
const LAST_NAMES = [
  'Alvarez',
  'Brooks',
  'Chen',
  'Diallo',
  'Evans',
  'Fischer',
  'Garcia',
  'Hughes',
  'Ito',
  'Jensen',
  'Kowalski',
  'Lopez',
  'Mensah',
  'Novak',
  'Okafor',
  'Patel',
  'Reyes',
  'Silva',
  'Tran',
  'Ueda',
  'Vargas',
  'Walsh',
  'Young',
  'Zimmer',
];
const AREA_CODES: Record<string, string> = { CHI: '312', DAL: '214', ATL: '404', PHX: '602', NYC: '718' };
const COLORS = ['white', 'silver', 'blue', 'red', 'grey'];
/** Box trucks and straight trucks, capacity in pallets. */
const TRUCKS = [
  { description: 'Box truck 16 ft', capacity: 14 },
  { description: 'Box truck 20 ft', capacity: 18 },
  { description: 'Box truck 24 ft', capacity: 22 },
  { description: 'Straight truck 26 ft', capacity: 26 },
];

/** Builds the organisation from a seed: one team and hub per region, drivers with trucks and shifts. */
export function seedOrganization(
  seed: number,
  teamSeeds: readonly TeamSeed[],
  nowMs: number,
): SeededOrganization {
  const ids = new IdFactory(seed ^ 0x0f1ee7);
  const rng = new SeededRandom(seed ^ 0xd71e);
  const organizationId = ids.next();
  const adminId = ids.next();
  const hubs: OnfleetHub[] = [];
  const teams: OnfleetTeam[] = [];
  const workers: OnfleetWorker[] = [];
  const profiles = new Map<string, WorkerProfile>();
  const seedsByTeam = new Map<string, TeamSeed>();
  for (const t of teamSeeds) {
    const hubId = ids.next();
    const teamId = ids.next();
    const [number, ...rest] = (t.street ?? '1 Depot Rd').split(' ');
    hubs.push({
      id: hubId,
      name: `${t.city} hub`,
      location: t.hub,
      address: {
        number: number ?? '',
        street: rest.join(' '),
        apartment: '',
        city: t.city,
        state: t.state,
        postalCode: t.postalCode ?? '',
        country: 'United States',
      },
      teams: [teamId],
    });
    const team: OnfleetTeam = {
      id: teamId,
      timeCreated: nowMs,
      timeLastModified: nowMs,
      name: t.region,
      workers: [],
      managers: [adminId],
      hub: hubId,
      enableSelfAssignment: false,
    };
    teams.push(team);
    seedsByTeam.set(teamId, t);
    const shiftStart = t.shiftStart ?? '08:00';
    const shiftEnd = t.shiftEnd ?? '18:00';
    const count = t.workers ?? 28;
    for (let i = 0; i < count; i++) {
      const workerId = ids.next();
      const truck = rng.pick(TRUCKS);
      const skills: ('liftgate' | 'hazmat')[] = [];
      if (rng.chance(0.6)) skills.push('liftgate');
      if (rng.chance(0.25)) skills.push('hazmat');
      const name = `${rng.pick(FIRST_NAMES)} ${rng.pick(LAST_NAMES)}`;
      workers.push({
        id: workerId,
        timeCreated: nowMs,
        timeLastModified: nowMs,
        organization: organizationId,
        name,
        displayName: name.split(' ')[0] ?? name,
        phone: `+1${AREA_CODES[t.region] ?? '555'}555${String(100 + i).padStart(4, '0')}`,
        activeTask: null,
        tasks: [],
        onDuty: false,
        isResponding: false,
        timeLastSeen: null,
        capacity: truck.capacity,
        accountStatus: 'ACCEPTED',
        teams: [teamId],
        location: null,
        vehicle: {
          id: ids.next(),
          type: 'TRUCK',
          description: truck.description,
          licensePlate: `${t.region}-${String(rng.int(1000, 9999))}`,
          color: rng.pick(COLORS),
          capacity: truck.capacity,
        },
        metadata: [
          { name: 'shiftStart', type: 'string', value: shiftStart, visibility: ['api'] },
          { name: 'shiftEnd', type: 'string', value: shiftEnd, visibility: ['api'] },
          { name: 'skills', type: 'array', value: [...skills], visibility: ['api'] },
        ],
        addresses: { routing: null },
      });
      team.workers.push(workerId);
      profiles.set(workerId, {
        workerId,
        teamId,
        region: t.region,
        timezone: t.timezone,
        capacity: truck.capacity,
        shiftStartSec: secondsOfHhMm(shiftStart),
        shiftEndSec: secondsOfHhMm(shiftEnd),
        skills,
      });
    }
  }
  return { organizationId, adminId, hubs, teams, workers, profiles, teamSeeds: seedsByTeam };
}
