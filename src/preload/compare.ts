// Field-by-field comparison of two views of a compiled lesson: what the source
// compiles to against what Redis or MySQL holds (the check), or one policy's
// preload against another's (the diff). Pure: views are built by the callers.
import type { LessonRecord, OrgNode, Room, Topology } from '../model/topology.js';
import { positionBucket } from '../store/redis/keys.js';

/** Where a view came from; named in every difference. */
export type ViewSource = 'source' | 'redis' | 'mysql' | 'a' | 'b';

/** A student's position as compared: org node, (room, partition) pairs in order. */
export interface ViewPosition {
  nodeId: string;
  rooms: Array<[roomId: string, partition: number]>;
  /** Bucket the position was found in (Redis only); undefined when not applicable. */
  bucket?: number;
}

/** A room member as compared: partition and join order. */
export interface ViewMember {
  partition: number;
  order: number;
}

/** One side of a comparison. Absent parts are not compared. */
export interface LessonView {
  lesson?: Partial<LessonRecord> & Record<string, unknown>;
  rooms: Map<string, Room>;
  /** Nodes; MySQL nodes have no childIds (compared only when both sides have them). */
  nodes: Map<string, Omit<OrgNode, 'childIds'> & { childIds?: string[] }>;
  positions?: Map<number, ViewPosition>;
  /** roomId -> uid -> member. */
  members?: Map<string, Map<number, ViewMember>>;
  /** Expected bucket count of positions (positionBucket); compared with ViewPosition.bucket. */
  posBuckets?: number;
}

/** Kinds of difference. */
export type DiffKind = 'lesson' | 'room' | 'node' | 'position' | 'member';

/** One difference: `id` names the entity, `field` the field (or 'missing'/'extra'). */
export interface Difference {
  kind: DiffKind;
  id: string;
  field: string;
  expected: unknown;
  actual: unknown;
  /** Which view was taken as expected and which as actual, e.g. 'source/redis'. */
  between: string;
}

/** Collects differences: every one is counted, the first `maxSamples` are kept. */
export class Differences {
  count = 0;
  readonly byKind: Record<string, number> = {};
  readonly samples: Difference[] = [];

  constructor(readonly maxSamples = 50) {}

  /** Counts one difference. */
  add(d: Difference): void {
    this.count++;
    const k = `${d.between}:${d.kind}`;
    this.byKind[k] = (this.byKind[k] ?? 0) + 1;
    if (this.samples.length < this.maxSamples) this.samples.push(d);
  }

  /** JSON-ready summary. */
  toJSON(): { count: number; byKind: Record<string, number>; samples: Difference[] } {
    return { count: this.count, byKind: this.byKind, samples: this.samples };
  }
}

