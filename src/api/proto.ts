// The wire schema, loaded at run time from proto/ (the source of truth) with
// protobufjs: nothing is generated, so nothing can drift from the .proto files.
// protobufjs compiles an encoder/decoder per message type on first use.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** Directory holding the .proto files. */
export const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));

/** Files loaded into the root. */
export const PROTO_FILES = ['orgengine/v1/types.proto', 'orgengine/v1/read_service.proto', 'orgengine/v1/signal_service.proto', 'orgengine/v1/mutation_service.proto', 'orgengine/v1/score_service.proto', 'orgengine/v1/push.proto', 'orgengine/v1/token_service.proto', 'orgengine/v1/interaction_service.proto', 'grpc/health/v1/health.proto'];

let root: protobuf.Root | undefined;

/** The loaded schema (loaded once). */
export function protoRoot(): protobuf.Root {
  if (!root) {
    const r = new protobuf.Root();
    r.resolvePath = (_origin, target) => `${PROTO_DIR}${target}`;
    r.loadSync(PROTO_FILES, { keepCase: false });
    r.resolveAll();
    root = r;
  }
  return root;
}

const types = new Map<string, protobuf.Type>();

/** A message type by full name, e.g. 'orgengine.v1.EnterView'. */
export function protoType(name: string): protobuf.Type {
  let t = types.get(name);
  if (!t) {
    t = protoRoot().lookupType(name);
    types.set(name, t);
  }
  return t;
}

/** Encodes a plain object (the JSON shape) as message `name`. */
export function encodeProto(name: string, value: object): Uint8Array {
  return protoType(name).encode(value).finish();
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: true, arrays: true };

/** Decodes message `name` into the JSON shape: absent optional fields and messages become null. */
export function decodeProto<T = Record<string, unknown>>(name: string, bytes: Uint8Array): T {
  const t = protoType(name);
  return normalize(t, t.toObject(t.decode(bytes), TO_OBJECT)) as T;
}

/** Fills nulls where protobuf has "absent", recursively, so decoded data equals the JSON form. */
export function normalize(t: protobuf.Type, obj: Record<string, unknown>): Record<string, unknown> {
  for (const f of t.fieldsArray) {
    const v = obj[f.name];
    const sub = f.resolvedType instanceof protobuf.Type ? f.resolvedType : null;
    if (sub) {
      if (f.repeated) obj[f.name] = ((v as Array<Record<string, unknown>>) ?? []).map((x) => normalize(sub, x));
      else obj[f.name] = v === undefined || v === null ? null : normalize(sub, v as Record<string, unknown>);
    } else if (v === undefined && f.options?.proto3_optional === true) {
      obj[f.name] = null;
    }
  }
  // Synthetic oneof members added by toObject for proto3 optional fields are not part of the JSON shape.
  for (const o of t.oneofsArray) if (o.name.startsWith('_')) delete obj[o.name];
  return obj;
}
