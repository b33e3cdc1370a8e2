import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { ShipsyncError } from '../domain/errors.js';
import type { Config } from './config.js';

const ENCODING = 'binary/encrypted';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts every payload (workflow inputs, signals, results: they hold names, phones, addresses and
 * signatures) with AES-256-GCM before it leaves the process, so Temporal's store and history only ever
 * see ciphertext. The key id travels in the metadata, so keys can rotate.
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  constructor(
    private readonly key: Buffer,
    private readonly keyId: string,
  ) {
    if (key.length !== 32)
      throw new ShipsyncError('CONFIG_INVALID', 'payload key must be 32 bytes (base64 of 32 random bytes)');
  }

  /** Encrypts payloads; the whole original payload (metadata and data) becomes the ciphertext. */
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, this.key, iv);
      const plain = Buffer.from(
        JSON.stringify({ metadata: mapToBase64(payload.metadata), data: b64(payload.data) }),
      );
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return {
        metadata: { encoding: Buffer.from(ENCODING), 'encryption-key-id': Buffer.from(this.keyId) },
        data: Buffer.concat([iv, cipher.getAuthTag(), body]),
      };
    });
  }

  /** Decrypts payloads this codec encrypted; others pass through unchanged. */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (Buffer.from(payload.metadata?.encoding ?? []).toString() !== ENCODING) return payload;
      const keyId = Buffer.from(payload.metadata?.['encryption-key-id'] ?? []).toString();
      if (keyId !== this.keyId)
        throw new ShipsyncError('CONFIG_INVALID', `payload encrypted with unknown key id "${keyId}"`);
      const raw = Buffer.from(payload.data ?? []);
      const decipher = createDecipheriv(ALGORITHM, this.key, raw.subarray(0, IV_BYTES));
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

function b64(bytes: Uint8Array | null | undefined): string {
  return Buffer.from(bytes ?? []).toString('base64');
}

function mapToBase64(metadata: Payload['metadata']): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, b64(v)]));
}

/** The data converter for clients and workers: encrypting when SHIPSYNC_PAYLOAD_KEY is set, default otherwise. */
export function dataConverterFromConfig(
  config: Pick<Config, 'SHIPSYNC_PAYLOAD_KEY' | 'SHIPSYNC_PAYLOAD_KEY_ID'>,
): DataConverter | undefined {
  if (!config.SHIPSYNC_PAYLOAD_KEY) return undefined;
  return {
    payloadCodecs: [
      new AesGcmPayloadCodec(
        Buffer.from(config.SHIPSYNC_PAYLOAD_KEY, 'base64'),
        config.SHIPSYNC_PAYLOAD_KEY_ID,
      ),
    ],
  };
}
