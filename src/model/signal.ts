// A courseware signal (page turn, quiz start, ...) as stored and served, and
// its text form in Redis (the zset member). Its channel message,
// `signal:<roomId>:<seq>`, belongs to the one channel grammar in
// store/redis/channel.ts. Pure: no I/O.

/** One signal of a room. Sequence numbers start at 1 and have no gaps within a room. */
export interface Signal {
  /** Position in the room's log (the zset score). */
  seq: number;
  /** Publish time, ms since the epoch, taken by the publishing gateway. */
  at: number;
  /** Uid of the publisher (teacher, tutor or service account). */
  by: number;
  /** The opaque payload, typically JSON text; bounded in UTF-8 bytes by configuration. */
  data: string;
}

/**
 * Parses a zset member `<seq>:<at>:<by>:<data>`; publish_signal.lua writes it.
 * The seq inside makes every member unique even when payloads repeat.
 * Returns null for anything else, so one foreign member cannot break a room.
 */
export function decodeSignalMember(member: string): Signal | null {
  const a = member.indexOf(':');
  const b = a < 0 ? -1 : member.indexOf(':', a + 1);
  const c = b < 0 ? -1 : member.indexOf(':', b + 1);
  if (c < 0) return null;
  const seq = Number(member.slice(0, a));
  const at = Number(member.slice(a + 1, b));
  const by = Number(member.slice(b + 1, c));
  if (!Number.isSafeInteger(seq) || seq < 1 || !Number.isFinite(at) || !Number.isSafeInteger(by)) return null;
  return { seq, at, by, data: member.slice(c + 1) };
}

/** The zset member of a signal; the same text publish_signal.lua builds. */
export function encodeSignalMember(s: Signal): string {
  return `${s.seq}:${s.at}:${s.by}:${s.data}`;
}
