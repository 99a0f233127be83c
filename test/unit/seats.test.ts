// Mic seat layouts, pure: the built-in templates, validation naming the bad
// field, the compact spec the Lua scripts keep (and that it round-trips), the
// seat operation inputs, and the seat permissions in the one role table.
import { describe, expect, it } from 'vitest';
import { isOrgError } from '../../src/errors.js';
import { allowed, ROLE_BITS } from '../../src/model/interaction.js';
import { BUILTIN_TEMPLATES, decodeSpec, encodeSpec, parseTemplate, pkTemplate, seatsOf } from '../../src/model/seats.js';
import { parseSeat, parseSwitch } from '../../src/services/interactionInputs.js';

const fieldOf = (f: () => unknown): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    if (!isOrgError(e)) throw e;
    return String(e.details?.field ?? e.message);
  }
};

describe('mic seat layouts', () => {
  it('builds in voice (host on top + 8 audio), video (host left + 4), duo (left/right) and PK (two sides of N)', () => {
    const voice = BUILTIN_TEMPLATES.get('voice')!;
    expect([voice.kind, voice.seats.length, voice.seats[0]!.hostOnly, voice.seats[0]!.area, voice.seats.some((s) => s.video)]).toEqual(['multi', 9, true, 'top', false]);
    const video = BUILTIN_TEMPLATES.get('video')!;
    expect([video.seats.length, video.seats[0]!.area, video.seats.slice(1).every((s) => s.area === 'right' && s.video && !s.hostOnly)]).toEqual([5, 'left', true]);
    expect(BUILTIN_TEMPLATES.get('duo')!.seats.map((s) => s.side)).toEqual(['left', 'right']);
    const pk = pkTemplate(3);
    expect([pk.kind, pk.seats.map((s) => s.side).join(',')]).toEqual(['multi', 'left,left,left,right,right,right']);
    expect(pkTemplate(1).kind).toBe('duo');
    // Every built-in passes its own validation.
    for (const t of BUILTIN_TEMPLATES.values()) expect(parseTemplate(JSON.parse(JSON.stringify(t)), 50)).toEqual(t);
  });

  it('refuses a bad template naming the bad field', () => {
    const good = { id: 'x', name: 'X', kind: 'multi', seats: [{ video: true, audio: true }, { video: false, audio: true }] };
    expect(fieldOf(() => parseTemplate(good, 50))).toBeNull();
    expect(fieldOf(() => parseTemplate({ ...good, id: 'Bad Id' }, 50))).toBe('id');
    expect(fieldOf(() => parseTemplate({ ...good, kind: 'trio' }, 50))).toBe('kind');
    expect(fieldOf(() => parseTemplate({ ...good, color: 1 }, 50))).toBe('color');
    expect(fieldOf(() => parseTemplate({ ...good, seats: [good.seats[0]] }, 50))).toBe('seats');
    expect(fieldOf(() => parseTemplate(good, 1))).toBe('seats');
    expect(fieldOf(() => parseTemplate({ ...good, kind: 'duo', seats: [...good.seats, good.seats[0]] }, 50))).toBe('seats');
    expect(fieldOf(() => parseTemplate({ ...good, seats: [good.seats[0], { video: 'yes', audio: true }] }, 50))).toBe('seats[1].video');
    expect(fieldOf(() => parseTemplate({ ...good, seats: [good.seats[0], { video: false, audio: false }] }, 50))).toBe('seats[1].audio');
    expect(fieldOf(() => parseTemplate({ ...good, seats: [good.seats[0], { video: true, audio: true, side: 'up' }] }, 50))).toBe('seats[1].side');
    expect(fieldOf(() => parseTemplate({ ...good, seats: [good.seats[0], { video: true, audio: true, side: 'left' }] }, 50))).toBe('seats');
    expect(fieldOf(() => parseTemplate({ ...good, seats: [good.seats[0], { video: true, audio: true, mood: 'x' }] }, 50))).toBe('seats[1].mood');
  });

  it('keeps a compact spec that round-trips, and reads seats from a session hash', () => {
    const t = BUILTIN_TEMPLATES.get('pk-2')!;
    const spec = encodeSpec(t);
    expect(spec).toBe('111l,110l,110r,110r');
    expect(decodeSpec(spec)).toEqual(t.seats.map(({ area: _a, ...s }) => s));
    const f = new Map([['sp', '010-,110-'], ['q1', '42|1|1|0']]);
    expect(seatsOf(f)).toEqual([
      { seat: 0, uid: null, locked: false, mic: false, cam: false, video: false, audio: true, hostOnly: false, side: null },
      { seat: 1, uid: 42, locked: true, mic: true, cam: false, video: true, audio: true, hostOnly: false, side: null },
    ]);
    expect(seatsOf(new Map())).toEqual([]);
  });

  it('parses seat operations as HTTP and gRPC send them', () => {
    expect(parseSeat('take', { lessonId: '7', sessionId: 's1' })).toEqual({ lessonId: 7, sessionId: 's1', uid: null, seat: null, other: null, media: null, by: null });
    expect(parseSeat('take', { lessonId: 7, sessionId: 's1', seat: 0, uid: null, other: null, media: null, by: null }).seat).toBe(0);
    expect(parseSeat('mute', { lessonId: 7, sessionId: 's1', seat: 2, media: 'cam' })).toMatchObject({ seat: 2, media: 'cam' });
    expect(fieldOf(() => parseSeat('move', { lessonId: 7, sessionId: 's1' }))).toBe('seat');
    expect(fieldOf(() => parseSeat('take', { lessonId: 7, sessionId: 's1', seat: -1 }))).toBe('seat');
    expect(fieldOf(() => parseSeat('swap', { lessonId: 7, sessionId: 's1', seat: 1 }))).toBe('other');
    expect(fieldOf(() => parseSeat('swap', { lessonId: 7, sessionId: 's1', seat: 1, other: 1 }))).toBe('other');
    expect(fieldOf(() => parseSeat('mute', { lessonId: 7, sessionId: 's1', seat: 1, media: 'speaker' }))).toBe('media');
    expect(fieldOf(() => parseSeat('lock', { lessonId: 7, sessionId: 's1', seat: 1, media: 'mic' }))).toBe('media');
    expect(fieldOf(() => parseSeat('lock', { lessonId: 7, sessionId: 's1', seat: 1, uid: 5 }))).toBe('uid');
    expect(fieldOf(() => parseSeat('leave', { lessonId: 7, sessionId: 's1', seat: 1 }))).toBe('seat');
    expect(parseSwitch({ lessonId: 7, sessionId: 's1', templateId: 'pk-3' })).toEqual({ lessonId: 7, sessionId: 's1', templateId: 'pk-3', by: null });
    expect(fieldOf(() => parseSwitch({ lessonId: 7, sessionId: 's1', templateId: 'PK 3' }))).toBe('templateId');
  });

  it('gives the seat permissions by role: seat to participants and the host; arrange, mute and layout to the host and admins', () => {
    const { initiator, participant, admin, audience } = ROLE_BITS;
    expect([allowed(participant, 'seat'), allowed(participant, 'arrange'), allowed(participant, 'mute'), allowed(participant, 'layout')]).toEqual([true, false, false, false]);
    expect([allowed(admin, 'seat'), allowed(admin, 'arrange'), allowed(admin, 'mute'), allowed(admin, 'layout')]).toEqual([false, true, true, true]);
    expect([allowed(initiator, 'seat'), allowed(initiator, 'arrange'), allowed(initiator, 'mute'), allowed(initiator, 'layout')]).toEqual([true, true, true, true]);
    expect(['seat', 'arrange', 'mute', 'layout'].some((p) => allowed(audience, p as 'seat'))).toBe(false);
  });
});
