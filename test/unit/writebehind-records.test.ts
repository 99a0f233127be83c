import { describe, expect, it } from 'vitest';
import { isOrgError } from '../../src/errors.js';
import { parseHeartbeat, parseMute, parsePickGroup, parseSignIn } from '../../src/services/mutationInputs.js';
import { scriptSource } from '../../src/store/redis/scripts.js';
import { TABLES, guardedUpdate } from '../../src/store/mysql/stateTables.js';
import { coalesce, decodeRecord, entryTime, type WbRecord } from '../../src/writebehind/records.js';

const flat = (o: Record<string, string>) => Object.entries(o).flat();

describe('interaction records', () => {
  const t = '1795000000000';
  const at = new Date(1795000000000);
  it('decodes sessions, links, ledger events and room admins into their rows', () => {
    expect(decodeRecord(7, flat({ e: 'isess', v: '20', s: 's3', r: 'main', k: 'multi', c: '9', ch: 'L7-s3', u: '101', st: 'ended', why: 'creator_left', at: t, et: t, tp: 'voice' }))?.row).toEqual([
      7, 's3', 'main', 'multi', 9, 'L7-s3', 101, 'ended', 'creator_left', at, at, 'voice', 20,
    ]);
    // A mic seat change: one ledger row per (session, seq); a bad template id or seat bit is refused.
    expect(decodeRecord(7, flat({ e: 'iseat', v: '21', s: 's3', n: '4', q: '2', u: '101', l: '0', m: '1', c: '0', op: 'take', b: '101', t }))?.row).toEqual([
      7, 's3', 4, 2, 101, 0, 1, 0, 'take', 101, at, 21,
    ]);
    expect(decodeRecord(7, flat({ e: 'iseat', v: '21', s: 's3', n: '4', q: '2', u: '0', l: '2', m: '1', c: '0', op: 'take', b: '101', t }))).toBeNull();
    expect(decodeRecord(7, flat({ e: 'isess', v: '20', s: 's3', r: 'main', k: 'duo', c: '2', ch: 'pk', u: '101', st: 'active', why: '', at: t, et: '', tp: 'Bad Id' }))).toBeNull();
    expect(decodeRecord(7, flat({ e: 'isess', v: '20', s: 's3', r: 'main', k: 'duo', c: '2', ch: 'pk', u: '101', st: 'active', why: '', at: t, et: '' }))?.row.slice(8, 11)).toEqual([null, at, null]);
    expect(decodeRecord(7, flat({ e: 'ilink', v: '21', s: 's3', u: '102', g: '2', st: 'connecting', o: 'a', b: '102', t }))).toMatchObject({
      entity: 'ilink', key: 's3\u0000102', row: [7, 's3', 102, 2, 'connecting', 'application', 102, at, 21],
    });
    expect(decodeRecord(7, flat({ e: 'ilev', v: '22', s: 's3', n: '5', u: '102', g: '1', f: '', to: 'initiated', b: '101', why: 'invite', t }))?.row).toEqual([
      7, 's3', 5, 102, 1, '', 'initiated', 101, 'invite', at, 22,
    ]);
    expect(decodeRecord(7, flat({ e: 'ilev', v: '23', s: 's3', n: '6', u: '102', g: '1', f: 'initiated', to: 'timed_out', b: '0', why: 'timeout', t }))?.row[7]).toBe(0);
    expect(decodeRecord(7, flat({ e: 'iadmin', v: '24', r: 'main', u: '103', m: '1', t }))?.row).toEqual([7, 'main', 103, 1, at, 24]);
  });

  it('refuses interaction entries no table can hold', () => {
    const cases: Array<Record<string, string>> = [
      { e: 'isess', v: '1', s: 'x3', r: 'main', k: 'multi', c: '9', ch: 'c', u: '1', st: 'active', why: '', at: t, et: '' },
      { e: 'isess', v: '1', s: 's3', r: 'main', k: 'trio', c: '9', ch: 'c', u: '1', st: 'active', why: '', at: t, et: '' },
      { e: 'isess', v: '1', s: 's3', r: 'main', k: 'duo', c: '2', ch: '', u: '1', st: 'active', why: '', at: t, et: '' },
      { e: 'ilink', v: '1', s: 's3', u: '1', g: '1', st: 'flying', o: 'i', b: '1', t },
      { e: 'ilink', v: '1', s: 's3', u: '1', g: '0', st: 'left', o: 'i', b: '1', t },
      { e: 'ilink', v: '1', s: 's3', u: '1', g: '1', st: 'left', o: 'z', b: '1', t },
      { e: 'ilev', v: '1', s: 's3', n: '1', u: '1', g: '1', f: 'nowhere', to: 'left', b: '1', why: 'leave', t },
      { e: 'ilev', v: '1', s: 's3', n: '1', u: '1', g: '1', f: '', to: 'initiated', b: '1', why: 'Bad Cause!', t },
      { e: 'iadmin', v: '1', r: 'main', u: '1', m: '2', t },
    ];
    for (const bad of cases) {
      expect(decodeRecord(7, flat(bad)), JSON.stringify(bad)).toBeNull();
    }
  });
});

