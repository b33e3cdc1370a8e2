import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { ShipsyncError } from '../domain/errors.js';
import type { Config, PayloadKeyConfig } from './config.js';

const ENCODING = 'binary/encrypted';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Metadata key naming the key a payload was encrypted with. */
export const KEY_ID_METADATA = 'encryption-key-id';

/** True when this module runs compiled from `dist/src/` (`npm run build`), false when run from source. */
const COMPILED = import.meta.url.endsWith('.js');
/**
 * The failure converter module (`failure-converter.ts`) by path, as the Temporal SDK loads it: into the
 * workflow bundle and in the worker's and clients' own thread.
 */
export const FAILURE_CONVERTER_PATH = fileURLToPath(
  new URL(COMPILED ? './failure-converter.js' : './failure-converter.ts', import.meta.url),
);

/** Raised when a payload names a key id this process's keyring does not hold; names that id. */
export class PayloadKeyUnknownError extends ShipsyncError {
  constructor(
    readonly keyId: string,
    readonly knownKeyIds: readonly string[],
  ) {
    super(
      'CONFIG_INVALID',
      `payload encrypted with key id "${keyId}", which is not in this process's keyring (${knownKeyIds.join(', ')}): add that key to SHIPSYNC_PAYLOAD_KEYS`,
      { field: 'SHIPSYNC_PAYLOAD_KEYS' },
    );
    this.name = 'PayloadKeyUnknownError';
  }
}

/** The payload keys of a process: the current one encrypts, every one decrypts. */
export class PayloadKeyring {
  private readonly keys: ReadonlyMap<string, Buffer>;
  /** Id of the key new payloads are encrypted with. */
  readonly currentId: string;

  constructor(keys: readonly { id: string; key: Buffer }[]) {
    const [current] = keys;
    if (!current) throw new ShipsyncError('CONFIG_INVALID', 'a payload keyring needs at least one key');
    for (const k of keys) {
      if (k.key.length !== 32)
        throw new ShipsyncError(
          'CONFIG_INVALID',
          `payload key "${k.id}" must be 32 bytes (base64 of 32 random bytes)`,
        );
    }
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
    if (this.keys.size !== keys.length)
      throw new ShipsyncError('CONFIG_INVALID', 'a key id appears twice in the payload keyring');
    this.currentId = current.id;
  }

  /** The ring of `id:base64` entries as configured. */
  static fromConfig(keys: readonly PayloadKeyConfig[]): PayloadKeyring {
    return new PayloadKeyring(keys.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64') })));
  }

  /** Every key id, the current one first. */
  get ids(): string[] {
    return [...this.keys.keys()];
  }

  /** The key of an id; throws PayloadKeyUnknownError when the ring does not hold it. */
  key(id: string): Buffer {
    const key = this.keys.get(id);
    if (!key) throw new PayloadKeyUnknownError(id, this.ids);
    return key;
  }
}

/**
 * Encrypts every payload (workflow inputs, signals, results, failure messages: they hold names, phones,
 * addresses and signatures) with AES-256-GCM before it leaves the process, so Temporal's store and history
 * only ever see ciphertext. Each payload names its key id, so keys rotate: new payloads take the ring's
 * current key, and payloads written under an older key still decrypt while that key stays in the ring.
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  readonly keyring: PayloadKeyring;

  /** A codec over a keyring, or over one key and its id (a one-key ring). */
  constructor(keyOrRing: Buffer | PayloadKeyring, keyId?: string) {
    if (keyOrRing instanceof PayloadKeyring) this.keyring = keyOrRing;
    else {
      if (keyOrRing.length !== 32)
        throw new ShipsyncError('CONFIG_INVALID', 'payload key must be 32 bytes (base64 of 32 random bytes)');
      this.keyring = new PayloadKeyring([{ id: keyId ?? 'k1', key: keyOrRing }]);
    }
  }

  /** Encrypts payloads with the current key; the whole original payload (metadata and data) becomes the ciphertext. */
  async encode(payloads: Payload[]): Promise<Payload[]> {
    const keyId = this.keyring.currentId;
    const key = this.keyring.key(keyId);
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, key, iv);
      const plain = Buffer.from(
        JSON.stringify({ metadata: mapToBase64(payload.metadata), data: b64(payload.data) }),
      );
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return {
        metadata: { encoding: Buffer.from(ENCODING), [KEY_ID_METADATA]: Buffer.from(keyId) },
        data: Buffer.concat([iv, cipher.getAuthTag(), body]),
      };
    });
  }

  /**
   * Decrypts payloads this codec's keys encrypted; others pass through unchanged. A payload under a key id
   * the ring does not hold raises PayloadKeyUnknownError naming it.
   */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCODING) return payload;
      const keyId = Buffer.from(payload.metadata?.[KEY_ID_METADATA] ?? []).toString();
      const key = this.keyring.key(keyId);
      const raw = Buffer.from(payload.data ?? []);
      const decipher = createDecipheriv(ALGORITHM, key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
      const parsed = JSON.parse(plain.toString()) as { metadata: Record<string, string>; data: string };
      return {
        metadata: Object.fromEntries(
          Object.entries(parsed.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
        ),
        data: Buffer.from(parsed.data, 'base64'),
      };
    });
  }
}

/** The key id a stored payload names, or undefined when it is not encrypted by shipsync. */
export function payloadKeyId(payload: Payload): string | undefined {
  if (Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCODING) return undefined;
  return Buffer.from(payload.metadata?.[KEY_ID_METADATA] ?? []).toString();
}

function b64(bytes: Uint8Array | null | undefined): string {
  return Buffer.from(bytes ?? []).toString('base64');
}

function mapToBase64(metadata: Payload['metadata']): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, b64(v)]));
}

/** The configuration keys that make up the payload keyring. */
export type PayloadKeyKeys = 'SHIPSYNC_PAYLOAD_KEY' | 'SHIPSYNC_PAYLOAD_KEY_ID' | 'SHIPSYNC_PAYLOAD_KEYS';

/**
 * The configured keyring: SHIPSYNC_PAYLOAD_KEYS (or its file, read by loadConfig), else SHIPSYNC_PAYLOAD_KEY
 * as a one-key ring under SHIPSYNC_PAYLOAD_KEY_ID; undefined when no key is configured.
 */
export function keyringFromConfig(config: Partial<Pick<Config, PayloadKeyKeys>>): PayloadKeyring | undefined {
  if (config.SHIPSYNC_PAYLOAD_KEYS?.length) return PayloadKeyring.fromConfig(config.SHIPSYNC_PAYLOAD_KEYS);
  if (!config.SHIPSYNC_PAYLOAD_KEY) return undefined;
  return new PayloadKeyring([
    {
      id: config.SHIPSYNC_PAYLOAD_KEY_ID ?? 'k1',
      key: Buffer.from(config.SHIPSYNC_PAYLOAD_KEY, 'base64'),
    },
  ]);
}

/** The data converter of an encrypting process: the keyring's codec, and failure messages encoded too. */
export function encryptingDataConverter(keyring: PayloadKeyring): DataConverter {
  return {
    payloadCodecs: [new AesGcmPayloadCodec(keyring)],
    failureConverterPath: FAILURE_CONVERTER_PATH,
  };
}

/** The data converter for clients and workers: encrypting when a payload key is configured, default otherwise. */
export function dataConverterFromConfig(
  config: Partial<Pick<Config, PayloadKeyKeys>>,
): DataConverter | undefined {
  const keyring = keyringFromConfig(config);
  return keyring ? encryptingDataConverter(keyring) : undefined;
}
