// Score totals recomputed from ledger rows, and compared with the live totals:
// the pure half of score reconciliation (no I/O). The roll-up rule is the one
// award.lua applies: an event's points count for every node on the credited
// node's path, and for each of those nodes in its parent's level board; a
// student's for its lesson total and its room's board; a seat's in its scope
// (the session, else the room); a PK side's when the event counted for the
// scope's round.

/** The fields of a ledger row a recomputation needs. */
export interface LedgerEntry {
  uid: number | null;
  roomId: string;
  sessionId: string | null;
  seatId: string | null;
  nodePath: string;
  points: number;
  pkRound: number | null;
  pkSide: 'a' | 'b' | null;
}

/** Every live total of a lesson (absent entries are 0). */
export interface ScoreTotals {
  users: Map<string, number>;
  rooms: Map<string, Map<string, number>>;
  nodes: Map<string, number>;
  children: Map<string, Map<string, number>>;
  seats: Map<string, Map<string, number>>;
  /** Per scope: the totals of its current round (the round Redis holds for the scope). */
  pk: Map<string, { roundId: number; pa: number; pb: number }>;
}

/** The scope of seat totals and PK rounds: a session when given, else the room. */
export function scopeOf(roomId: string, sessionId: string | null): string {
  return sessionId ? `s:${sessionId}` : `r:${roomId}`;
}

const add = (m: Map<string, number>, k: string, n: number): void => {
  m.set(k, (m.get(k) ?? 0) + n);
};
const sub = <K, V>(m: Map<K, Map<string, V>>, k: K): Map<string, V> => {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Map()));
  return s;
};

/** Totals from ledger rows; `rounds` names each scope's current round id (from Redis) so its side totals are recomputed too. */
export function recomputeTotals(rows: Iterable<LedgerEntry>, rounds: ReadonlyMap<string, number>): ScoreTotals {
  const t: ScoreTotals = { users: new Map(), rooms: new Map(), nodes: new Map(), children: new Map(), seats: new Map(), pk: new Map() };
  for (const [scope, roundId] of rounds) t.pk.set(scope, { roundId, pa: 0, pb: 0 });
  for (const r of rows) {
    if (r.uid !== null) {
      add(t.users, String(r.uid), r.points);
      add(sub(t.rooms, r.roomId), String(r.uid), r.points);
    }
    let parent: string | null = null;
    for (const id of r.nodePath.split('/')) {
      if (id === '') continue;
      add(t.nodes, id, r.points);
      if (parent !== null) add(sub(t.children, parent), id, r.points);
      parent = id;
    }
    const scope = scopeOf(r.roomId, r.sessionId);
    if (r.seatId !== null) add(sub(t.seats, scope), r.seatId, r.points);
    if (r.pkRound !== null && r.pkSide !== null) {
      const pk = t.pk.get(scope);
      if (pk && pk.roundId === r.pkRound) pk[r.pkSide === 'a' ? 'pa' : 'pb'] += r.points;
    }
  }
  return t;
}

/** What a total is about. */
export type TotalKind = 'user' | 'room' | 'node' | 'child' | 'seat' | 'pk';

/** One total whose live value differs from the ledger's. */
export interface TotalDifference {
  what: TotalKind;
  /** The board or hash it lives in: the room, parent node or scope ('' for the lesson's users and nodes). */
  of: string;
  member: string;
  live: number;
  ledger: number;
}

/** Every total that differs between the live totals and the ledger's (absent = 0), and how many were compared per kind. */
export function diffTotals(live: ScoreTotals, ledger: ScoreTotals): { compared: Record<TotalKind, number>; differences: TotalDifference[] } {
  const compared: Record<TotalKind, number> = { user: 0, room: 0, node: 0, child: 0, seat: 0, pk: 0 };
  const differences: TotalDifference[] = [];
  const cmp = (what: TotalKind, of: string, a: ReadonlyMap<string, number> | undefined, b: ReadonlyMap<string, number> | undefined): void => {
    const keys = new Set<string>([...(a?.keys() ?? []), ...(b?.keys() ?? [])]);
    for (const k of keys) {
      compared[what]++;
      const x = a?.get(k) ?? 0;
      const y = b?.get(k) ?? 0;
      if (x !== y) differences.push({ what, of, member: k, live: x, ledger: y });
    }
  };
  const nested = (what: TotalKind, a: ReadonlyMap<string, Map<string, number>>, b: ReadonlyMap<string, Map<string, number>>): void => {
    for (const of of new Set([...a.keys(), ...b.keys()])) cmp(what, of, a.get(of), b.get(of));
  };
  cmp('user', '', live.users, ledger.users);
  nested('room', live.rooms, ledger.rooms);
  cmp('node', '', live.nodes, ledger.nodes);
  nested('child', live.children, ledger.children);
  nested('seat', live.seats, ledger.seats);
  for (const [scope, pk] of live.pk) {
    const want = ledger.pk.get(scope);
    if (!want || want.roundId !== pk.roundId) continue;
    compared.pk += 2;
    if (pk.pa !== want.pa) differences.push({ what: 'pk', of: scope, member: 'pa', live: pk.pa, ledger: want.pa });
    if (pk.pb !== want.pb) differences.push({ what: 'pk', of: scope, member: 'pb', live: pk.pb, ledger: want.pb });
  }
  return { compared, differences };
}
