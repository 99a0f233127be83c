import { describe, expect, it } from 'vitest';
import { negotiate } from '../../src/api/encoding.js';
import { parseCursor, parseEntityId, parseFlag, parseId, parseLimit, parsePartition, parseQuery } from '../../src/api/params.js';
import { isOrgError } from '../../src/errors.js';

const bad = (f: () => unknown) => {
  try {
    f();
    return false;
  } catch (e) {
    return isOrgError(e, 'BAD_REQUEST');
  }
};

describe('params', () => {
  it('accepts well-formed values and rejects the rest with BAD_REQUEST', () => {
    expect(parseId('x', '42')).toBe(42);
    for (const v of ['0', '-1', '1.5', '01', '', '9007199254740993', undefined]) expect(bad(() => parseId('x', v)), String(v)).toBe(true);
    expect(parseEntityId('r', 't9.in')).toBe('t9.in');
    for (const v of ['', 'a/b', 'a b', 'x'.repeat(65), '%2F']) expect(bad(() => parseEntityId('r', v)), v).toBe(true);
    expect(parseFlag('f', '1')).toBe(true);
    expect(parseFlag('f', undefined)).toBe(false);
    expect(bad(() => parseFlag('f', 'yes'))).toBe(true);
    expect(parseLimit(undefined, 100, 1000)).toBe(100);
    expect(parseLimit('1000', 100, 1000)).toBe(1000);
    for (const v of ['1001', '0', 'x', '-5']) expect(bad(() => parseLimit(v, 100, 1000)), v).toBe(true);
    expect(parsePartition('0')).toBe(0);
    expect(parsePartition(undefined)).toBeNull();
    expect(bad(() => parsePartition('100001'))).toBe(true);
    expect(parseCursor('3.1200', null)).toEqual({ partition: 3, order: 1200 });
    expect(bad(() => parseCursor('3.1200', 2))).toBe(true);
    expect(bad(() => parseCursor('3', null))).toBe(true);
  });

  it('parses query strings strictly', () => {
    expect(parseQuery('room=t9.in&uid=5', ['room', 'uid'])).toEqual({ room: 't9.in', uid: '5' });
    expect(bad(() => parseQuery('x=1', ['room']))).toBe(true);
    expect(bad(() => parseQuery('room=1&room=2', ['room']))).toBe(true);
    expect(bad(() => parseQuery('room=%E0%A4%A', ['room']))).toBe(true);
    expect(bad(() => parseQuery('__proto__=1', ['room']))).toBe(true);
  });

  it('negotiates encodings from Accept', () => {
    expect(negotiate('')).toBe('json');
    expect(negotiate('*/*')).toBe('json');
    expect(negotiate('application/x-msgpack')).toBe('msgpack');
    expect(negotiate('application/x-protobuf, */*;q=0.1')).toBe('proto');
  });
});