/** Deep equality of JSON-like values (null and undefined are the same: a missing msgpack nil). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a == null || b == null) return a == null && b == null;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameValue(a[i], b[i])) return false;
    return true;
  }
  if (typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a as object);
    const kb = Object.keys(b as object);
    const keys = new Set([...ka, ...kb]);
    for (const k of keys) if (!sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
    return true;
  }
  return false;
}

function compareRecords<T extends object>(
  diffs: Differences,
  between: string,
  kind: DiffKind,
  expected: Map<string, T>,
  actual: Map<string, T>,
  skip: ReadonlySet<string> = new Set(),
): void {
  for (const [id, e] of expected) {
    const a = actual.get(id);
    if (!a) {
      diffs.add({ kind, id, field: 'missing', expected: e, actual: null, between });
      continue;
    }
    const fields = new Set([...Object.keys(e), ...Object.keys(a)]);
    for (const f of fields) {
      if (skip.has(f)) continue;
      const ev = (e as Record<string, unknown>)[f];
      const av = (a as Record<string, unknown>)[f];
      // A side that does not carry the field at all (MySQL nodes have no childIds) is not compared on it.
      if (f === 'childIds' && (ev === undefined || av === undefined)) continue;
      if (!sameValue(ev, av)) diffs.add({ kind, id, field: f, expected: ev ?? null, actual: av ?? null, between });
    }
  }
  for (const [id, a] of actual) if (!expected.has(id)) diffs.add({ kind, id, field: 'extra', expected: null, actual: a, between });
}

/** Compares `actual` with `expected` and adds every difference to `diffs`. */
export function compareViews(expected: LessonView, actual: LessonView, between: string, diffs: Differences): void {
  if (expected.lesson && actual.lesson) {
    for (const [f, ev] of Object.entries(expected.lesson)) {
      const av = actual.lesson[f];
      if (!sameValue(ev, av)) diffs.add({ kind: 'lesson', id: 'lesson', field: f, expected: ev ?? null, actual: av ?? null, between });
    }
  }
  compareRecords(diffs, between, 'room', expected.rooms, actual.rooms);
  compareRecords(diffs, between, 'node', expected.nodes, actual.nodes);

  if (expected.positions && actual.positions) {
    const buckets = expected.posBuckets ?? actual.posBuckets;
    for (const [uid, e] of expected.positions) {
      const a = actual.positions.get(uid);
      const id = String(uid);
      if (!a) {
        diffs.add({ kind: 'position', id, field: 'missing', expected: e, actual: null, between });
        continue;
      }
      if (e.nodeId !== a.nodeId) diffs.add({ kind: 'position', id, field: 'nodeId', expected: e.nodeId, actual: a.nodeId, between });
      if (!sameValue(e.rooms, a.rooms)) diffs.add({ kind: 'position', id, field: 'rooms', expected: e.rooms, actual: a.rooms, between });
      // A position in the wrong bucket is invisible to readers even though it exists.
      if (buckets && a.bucket !== undefined && a.bucket !== positionBucket(uid, buckets)) {
        diffs.add({ kind: 'position', id, field: 'bucket', expected: positionBucket(uid, buckets), actual: a.bucket, between });
      }
    }
    for (const [uid, a] of actual.positions) {
      if (!expected.positions.has(uid)) diffs.add({ kind: 'position', id: String(uid), field: 'extra', expected: null, actual: a, between });
    }
  }

  if (expected.members && actual.members) {
    const roomIds = new Set([...expected.members.keys(), ...actual.members.keys()]);
    const none = new Map<number, ViewMember>();
    for (const roomId of roomIds) {
      const e = expected.members.get(roomId) ?? none;
      const a = actual.members.get(roomId) ?? none;
      for (const [uid, em] of e) {
        const am = a.get(uid);
        const id = `${roomId}/${uid}`;
        if (!am) diffs.add({ kind: 'member', id, field: 'missing', expected: em, actual: null, between });
        else {
          if (em.partition !== am.partition) diffs.add({ kind: 'member', id, field: 'partition', expected: em.partition, actual: am.partition, between });
          if (em.order !== am.order) diffs.add({ kind: 'member', id, field: 'order', expected: em.order, actual: am.order, between });
        }
      }
      for (const [uid, am] of a) if (!e.has(uid)) diffs.add({ kind: 'member', id: `${roomId}/${uid}`, field: 'extra', expected: null, actual: am, between });
    }
  }
}

/** The view of a compiled topology (what the source says). `withPositions`/`withMembers` follow the preload mode. */
export function topologyView(topo: Topology, opts: { withPositions: boolean; withMembers: boolean; posBuckets?: number }): LessonView {
  const view: LessonView = {
    lesson: { ...topo.lesson },
    rooms: new Map(topo.rooms.map((r) => [r.roomId, r])),
    nodes: new Map(topo.nodes.map((n) => [n.nodeId, n])),
    posBuckets: opts.posBuckets,
  };
  if (opts.withPositions) {
    view.positions = new Map(topo.positions.map((p) => [p.uid, { nodeId: p.nodeId, rooms: p.rooms.map((s) => [s.roomId, s.partition] as [string, number]) }]));
  }
  if (opts.withMembers) {
    const members = new Map<string, Map<number, ViewMember>>();
    for (const r of topo.rooms) members.set(r.roomId, new Map());
    for (const p of topo.positions) for (const s of p.rooms) members.get(s.roomId)?.set(p.uid, { partition: s.partition, order: p.order });
    view.members = members;
  }
  return view;
}
