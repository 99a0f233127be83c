import { describe, expect, it } from 'vitest';
import { enterJson, fragmentOf, preEncodedJson, withJson } from '../../src/model/preEncoded.js';

describe('pre-encoded enter answers', () => {
  const room = (id: string) => ({ roomId: id, roomType: 'tutor', title: `Raum "${id}" ✓`, capacity: 30, members: 12, startTime: 1, endTime: 2, extra: null });
  const node = { nodeId: 'g/1', kind: 'group', path: 'root/t1', sourceId: null, capacity: 8, childIds: ['a', 'b'] };
  const base = {
    lessonId: 7,
    uid: 123456789,
    version: 3,
    roomId: 'main',
    lesson: { lessonId: 7, title: 'Ünïcode \\ "quoted"\n', teacherUid: 9, nodeCount: 10 },
    rooms: [
      { room: room('main'), partition: 0 },
      { room: room('t-1'), partition: 2 },
    ],
    node,
    group: null,
    muted: true,
    mutedBy: 'self',
    signedInAt: 1700000000123,
  };

  it('stitches exactly what JSON.stringify gives, for every shape of the student part', () => {
    const cases = [
      base,
      { ...base, rooms: [], node: null, group: node, muted: false, mutedBy: null, signedInAt: null },
      { ...base, roomId: 'r"\u2028', mutedBy: 'g/1', rooms: [{ room: room('x'), partition: 4 }] },
    ];
    for (const v of cases) expect(enterJson(v)).toBe(JSON.stringify(v));
  });

  it('encodes a shared object once and reuses the fragment', () => {
    const r = room('once');
    const first = fragmentOf(r);
    r.members = 99; // a held shared part is never changed; this shows the fragment is kept
    expect(fragmentOf(r)).toBe(first);
    expect(JSON.parse(first).members).toBe(12);
  });

  it('remembers the JSON made for a view', () => {
    const v = { ...base };
    expect(preEncodedJson(v)).toBeUndefined();
    expect(preEncodedJson(withJson(v, enterJson(v)))).toBe(JSON.stringify(v));
  });
});
