import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { PayloadKeyUnknownError, type PayloadKeyring } from '../platform/codec.js';

/** Marks a sealed column value: `enc:v1:<key id>:<base64 of iv, tag and ciphertext>`. */
const PREFIX = 'enc:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts the columns of the gateway's store that hold personal data (inbox and dead-letter bodies and
 * headers, telemetry positions) with the payload keyring: AES-256-GCM under the ring's current key, the key
 * id in the value, the column's name as additional data so a value cannot be moved to another column.
 * Values written before encryption was on (or by a process without a key) are read as they are.
 */
export interface AtRestCipher {
  /** True when values are encrypted on write. */
  readonly active: boolean;
  /** The stored form of a text value of a column. */
  seal(text: string, column: string): string;
  /** The text of a stored value (sealed or not). */
  open(stored: string, column: string): string;
}

/** Whether a stored value is sealed. */
export function isSealed(stored: unknown): boolean {
  return typeof stored === 'string' && stored.startsWith(PREFIX);
}

function openWith(keyring: PayloadKeyring | undefined, stored: string, column: string): string {
  if (!stored.startsWith(PREFIX)) return stored;
  const rest = stored.slice(PREFIX.length);
  const at = rest.indexOf(':');
  const keyId = rest.slice(0, at);
  if (!keyring) throw new PayloadKeyUnknownError(keyId, []);
  const raw = Buffer.from(rest.slice(at + 1), 'base64');
  const decipher = createDecipheriv('aes-256-gcm', keyring.key(keyId), raw.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(column));
  decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
    'utf8',
  );
}

/** Stores values as they are; still reads sealed ones when given a keyring, and names the key when not. */
export function plainColumns(keyring?: PayloadKeyring): AtRestCipher {
  return { active: false, seal: (text) => text, open: (stored, column) => openWith(keyring, stored, column) };
}

/** Seals every value with the keyring's current key; opens values under any key of the ring. */
export function sealedColumns(keyring: PayloadKeyring): AtRestCipher {
  return {
    active: true,
    seal(text, column) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', keyring.key(keyring.currentId), iv);
      cipher.setAAD(Buffer.from(column));
      const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
      const blob = Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
      return `${PREFIX}${keyring.currentId}:${blob}`;
    },
    open: (stored, column) => openWith(keyring, stored, column),
  };
}
