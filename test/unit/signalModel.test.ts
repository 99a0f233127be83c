// The text form of signals (zset member), the read
// parameter parsing and the signal configuration checks: pure, no I/O.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { decodeSignalMember, encodeSignalMember } from '../../src/model/signal.js';
import { parseLimit } from '../../src/model/input.js';
import { parseAfter } from '../../src/services/signals.js';
import { roomBytesBound } from '../../src/skiplist/sizing.js';

describe('signal member', () => {
  it('round-trips, keeping colons inside the payload', () => {
    const s = { seq: 12, at: 1795240000000, by: 9001, data: '{"page":3,"t":"a:b:c"}' };
    expect(encodeSignalMember(s)).toBe('12:1795240000000:9001:{"page":3,"t":"a:b:c"}');
    expect(decodeSignalMember(encodeSignalMember(s))).toEqual(s);
  });
  it('rejects what publish_signal.lua never writes', () => {
    for (const m of ['', 'x', '1:2:3', '0:1:2:d', 'a:1:2:d', '1:x:2:d', '-1:1:2:d']) expect(decodeSignalMember(m)).toBeNull();
  });
});

describe('read parameters', () => {
  it('accepts seqs from 0 to MAX_SAFE_INTEGER as numbers or digit strings', () => {
    expect(parseAfter(undefined)).toBe(0);
    expect(parseAfter('0')).toBe(0);
    expect(parseAfter('17')).toBe(17);
    expect(parseAfter(String(Number.MAX_SAFE_INTEGER))).toBe(Number.MAX_SAFE_INTEGER);
    expect(parseAfter(5)).toBe(5);
  });
  it('rejects negative, non-numeric and huge afters with BAD_REQUEST', () => {
    for (const bad of ['-1', -1, 'abc', '1e3', '1.5', 1.5, ' 1', '9007199254740992', '99999999999999999', Number.MAX_SAFE_INTEGER + 1, NaN, {}, true]) {
      expect(() => parseAfter(bad), String(bad)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    }
  });
  it('bounds limit by the configured maximum', () => {
    const bounds = { max: 50, min: 0 as const };
    expect(parseLimit(undefined, bounds)).toBe(50);
    expect(parseLimit('0', bounds)).toBe(0);
    expect(parseLimit('50', bounds)).toBe(50);
    for (const bad of ['51', 51, '-1', 'x', 2.5]) expect(() => parseLimit(bad, bounds)).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
  });
});

describe('signal configuration', () => {
  it('has defaults that fit a full room in a bucket', () => {
    const c = loadConfig({});
    expect(c.signals).toMatchObject({ cache: true, cacheBuckets: 16, retain: 1000, maxPayloadBytes: 1024, maxReadLimit: 500 });
    expect(c.signals.cacheBytesPerBucket).toBeGreaterThanOrEqual(roomBytesBound(c.signals.retain, c.signals.maxPayloadBytes));
  });
  it('names the variable that is wrong', () => {
    const bad = (env: Record<string, string>, name: string) => {
      try {
        loadConfig(env);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        expect((e as ConfigError).variable).toBe(name);
        return;
      }
      throw new Error(`accepted ${JSON.stringify(env)}`);
    };
    bad({ ORGENGINE_SIGNAL_CACHE: 'yes' }, 'ORGENGINE_SIGNAL_CACHE');
    bad({ ORGENGINE_WB_MAX_STREAM_LENGTH: '10' }, 'ORGENGINE_WB_MAX_STREAM_LENGTH');
    bad({ ORGENGINE_SIGNAL_CACHE_BUCKETS: '0' }, 'ORGENGINE_SIGNAL_CACHE_BUCKETS');
    bad({ ORGENGINE_SIGNAL_RETAIN: '1.5' }, 'ORGENGINE_SIGNAL_RETAIN');
    bad({ ORGENGINE_SIGNAL_MAX_PAYLOAD_BYTES: '65536' }, 'ORGENGINE_SIGNAL_MAX_PAYLOAD_BYTES');
  });
});
