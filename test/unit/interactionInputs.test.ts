// Interaction inputs as transports hand them over (HTTP params merged with the
// body, or a decoded gRPC message with absent optionals as null or 0).
import { describe, expect, it } from 'vitest';
import { isOrgError } from '../../src/errors.js';
import { parseAdmin, parseCreate, parseEnd, parseHandle, parseLink, parseRtcEvent } from '../../src/services/interactionInputs.js';

const field = (f: () => unknown): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    if (!isOrgError(e, 'BAD_REQUEST')) throw e;
    return String(e.details?.field ?? e.message);
  }
};

describe('interaction inputs', () => {
  it('parses what HTTP and gRPC send alike', () => {
    expect(parseCreate({ lessonId: '7', roomId: 'main', kind: 'multi', capacity: 4, invitee: '101' })).toEqual({
      lessonId: 7, roomId: 'main', kind: 'multi', capacity: 4, channelId: null, invitee: 101, by: null,
    });
    // gRPC: absent optionals arrive as null, int64 defaults as 0.
    expect(parseCreate({ lessonId: 7, roomId: 'main', kind: 'duo', capacity: null, channelId: null, invitee: null, by: 0 })).toMatchObject({ capacity: null, by: null });
    expect(parseLink({ lessonId: 7, sessionId: 's12', uid: null, by: null })).toEqual({ lessonId: 7, sessionId: 's12', uid: null, by: null });
    expect(parseHandle({ lessonId: 7, sessionId: 's1', accept: false })).toMatchObject({ accept: false, uid: null });
    expect(parseEnd({ lessonId: 7, sessionId: 's1', by: 5 })).toEqual({ lessonId: 7, sessionId: 's1', by: 5 });
    expect(parseRtcEvent({ lessonId: 7, channelId: 'L7-s1', uid: 9, event: 'left', eventId: 'e-1', at: 0 })).toMatchObject({ event: 'left', at: 0 });
    expect(parseAdmin({ lessonId: 7, roomId: 'main', uid: 9, granted: true })).toMatchObject({ granted: true });
  });

  it('names the bad field', () => {
    expect(field(() => parseCreate({ lessonId: 7, roomId: 'main', kind: 'trio' }))).toBe('kind');
    expect(field(() => parseCreate({ lessonId: 7, roomId: 'main', kind: 'duo', capacity: 3 }))).toBe('capacity');
    expect(field(() => parseCreate({ lessonId: 7, roomId: 'main', kind: 'multi', capacity: 1 }))).toBe('capacity');
    expect(field(() => parseCreate({ lessonId: 7, roomId: 'main', kind: 'multi', channelId: 'a b' }))).toBe('channelId');
    expect(field(() => parseCreate({ lessonId: 7, roomId: 'main', kind: 'multi', invitee: -1 }))).toBe('invitee');
    expect(field(() => parseCreate({ lessonId: 7, roomId: 'main', kind: 'multi', extra: 1 }))).not.toBeNull();
    expect(field(() => parseLink({ lessonId: 7, sessionId: '12' }))).toBe('sessionId');
    expect(field(() => parseLink({ lessonId: 0, sessionId: 's1' }))).toBe('lessonId');
    expect(field(() => parseHandle({ lessonId: 7, sessionId: 's1', accept: 'yes' }))).toBe('accept');
    expect(field(() => parseRtcEvent({ lessonId: 7, channelId: 'c', uid: 9, event: 'moved', eventId: 'e', at: 1 }))).toBe('event');
    expect(field(() => parseRtcEvent({ lessonId: 7, channelId: 'c', uid: 9, event: 'joined', eventId: '', at: 1 }))).toBe('eventId');
    expect(field(() => parseRtcEvent({ lessonId: 7, channelId: 'c', uid: 9, event: 'joined', eventId: 'e', at: -5 }))).toBe('at');
  });
});