describe('write-behind records', () => {
  it('decodes every entity the scripts write into its table row', () => {
    const t = '1795000000000';
    expect(decodeRecord(7, flat({ e: 'group', v: '5', u: '101', g: 't9.g3', t }))?.row).toEqual([7, 101, 't9.g3', new Date(1795000000000), 5]);
    expect(decodeRecord(7, flat({ e: 'group', v: '5', u: '101', g: '', t }))?.row[2]).toBeNull();
    expect(decodeRecord(7, flat({ e: 'node', v: '6', n: 't9.x1', p: 't9.m1', c: '6', path: '/root/t9/t9.m1/t9.x1', d: '3', t }))?.row).toEqual([
      7, 't9.x1', 't9.m1', 6, '/root/t9/t9.m1/t9.x1', 3, new Date(1795000000000), 6,
    ]);
    expect(decodeRecord(7, flat({ e: 'mute', v: '8', r: 'main', u: '101', m: '1', t }))?.row).toEqual([7, 'main', 101, 1, new Date(1795000000000), 8]);
    expect(decodeRecord(7, flat({ e: 'mutenode', v: '9', r: 't9.in', n: 't9.g1', m: '0', t }))?.row).toEqual([7, 't9.in', 't9.g1', 0, new Date(1795000000000), 9]);
    expect(decodeRecord(7, flat({ e: 'signin', v: '10', u: '101', t }))?.row).toEqual([7, 101, new Date(1795000000000), 10]);
    expect(decodeRecord(7, flat({ e: 'signin', v: '10', u: '101', t: '' }))?.row).toEqual([7, 101, null, 10]);
    expect(decodeRecord(7, flat({ e: 'online', v: '11', r: 'main', u: '101', p: '2', t }))?.row).toEqual([7, 'main', 101, 2, new Date(1795000000000), 11]);
    // A courseware signal as publish_signal.lua appends it: kept whole for playback.
    expect(decodeRecord(7, flat({ e: 'signal', v: '12', r: 'main', s: '4', t, u: '900', d: '{"page":3}' }))).toMatchObject({
      entity: 'signal',
      key: 'main\u00004',
      row: [7, 'main', 4, new Date(1795000000000), 900, '{"page":3}', 12],
    });
    for (const e of Object.keys(TABLES)) expect(TABLES[e as keyof typeof TABLES].columns.at(-1)).toBe('version');
  });

  it('refuses entries no table can hold', () => {
    const t = '1795000000000';
    expect(decodeRecord(7, flat({ e: 'bogus', v: '1', t }))).toBeNull();
    expect(decodeRecord(7, flat({ e: 'group', v: 'x', u: '1', g: 'g', t }))).toBeNull();
    expect(decodeRecord(7, flat({ e: 'group', v: '1', u: '-1', g: 'g', t }))).toBeNull();
    expect(decodeRecord(7, flat({ e: 'group', v: '1', u: '1', g: 'a{b}', t }))).toBeNull();
    expect(decodeRecord(7, flat({ e: 'mute', v: '1', r: 'main', u: '1', m: '2', t }))).toBeNull();
    expect(decodeRecord(7, flat({ e: 'online', v: '1', r: 'main', u: '1', t }))).toBeNull();
    expect(decodeRecord(7, flat({ e: 'signal', v: '1', r: 'main', s: '0', t, u: '9', d: 'x' }))).toBeNull();
    expect(decodeRecord(7, flat({ e: 'signal', v: '1', r: 'main', s: '1', t, u: '9', d: '' }))).toBeNull();
    expect(decodeRecord(7, flat({ e: 'signal', v: '1', r: 'main', s: '1', t, u: '9', d: 'é'.repeat(40_000) }))).toBeNull();
    expect(decodeRecord(7, flat({ e: 'signal', v: '1', r: 'main', s: '1', t, u: '9' }))).toBeNull();
  });

  it('coalescing keeps the newest version of each key, whatever the order', () => {
    const rec = (lessonId: number, uid: number, g: string, v: number) => decodeRecord(lessonId, flat({ e: 'group', v: String(v), u: String(uid), g, t: '1' }))!;
    const input: WbRecord[] = [rec(1, 5, 'a', 3), rec(1, 5, 'b', 9), rec(1, 5, 'c', 4), rec(2, 5, 'z', 1), rec(1, 6, 'q', 2), rec(1, 5, 'b', 9)];
    const out = coalesce(input).get('group')!;
    expect(out.map((r) => [r.lessonId, r.key, r.row[2], r.version])).toEqual([
      [1, '5', 'b', 9],
      [1, '6', 'q', 2],
      [2, '5', 'z', 1],
    ]);
    expect(coalesce([...input].reverse()).get('group')!.map((r) => r.version)).toEqual([9, 2, 1]);
  });

  it('the upsert compares every column against the old version and assigns version last', () => {
    const sql = guardedUpdate(TABLES.group);
    expect(sql).toBe(
      'ON DUPLICATE KEY UPDATE group_id = IF(VALUES(version) > version, VALUES(group_id), group_id), picked_at = IF(VALUES(version) > version, VALUES(picked_at), picked_at), version = GREATEST(version, VALUES(version))',
    );
  });

  it('reads the time of a stream entry id', () => {
    expect(entryTime('1795000000123-7')).toBe(1795000000123);
  });
});

