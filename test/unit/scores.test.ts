// Pure parts of the score ledger: the ledger records the award and PK scripts
// append, decoded into rows; the recomputation of every total from ledger rows
// (the roll-up rule award.lua applies) and its comparison with live totals;
// and the score input parsers' bounds.
import { describe, expect, it } from 'vitest';
import { isOrgError } from '../../src/errors.js';
import { diffTotals, recomputeTotals, type LedgerEntry } from '../../src/model/scores.js';
import { parseAward, parsePkStart } from '../../src/services/scoreInputs.js';
import { decodeRecord } from '../../src/writebehind/records.js';

const flat = (o: Record<string, string>) => Object.entries(o).flat();
const t = '1795000000000';
const at = new Date(1795000000000);
const bounds = { minPoints: -50, maxPoints: 100, pkMaxSeconds: 600 };

const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return isOrgError(e) ? e.code : 'other';
  }
};

describe('score ledger records', () => {
  const score = { e: 'score', v: '21', k: 'k-1', r: 'main', s: '', u: '101', st: '', sd: '', n: 't9.g3', path: '/root/t9/t9.m1/t9.g3', kd: 'reward', p: '5', pk: '', ps: '', t, b: '9001' };

  it('decodes a score event and a PK round into their rows', () => {
    expect(decodeRecord(7, flat(score))).toEqual({
      lessonId: 7,
      entity: 'score',
      version: 21,
      key: 'k-1',
      row: [7, 'k-1', 'main', null, 101, null, null, 't9.g3', '/root/t9/t9.m1/t9.g3', 'reward', 5, null, null, at, 9001, 21],
    });
    // Empty optional fields may be left out of the record altogether.
    const { s: _s, st: _st, sd: _sd, pk: _pk, ps: _ps, ...minimal } = score;
    expect(decodeRecord(7, flat(minimal))?.row).toEqual(decodeRecord(7, flat(score))?.row);
    const seat = decodeRecord(7, flat({ ...score, s: 'sess-1', u: '', st: 'seat-2', sd: 'left', kd: 'adjust', p: '-3', pk: '4', ps: 'a' }));
    expect(seat?.row).toEqual([7, 'k-1', 'main', 'sess-1', null, 'seat-2', 'left', 't9.g3', '/root/t9/t9.m1/t9.g3', 'adjust', -3, 4, 'a', at, 9001, 21]);
    const pk = { e: 'pk', v: '22', id: '4', sc: 'r:main', r: 'main', kd: 'node', a: 't9', b: 't10', st: t, en: '1795000060000', x: 'end', pa: '12', pb: '-1', t, by: '9001' };
    expect(decodeRecord(7, flat(pk))).toEqual({
      lessonId: 7,
      entity: 'pk',
      version: 22,
      key: '4',
      row: [7, 4, 'r:main', 'main', 'node', 't9', 't10', at, new Date(1795000060000), 'end', 12, -1, 22],
    });
  });

  it('refuses score records no table can hold', () => {
    for (const bad of [{ k: '' }, { k: 'a b' }, { kd: 'bribe' }, { p: '1.5' }, { p: '' }, { path: '' }, { sd: 'up' }, { ps: 'c' }, { pk: 'x' }, { b: '' }, { u: '-1' }, { n: '' }]) {
      expect(decodeRecord(7, flat({ ...score, ...bad })), JSON.stringify(bad)).toBeNull();
    }
  });
});

