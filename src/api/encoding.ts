// Response encodings chosen by Accept: JSON (default), msgpack, protobuf. A
// cached view is the same object on every hit, so its encoded bytes are kept
// with it (in the view's notes, model/preEncoded.ts, else in a WeakMap beside
// it) and a warm request encodes nothing; a view built from pre-encoded
// fragments is not walked by JSON.stringify.
import { Packr } from 'msgpackr';
import { notesOf, preEncodedJson } from '../model/preEncoded.js';
import type { OrgError } from '../errors.js';
import { encodeProto } from './proto.js';

/** A response encoding. */
export type Format = 'json' | 'msgpack' | 'proto';

/** Content-Type of each format. */
export const CONTENT_TYPES: Record<Format, string> = {
  json: 'application/json',
  msgpack: 'application/x-msgpack',
  proto: 'application/x-protobuf',
};

/** The format an Accept header asks for; JSON unless msgpack or protobuf is named. */
export function negotiate(accept: string): Format {
  if (accept.length === 0) return 'json';
  if (accept.includes('application/x-protobuf') || accept.includes('application/protobuf')) return 'proto';
  if (accept.includes('application/x-msgpack') || accept.includes('application/msgpack')) return 'msgpack';
  return 'json';
}

// Plain msgpack (no records/extensions) so any client library decodes it.
const packr = new Packr({ useRecords: false, moreTypes: false });

type Encoded = Partial<Record<Format, Buffer>>;
const memo = new WeakMap<object, Encoded>();

/** Encodes `value` (the JSON shape of proto message `protoName`) in `format`, memoised per object. */
export function encode(format: Format, protoName: string, value: object): Buffer {
  const notes = notesOf(value);
  let e = notes ? notes.encoded : memo.get(value);
  const hit = e?.[format];
  if (hit) return hit;
  let out: Buffer;
  // A view stitched from pre-encoded fragments (model/preEncoded.ts) carries its JSON already.
  if (format === 'json') out = Buffer.from(preEncodedJson(value) ?? JSON.stringify(value));
  else if (format === 'msgpack') out = packr.pack(value);
  else {
    const u = encodeProto(protoName, value);
    out = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  }
  if (!e) {
    e = {};
    if (notes) notes.encoded = e;
    else memo.set(value, e);
  }
  e[format] = out;
  return out;
}

/** Encodes an error body: {error: {code, message, details?}} (protobuf: ErrorBody with details as JSON text). */
export function encodeError(format: Format, err: OrgError): Buffer {
  const body = { error: err.toJSON() };
  if (format === 'json') return Buffer.from(JSON.stringify(body));
  if (format === 'msgpack') return packr.pack(body);
  const u = encodeProto('orgengine.v1.ErrorBody', {
    error: { code: err.code, message: err.message, detailsJson: err.details ? JSON.stringify(err.details) : '' },
  });
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}
