// Blob encoding of room, node and position values: plain msgpack (no msgpackr
// records or extensions), so Redis Lua's cmsgpack can decode it too.
import { Packr } from 'msgpackr';

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' });

/** Encodes a value to a msgpack Buffer. */
export function pack(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes a msgpack Buffer. */
export function unpack<T>(buf: Buffer | Uint8Array): T {
  return packr.unpack(buf) as T;
}