describe('totals recomputed from the ledger', () => {
  const row = (o: Partial<LedgerEntry>): LedgerEntry => ({ uid: null, roomId: 'main', sessionId: null, seatId: null, nodePath: '/root', points: 1, pkRound: null, pkSide: null, ...o });

  it('rolls every event up its node path, into its parent level boards, its student, room, seat and PK side', () => {
    const rows = [
      row({ uid: 1, nodePath: '/root/t9/t9.m1/t9.g3', points: 5 }),
      row({ uid: 2, nodePath: '/root/t9/t9.m1/t9.g4', points: 2, roomId: 't9.in' }),
      row({ nodePath: '/root/t9/t9.m2', points: 10, sessionId: 's1', seatId: 'seat-1', pkRound: 3, pkSide: 'b' }),
      row({ uid: 1, nodePath: '/root/t9/t9.m1/t9.g3', points: -1, pkRound: 2, pkSide: 'a' }),
    ];
    const t = recomputeTotals(rows, new Map([['s:s1', 3], ['r:main', 2]]));
    expect(Object.fromEntries(t.users)).toEqual({ '1': 4, '2': 2 });
    expect(Object.fromEntries(t.rooms.get('main')!)).toEqual({ '1': 4 });
    expect(Object.fromEntries(t.nodes)).toEqual({ root: 16, t9: 16, 't9.m1': 6, 't9.g3': 4, 't9.g4': 2, 't9.m2': 10 });
    expect(Object.fromEntries(t.children.get('t9')!)).toEqual({ 't9.m1': 6, 't9.m2': 10 });
    expect(Object.fromEntries(t.children.get('t9.m1')!)).toEqual({ 't9.g3': 4, 't9.g4': 2 });
    expect(Object.fromEntries(t.seats.get('s:s1')!)).toEqual({ 'seat-1': 10 });
    expect(t.pk.get('s:s1')).toEqual({ roundId: 3, pa: 0, pb: 10 });
    expect(t.pk.get('r:main')).toEqual({ roundId: 2, pa: -1, pb: 0 });
    // An earlier round's events do not count for the scope's current one.
    expect(recomputeTotals(rows, new Map([['r:main', 5]])).pk.get('r:main')).toEqual({ roundId: 5, pa: 0, pb: 0 });
  });

  it('reports each differing total, absent counting as 0', () => {
    const ledger = recomputeTotals([row({ uid: 1, nodePath: '/root/a', points: 3 })], new Map());
    const live = recomputeTotals([row({ uid: 1, nodePath: '/root/a', points: 3 })], new Map());
    expect(diffTotals(live, ledger).differences).toEqual([]);
    live.users.set('1', 4);
    live.nodes.set('b', 0);
    live.children.get('root')!.set('a', 1);
    expect(diffTotals(live, ledger).differences).toEqual([
      { what: 'user', of: '', member: '1', live: 4, ledger: 3 },
      { what: 'child', of: 'root', member: 'a', live: 1, ledger: 3 },
    ]);
  });
});

describe('score inputs', () => {
  const award = { lessonId: 7, key: 'k-1', roomId: 'main', uid: 101, kind: 'reward', points: 5 };

  it('takes a valid event and applies the configured points range (negative only for adjust, never 0)', () => {
    expect(parseAward(award, bounds)).toMatchObject({ uid: 101, nodeId: null, points: 5, sessionId: null, seatId: null, side: null, roundId: null });
    expect(parseAward({ ...award, kind: 'adjust', points: -50 }, bounds).points).toBe(-50);
    for (const bad of [{ points: 101 }, { points: -1 }, { kind: 'adjust', points: -51 }, { kind: 'adjust', points: 0 }, { points: 1.5 }, { points: '5' }]) {
      expect(codeOf(() => parseAward({ ...award, ...bad }, bounds)), JSON.stringify(bad)).toBe('BAD_REQUEST');
    }
    for (const bad of [{ key: '' }, { key: 'x'.repeat(129) }, { nodeId: 'root' }, { uid: null }, { side: 'left' }, { seatId: 's', side: 'up' }, { extra: 1 }, { roomId: 'a b' }]) {
      expect(codeOf(() => parseAward({ ...award, ...bad }, bounds)), JSON.stringify(bad)).toBe('BAD_REQUEST');
    }
  });

  it('takes PK starts within the configured duration; seat rounds are left against right', () => {
    expect(parsePkStart({ lessonId: 7, roomId: 'main', kind: 'seat', durationSeconds: 60 }, bounds)).toMatchObject({ a: 'left', b: 'right', durationMs: 60_000 });
    expect(parsePkStart({ lessonId: 7, roomId: 'main', kind: 'node', a: 't9', b: 't10', durationSeconds: 600 }, bounds)).toMatchObject({ a: 't9', b: 't10' });
    for (const bad of [{ kind: 'node', a: 't9', b: 't9' }, { kind: 'node', a: 't9' }, { kind: 'seat', a: 'x' }, { kind: 'seat', durationSeconds: 601 }, { kind: 'team' }]) {
      expect(codeOf(() => parsePkStart({ lessonId: 7, roomId: 'main', durationSeconds: 60, ...bad }, bounds)), JSON.stringify(bad)).toBe('BAD_REQUEST');
    }
  });
});
