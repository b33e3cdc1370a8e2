import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  AesGcmPayloadCodec,
  dataConverterFromConfig,
  FAILURE_CONVERTER_PATH,
  keyringFromConfig,
  PayloadKeyUnknownError,
  payloadKeyId,
} from '../../../src/platform/codec.js';
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

describe('payload keyring', () => {
  const k1 = randomBytes(32).toString('base64');
  const k2 = randomBytes(32).toString('base64');
  const ring = (keys: string) =>
    new AesGcmPayloadCodec(
      keyringFromConfig(loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_PAYLOAD_KEYS: keys }))!,
    );

  it('when the ring is k2 then k1 then new payloads name k2, and payloads written under k1 still decode', async () => {
    const [old] = await ring(`k1:${k1}`).encode([payload]);
    const rotated = ring(`k2:${k2},k1:${k1}`);
    const [fresh] = await rotated.encode([payload]);
    expect(payloadKeyId(old!)).toBe('k1');
    expect(payloadKeyId(fresh!)).toBe('k2');
    for (const p of await rotated.decode([old!, fresh!]))
      expect(defaultPayloadConverter.fromPayload(p)).toEqual(defaultPayloadConverter.fromPayload(payload));
  });

  it('when a payload names a key id the ring does not hold then decoding raises PayloadKeyUnknownError naming it', async () => {
    const [old] = await ring(`k1:${k1}`).encode([payload]);
    const err = await ring(`k2:${k2}`)
      .decode([old!])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadKeyUnknownError);
    expect(err).toMatchObject({ keyId: 'k1', knownKeyIds: ['k2'] });
    expect((err as Error).message).toMatch(/key id "k1".*SHIPSYNC_PAYLOAD_KEYS/);
  });

  it('when SHIPSYNC_PAYLOAD_KEY and its id are set then they are a one-key ring, so existing deployments keep decoding', async () => {
    const config = loadConfig({
      SHIPSYNC_ENV: 'sandbox',
      SHIPSYNC_PAYLOAD_KEY: k1,
      SHIPSYNC_PAYLOAD_KEY_ID: 'legacy',
    });
    const single = keyringFromConfig(config)!;
    expect(single.ids).toEqual(['legacy']);
    const [p] = await new AesGcmPayloadCodec(Buffer.from(k1, 'base64'), 'legacy').encode([payload]);
    await expect(ring(`k2:${k2},legacy:${k1}`).decode([p!])).resolves.toHaveLength(1);
  });

  it('when the ring is malformed then the start stops naming the key and the entry, never the key material', () => {
    const cases: [string, RegExp][] = [
      [`k1:${k1},k1:${k2}`, /key id "k1" appears twice/],
      [`k1:${k1},k2:${k1}`, /keys "k1" and "k2" are the same key/],
      ['k1:c2hvcnQ=', /key "k1": expected base64 of 32 random bytes/],
      [`bad id:${k1}`, /entry 1: expected id:base64-key/],
      [' , ', /expected id:base64-key entries/],
    ];
    for (const [value, reason] of cases) {
      const err = (() => {
        try {
          loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_PAYLOAD_KEYS: value });
        } catch (e) {
          return e as ConfigError;
        }
      })();
      expect(err, value).toBeInstanceOf(ConfigError);
      expect(err!.lines().join('\n'), value).toMatch(new RegExp(`^SHIPSYNC_PAYLOAD_KEYS: ${reason.source}`));
      expect(err!.message).not.toContain(k1);
    }
  });

  it('when the ring comes from a file then comments and blank lines are skipped; setting it twice is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipsync-keys-'));
    const file = join(dir, 'keys');
    writeFileSync(file, `# current first\nk2:${k2}\n\nk1:${k1}\n`);
    const config = loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_PAYLOAD_KEYS_FILE: file });
    expect(keyringFromConfig(config)!.ids).toEqual(['k2', 'k1']);
    expect(() =>
      loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_PAYLOAD_KEYS_FILE: file, SHIPSYNC_PAYLOAD_KEY: k1 }),
    ).toThrow(
      /SHIPSYNC_PAYLOAD_KEYS_FILE: set one of SHIPSYNC_PAYLOAD_KEY, SHIPSYNC_PAYLOAD_KEYS, SHIPSYNC_PAYLOAD_KEYS_FILE/,
    );
    expect(() =>
      loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_PAYLOAD_KEYS_FILE: join(dir, 'missing') }),
    ).toThrow(/SHIPSYNC_PAYLOAD_KEYS_FILE: cannot read .*missing: ENOENT/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('when a data converter is made from a ring then failure messages and stack traces go through the codec too', () => {
    const converter = dataConverterFromConfig(
      loadConfig({ SHIPSYNC_ENV: 'sandbox', SHIPSYNC_PAYLOAD_KEYS: `k2:${k2}` }),
    );
    expect(converter?.payloadCodecs?.[0]).toBeInstanceOf(AesGcmPayloadCodec);
    expect(converter?.failureConverterPath).toBe(FAILURE_CONVERTER_PATH);
  });
});
