// Mic seat invariants shared by the seat tests and the interaction random walk.
import { expect } from 'vitest';
import { SEATED_STATES, type SessionView } from '../../src/model/interaction.js';

/**
 * One session's seats: no user on two seats, every occupant holds a seated
 * (connecting or connected) link, a host-only seat holds only the creator, a
 * mic or camera is never on where the seat does not carry it, an ended
 * session holds nobody.
 */
export function expectSeatInvariants(s: SessionView): void {
  const seen = new Set<number>();
  for (const q of s.seats) {
    if (q.uid === null) continue;
    expect(seen.has(q.uid), `${s.sessionId}: user ${q.uid} on two seats`).toBe(false);
    seen.add(q.uid);
    const l = s.links.find((x) => x.uid === q.uid);
    expect(l !== undefined && SEATED_STATES.includes(l.state), `${s.sessionId}: seat ${q.seat} held by ${q.uid} without a seated link`).toBe(true);
    if (q.hostOnly) expect(q.uid, `${s.sessionId}: host-only seat ${q.seat}`).toBe(s.creator);
    if (!q.audio) expect(q.mic, `${s.sessionId}: seat ${q.seat} mic`).toBe(false);
    if (!q.video) expect(q.cam, `${s.sessionId}: seat ${q.seat} cam`).toBe(false);
  }
  if (s.status === 'ended') expect(seen.size, `${s.sessionId}: an ended session holds no seat`).toBe(0);
}
