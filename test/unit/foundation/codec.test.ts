import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { AesGcmPayloadCodec, dataConverterFromConfig } from '../../../src/platform/codec.js';
import { ConfigError, loadConfig } from '../../../src/platform/config.js';

const key = randomBytes(32);
const payload = defaultPayloadConverter.toPayload({
  recipient: { name: 'Dana Whitfield', phone: '+1 312 555 0142' },
});

describe('payload encryption', () => {
  it('when a payload is encoded then its bytes hold no personal data and decoding restores it exactly', async () => {
    const codec = new AesGcmPayloadCodec(key, 'k1');
    const [encrypted] = await codec.encode([payload]);
    expect(Buffer.from(encrypted!.data!).toString('latin1')).not.toContain('Dana');
    const [decrypted] = await codec.decode([encrypted!]);
    expect(defaultPayloadConverter.fromPayload(decrypted!)).toEqual({
      recipient: { name: 'Dana Whitfield', phone: '+1 312 555 0142' },
    });
  });

  it('when the ciphertext is tampered with then decoding fails instead of returning altered data', async () => {
    const codec = new AesGcmPayloadCodec(key, 'k1');
    const [encrypted] = await codec.encode([payload]);
    const data = Buffer.from(encrypted!.data!);
    data[data.length - 1]! ^= 1;
    await expect(codec.decode([{ ...encrypted!, data }])).rejects.toThrow();
  });

  it('when a payload was encrypted under another key id then decoding names that id', async () => {
    const [encrypted] = await new AesGcmPayloadCodec(key, 'old').encode([payload]);
    await expect(new AesGcmPayloadCodec(key, 'new').decode([encrypted!])).rejects.toThrow(/old/);
  });

  it('when no key is configured then payloads stay as they are; a malformed key stops the start', () => {
    expect(dataConverterFromConfig(loadConfig({ SHIPSYNC_ENV: 'sandbox' }))).toBeUndefined();
    expect(() => loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_PAYLOAD_KEY: 'c2hvcnQ=' })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_PAYLOAD_KEY: 'c2hvcnQ=' })).toThrow(
      /SHIPSYNC_PAYLOAD_KEY/,
    );
  });
});
