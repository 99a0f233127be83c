// The grammar of messages on a lesson's shard channel (LessonKeys.channel).
// Every script that changes what a gateway may have cached SPUBLISHes one of
// these in the same atomic step as the change, so gateways drop stale entries.
//
//   version:<v>      the lesson's readable version switched to <v> (switch_version.lua)
//   state:<uid>      a student's in-class state changed: group pick, own mute, sign-in
//   pos:<uid>        a student's position changed (moved by a pre-class change,
//                    move_students.lua): drop that student's position and enter entries
//   node:<nodeId>    an org node changed or was created in class (publish one per node,
//                    including a parent whose childIds changed)
//   mute:<roomId>    the set of muted org nodes of a room changed
//   room:<roomId>    a room's record changed
//   signal:<roomId>:<seq>  a room's signal log reached <seq> (publish_signal.lua); not an
//                    entity change: the entity cache ignores it, the signal cache fetches the tail
//   bcast:<json>     a message to an org node and everything under it ({"n": nodeId, "b": by,
//                    "a": at, "d": data}; broadcastStore.ts): pushed to WebSocket clients, changes
//                    nothing cached (the entity cache ignores it, like `signal`)
//   score:<roomId>   a room's scores changed: awards (award.lua, at most once per notice interval per
//                    room), a PK round started or ended (pk_start.lua, pk_end.lua), totals repaired
//                    (reconcile): the score cache drops the lesson's score reads now and once more an
//                    interval later, live push tells the room's subscribers; the entity cache ignores it
//   ia:<roomId>:<sessionId>:<v>  a room's interaction state changed to version <v>
//                    (lua/_interaction.lua; sessionId '-' for a room admin change): drops
//                    the room's UniversalInfo and is pushed on the room's topic; changes
//                    nothing the entity cache holds (it ignores it, like `signal`)
//   revoke:u<uid>:<ms>  tokens of user <uid> for this lesson issued at or before <ms> are
//   revoke:all:<ms>     refused (revoke.lua; revoke:all: every token of the lesson); changes
//                    nothing cached (the entity cache ignores it): auth/revocation.ts applies it
//   lesson           anything else lesson-wide: drop everything cached for the lesson
//
// In Lua: redis.call('SPUBLISH', channelKey, 'state:' .. uid). A gateway treats a
// message it cannot parse as `lesson` (drop everything), so adding a kind later is safe;
// a kind sent often (like `signal`, ~5/s per hot room) must be added here first, or
// every one of them would drop the lesson's entity cache.
import { entityIdPattern } from '../../model/ids.js';

/** One parsed channel message. */
export type ChannelMessage =
  | { kind: 'version'; version: number }
  | { kind: 'state'; uid: number }
  | { kind: 'pos'; uid: number }
  | { kind: 'node'; nodeId: string }
  | { kind: 'mute'; roomId: string }
  | { kind: 'room'; roomId: string }
  | { kind: 'signal'; roomId: string; seq: number }
  | { kind: 'broadcast'; nodeId: string; by: number; at: number; data: string }
  | { kind: 'interaction'; roomId: string; sessionId: string | null; version: number }
  /** uid null: every token of the lesson. */
  | { kind: 'revoke'; uid: number | null; before: number }
  | { kind: 'score'; roomId: string }
  | { kind: 'lesson' };

// Ids carried in messages: the room and node id alphabet, read leniently on
// length (a message that does not parse drops the lesson's whole cache).
const ID_RE = entityIdPattern(128);
const INT_RE = /^[1-9][0-9]{0,15}$/;

/** Formats a message for SPUBLISH (the inverse of parseChannelMessage). */
export function formatChannelMessage(m: ChannelMessage): string {
  switch (m.kind) {
    case 'version':
      return `version:${m.version}`;
    case 'state':
      return `state:${m.uid}`;
    case 'pos':
      return `pos:${m.uid}`;
    case 'node':
      return `node:${m.nodeId}`;
    case 'mute':
      return `mute:${m.roomId}`;
    case 'room':
      return `room:${m.roomId}`;
    case 'signal':
      return `signal:${m.roomId}:${m.seq}`;
    case 'broadcast':
      return `bcast:${JSON.stringify({ n: m.nodeId, b: m.by, a: m.at, d: m.data })}`;
    case 'interaction':
      return `ia:${m.roomId}:${m.sessionId ?? '-'}:${m.version}`;
    case 'revoke':
      return `revoke:${m.uid === null ? 'all' : `u${m.uid}`}:${m.before}`;
    case 'score':
      return `score:${m.roomId}`;
    case 'lesson':
      return 'lesson';
  }
}

