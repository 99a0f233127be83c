import { describe, expect, it } from 'vitest';
import { negotiate } from '../../src/api/encoding.js';
import { parseCursor, parseFlag, parseId, parsePartition, parseQuery } from '../../src/api/params.js';
import { isOrgError, OrgError } from '../../src/errors.js';
import { ENTITY_ID, entityIdPattern } from '../../src/model/ids.js';
import { jsonObject, parseEntityId, parseJsonBody, parseLimit } from '../../src/model/input.js';

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
    expect(parseLimit(undefined, { def: 100, max: 1000 })).toBe(100);
    expect(parseLimit('1000', { def: 100, max: 1000 })).toBe(1000);
    for (const v of ['1001', '0', 'x', '-5']) expect(bad(() => parseLimit(v, { def: 100, max: 1000 })), v).toBe(true);
    expect(parsePartition('0')).toBe(0);
    expect(parsePartition(undefined)).toBeNull();
    expect(bad(() => parsePartition('100001'))).toBe(true);
    expect(parseCursor('3.1200', null)).toEqual({ partition: 3, order: 1200 });
    expect(bad(() => parseCursor('3.1200', 2))).toBe(true);
    expect(bad(() => parseCursor('3', null))).toBe(true);
  });

  it('reads page sizes the same for members (1..max, 0 from gRPC = unset) and signals (0..max)', () => {
    const members = { def: 100, max: 1000 };
    const signals = { max: 50, min: 0 as const };
    for (const absent of [undefined, null, '']) {
      expect(parseLimit(absent, members)).toBe(100);
      expect(parseLimit(absent, signals)).toBe(50);
    }
    expect(parseLimit(0, members)).toBe(100);
    expect(parseLimit(7, members)).toBe(7);
    expect(parseLimit(0, signals)).toBe(0);
    expect(parseLimit('0', signals)).toBe(0);
    for (const v of [1.5, -1, 1001, '1e3', ' 1', {}, true]) expect(bad(() => parseLimit(v, members)), String(v)).toBe(true);
  });

  it('has one room and node id language', () => {
    for (const id of ['main', 't9.in', 't9.g3', 't9.x1', 'root', 'a:b', 'A-Z_0.9']) expect(ENTITY_ID.test(id), id).toBe(true);
    for (const id of ['', 'a b', 'a/b', '%2F', 'é', 'x'.repeat(65)]) expect(ENTITY_ID.test(id), id).toBe(false);
    expect(entityIdPattern(128).test('x'.repeat(128))).toBe(true);
    expect(entityIdPattern(128).test('a b')).toBe(false);
    expect(bad(() => parseEntityId('roomId', 42))).toBe(true);
  });

  it('parses JSON object bodies with one rule, naming the unknown field', () => {
    expect(parseJsonBody(null, ['a'], '{"a"?: 1}')).toEqual({});
    expect(parseJsonBody(Buffer.alloc(0), [], 'no body')).toEqual({});
    expect(parseJsonBody(Buffer.from('{"a":1}'), ['a'], '{"a"?: 1}')).toEqual({ a: 1 });
    for (const body of ['{', '[1]', 'null', '"x"', '{"b":1}', '{"__proto__":1}']) {
      expect(bad(() => parseJsonBody(Buffer.from(body), ['a'], '{"a"?: 1}')), body).toBe(true);
    }
    const err = (f: () => unknown): OrgError => {
      try {
        f();
      } catch (e) {
        return e as OrgError;
      }
      throw new Error('accepted');
    };
    expect(err(() => parseJsonBody(Buffer.from('{"b":1}'), ['a'], '{"a"?: 1}'))).toMatchObject({ message: 'body.b: unknown field; send {"a"?: 1}', details: { field: 'b' } });
    expect(err(() => jsonObject({ moves: 1, x: 2 }, 'change', ['moves'])).message).toBe('change.x: unknown field');
    expect(err(() => jsonObject([], 'change')).message).toBe('change: expected an object');
    expect(err(() => jsonObject({ x: 1 }, '', [])).message).toBe('x: unknown field');
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
