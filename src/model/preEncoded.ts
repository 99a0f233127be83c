// JSON answers stitched from pre-encoded fragments. A lesson's shared parts
// (its record, rooms and org nodes) are the same objects for every student of a
// lesson version, so each is encoded once (memoised per object) and an enter
// answer is the student's few own fields around those fragments, instead of
// JSON.stringify walking ~2 KB of objects per request. The stitched text is
// byte for byte what JSON.stringify would give (checked by a test).

const fragments = new WeakMap<object, string>();

/**
 * Notes kept on a view itself, in one non-enumerable symbol property (so
 * JSON, msgpack, protobuf and deep equality never see it): its JSON text, its
 * encoded answers by format, the fingerprint of the answer it was built from.
 * A view of a cold read lives for one request; one property costs it far less
 * than entries in WeakMaps, whose ephemerons every collection has to process.
 */
export interface ViewNotes {
  json: string;
  encoded?: { json?: Buffer; msgpack?: Buffer; proto?: Buffer };
  fingerprint?: string;
}
const NOTES = Symbol('orgengine.viewNotes');

/** The notes `withJson` put on `value`, if any. */
export function notesOf(value: object): ViewNotes | undefined {
  return (value as { [NOTES]?: ViewNotes })[NOTES];
}

/** JSON of `value`, encoded once per object (shared parts live as long as their version is held). */
export function fragmentOf(value: object): string {
  let f = fragments.get(value);
  if (f === undefined) {
    f = JSON.stringify(value);
    fragments.set(value, f);
  }
  return f;
}

/** The JSON text already made for `value` (by withJson or fragmentOf), if any. */
export function preEncodedJson(value: object): string | undefined {
  return notesOf(value)?.json ?? fragments.get(value);
}

/** Notes `json` as the JSON text of `value` (a view: see ViewNotes), with its answer's fingerprint if any; returns `value`. */
export function withJson<T extends object>(value: T, json: string, fingerprint?: string): T {
  Object.defineProperty(value, NOTES, { value: { json, fingerprint } satisfies ViewNotes });
  return value;
}

const num = (n: number): string => (Number.isFinite(n) ? String(n) : 'null');
const orNull = (v: object | null): string => (v === null ? 'null' : fragmentOf(v));
const strOrNull = (s: string | null): string => (s === null ? 'null' : JSON.stringify(s));

/** The shape of an enter answer, field order as JSON shows it. */
export interface EnterParts {
  lessonId: number;
  uid: number;
  version: number;
  roomId: string;
  lesson: object;
  rooms: ReadonlyArray<{ room: object; partition: number }>;
  node: object | null;
  group: object | null;
  muted: boolean;
  mutedBy: string | null;
  signedInAt: number | null;
}

/** JSON of an enter answer: the lesson, rooms and nodes as fragments, the student's own fields around them. */
export function enterJson(v: EnterParts): string {
  let rooms = '';
  for (let i = 0; i < v.rooms.length; i++) {
    const r = v.rooms[i]!;
    rooms += `${i === 0 ? '' : ','}{"room":${fragmentOf(r.room)},"partition":${num(r.partition)}}`;
  }
  return (
    `{"lessonId":${num(v.lessonId)},"uid":${num(v.uid)},"version":${num(v.version)},"roomId":${JSON.stringify(v.roomId)},` +
    `"lesson":${fragmentOf(v.lesson)},"rooms":[${rooms}],"node":${orNull(v.node)},"group":${orNull(v.group)},` +
    `"muted":${v.muted ? 'true' : 'false'},"mutedBy":${strOrNull(v.mutedBy)},"signedInAt":${v.signedInAt === null ? 'null' : num(v.signedInAt)}}`
  );
}