/** Parses a channel message; anything malformed or unknown reads as `lesson` (drop all). */
export function parseChannelMessage(raw: string): ChannelMessage {
  const i = raw.indexOf(':');
  if (i < 0) return { kind: 'lesson' };
  const kind = raw.slice(0, i);
  const arg = raw.slice(i + 1);
  switch (kind) {
    case 'version':
      return INT_RE.test(arg) ? { kind: 'version', version: Number(arg) } : { kind: 'lesson' };
    case 'state':
    case 'pos':
      return INT_RE.test(arg) && Number.isSafeInteger(Number(arg)) ? { kind, uid: Number(arg) } : { kind: 'lesson' };
    case 'node':
      return ID_RE.test(arg) ? { kind: 'node', nodeId: arg } : { kind: 'lesson' };
    case 'mute':
      return ID_RE.test(arg) ? { kind: 'mute', roomId: arg } : { kind: 'lesson' };
    case 'room':
      return ID_RE.test(arg) ? { kind: 'room', roomId: arg } : { kind: 'lesson' };
    case 'score':
      return ID_RE.test(arg) ? { kind: 'score', roomId: arg } : { kind: 'lesson' };
    case 'signal': {
      // The seq is after the last colon; room ids never contain one, but the id alphabet allows it.
      const j = arg.lastIndexOf(':');
      const roomId = arg.slice(0, j);
      const seq = arg.slice(j + 1);
      return j > 0 && ID_RE.test(roomId) && INT_RE.test(seq) && Number.isSafeInteger(Number(seq)) ? { kind: 'signal', roomId, seq: Number(seq) } : { kind: 'lesson' };
    }
    case 'bcast':
      return parseBroadcast(arg);
    case 'ia': {
      // Room ids may hold colons: the session id and the version are the last two parts.
      const j = arg.lastIndexOf(':');
      const k = j > 0 ? arg.lastIndexOf(':', j - 1) : -1;
      const roomId = arg.slice(0, k);
      const sid = arg.slice(k + 1, j);
      const v = arg.slice(j + 1);
      const ok = k > 0 && ID_RE.test(roomId) && (sid === '-' || /^s[1-9][0-9]{0,15}$/.test(sid)) && INT_RE.test(v) && Number.isSafeInteger(Number(v));
      return ok ? { kind: 'interaction', roomId, sessionId: sid === '-' ? null : sid, version: Number(v) } : { kind: 'lesson' };
    }
    case 'revoke': {
      const m = /^(all|u([1-9][0-9]{0,15})):([0-9]{1,16})$/.exec(arg);
      if (!m || !Number.isSafeInteger(Number(m[3])) || (m[2] !== undefined && !Number.isSafeInteger(Number(m[2])))) return { kind: 'lesson' };
      return { kind: 'revoke', uid: m[2] === undefined ? null : Number(m[2]), before: Number(m[3]) };
    }
    default:
      return { kind: 'lesson' };
  }
}

function parseBroadcast(json: string): ChannelMessage {
  let v: { n?: unknown; b?: unknown; a?: unknown; d?: unknown };
  try {
    v = JSON.parse(json) as typeof v;
  } catch {
    return { kind: 'lesson' };
  }
  const ok = typeof v?.n === 'string' && ID_RE.test(v.n) && Number.isSafeInteger(v.b) && Number.isSafeInteger(v.a) && typeof v.d === 'string';
  return ok ? { kind: 'broadcast', nodeId: v.n as string, by: v.b as number, at: v.a as number, data: v.d as string } : { kind: 'lesson' };
}

/** The lesson id a channel name belongs to (from its {L<id>} hash tag), or null. */
export function lessonOfChannel(channel: string): number | null {
  const m = /\{L([0-9]{1,16})\}/.exec(channel);
  return m ? Number(m[1]) : null;
}