describe('mutation scripts', () => {
  it('inlines the shared helpers into every mutation script', () => {
    for (const f of ['pick_group.lua', 'mute.lua', 'sign_in.lua', 'heartbeat.lua', 'wb_rejournal.lua']) {
      const s = scriptSource(f);
      expect(s).not.toMatch(/^-- @include/m);
      expect(s).toContain('local function next_version');
    }
  });
});

describe('mutation inputs', () => {
  const bad = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return isOrgError(e, 'BAD_REQUEST') ? (e.details?.field ?? 'object') : 'other';
    }
    return 'accepted';
  };

  it('accepts route strings and JSON numbers alike', () => {
    expect(parsePickGroup({ lessonId: '7', uid: 101, groupId: 't9.g3' })).toEqual({ lessonId: 7, uid: 101, groupId: 't9.g3' });
    expect(parsePickGroup({ lessonId: 7, uid: '101' })).toEqual({ lessonId: 7, uid: 101, groupId: null });
    expect(parseMute({ lessonId: 7, roomId: 'main', nodeId: 't9.m1', muted: 'true' })).toEqual({ lessonId: 7, roomId: 'main', nodeId: 't9.m1', muted: true });
    expect(parseHeartbeat({ lessonId: 7, uid: 1, roomId: 't9.in' })).toEqual({ lessonId: 7, uid: 1, roomId: 't9.in' });
  });

  it('names the bad field', () => {
    expect(bad(() => parsePickGroup({ lessonId: 0, uid: 1 }))).toBe('lessonId');
    expect(bad(() => parsePickGroup({ lessonId: 1, uid: 1.5 }))).toBe('uid');
    expect(bad(() => parsePickGroup({ lessonId: 1, uid: 1, groupId: 'a b' }))).toBe('groupId');
    expect(bad(() => parsePickGroup({ lessonId: 1, uid: 1, group: 'x' }))).toBe('group');
    expect(bad(() => parseMute({ lessonId: 1, roomId: 'main', muted: true }))).toBe('uid');
    expect(bad(() => parseMute({ lessonId: 1, roomId: 'main', uid: 1, nodeId: 'x', muted: true }))).toBe('uid');
    expect(bad(() => parseMute({ lessonId: 1, roomId: 'main', uid: 1, muted: 'yes' }))).toBe('muted');
    expect(bad(() => parseSignIn([1, 2]))).toBe('object');
    expect(bad(() => parseHeartbeat({ lessonId: 1, uid: 1, roomId: 'x'.repeat(65) }))).toBe('roomId');
  });
});

describe('record trace stamps', () => {
  const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
  const SPAN = '00f067aa0ba902b7';
  const signin = (extra: Record<string, string>) => decodeRecord(7, flat({ e: 'signin', v: '5', u: '101', t: '1795000000000', ...extra }));

  it('decodes a trace stamp, with or without its span', () => {
    expect(signin({ tr: `${TRACE}-${SPAN}` })?.trace).toEqual({ traceId: TRACE, spanId: SPAN });
    expect(signin({ tr: TRACE })?.trace).toEqual({ traceId: TRACE, spanId: null });
    expect(signin({ tr: `${TRACE}-0000000000000000` })?.trace).toEqual({ traceId: TRACE, spanId: null });
    expect(signin({})?.trace).toBeUndefined();
  });

  it('ignores a bad stamp and keeps the record', () => {
    for (const bad of ['', 'x', TRACE.toUpperCase(), TRACE.slice(1), `${TRACE}0`, '0'.repeat(32), `${TRACE}-${SPAN}0`, `${TRACE}-zz`, `${TRACE}-${SPAN}`.repeat(2)]) {
      const r = signin({ tr: bad });
      expect(r?.row, bad).toEqual([7, 101, new Date(1795000000000), 5]);
      expect(r?.trace, bad).toBeUndefined();
    }
  });

  it('a stamp does not make a bad record good', () => {
    expect(decodeRecord(7, flat({ e: 'signin', v: '5', u: 'x', t: '1', tr: TRACE }))).toBeNull();
  });
});
