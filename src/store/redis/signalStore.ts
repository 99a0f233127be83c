// A room's signal log in Redis: publish (one script: sequence, zset, trim,
// notify) and the tail read (one script: room check, counter, range). Both are
// one round trip; script codes become typed errors here and nowhere else.
import { OrgError } from '../../errors.js';
import { decodeSignalMember, type Signal } from '../../model/signal.js';
import type { RedisClient } from './client.js';
import type { LessonKeys } from './keys.js';

/** Bounds a publish enforces. */
export interface PublishBounds {
  /** Signals kept per room; older ones are trimmed. */
  retain: number;
  /** Expiry of the room's log, renewed on every publish. */
  ttlSeconds: number;
  /** Largest payload in UTF-8 bytes. */
  maxPayloadBytes: number;
  /** Unflushed write-behind records of the lesson at which publishing is refused (back pressure). */
  maxStreamLength: number;
}

/** A room's log after a sequence number, as one read saw it. */
export interface SignalTail {
  /** The room's counter: highest seq ever handed out (0 before the first). */
  lastSeq: number;
  /** Lowest retained seq (lastSeq + 1 when none is retained). */
  firstSeq: number;
  /** Signals with seq > after, ascending, at most the limit asked for. */
  signals: Signal[];
  /** UTF-8 bytes of the members received, for the cache's metrics. */
  bytes: number;
}

const str = (b: unknown): string => (Buffer.isBuffer(b) ? b.toString('utf8') : String(b));

function scriptError(lk: LessonKeys, roomId: string, reply: unknown[]): OrgError {
  const code = Number(reply[0]);
  if (code === 1) {
    return new OrgError('LESSON_NOT_READY', `lesson ${lk.lessonId} is not ready (${str(reply[1])})`, { status: str(reply[1]) });
  }
  if (code === 2) return new OrgError('LESSON_NOT_FOUND', `lesson ${lk.lessonId} is not preloaded`);
  if (code === 3) return new OrgError('ROOM_NOT_FOUND', `lesson ${lk.lessonId} has no room ${JSON.stringify(roomId)}`);
  if (code === 4) return new OrgError('PAYLOAD_TOO_LARGE', `signal payload of ${Number(reply[1])} bytes is too large`);
  if (code === 5) {
    return new OrgError('BACKPRESSURE', `lesson ${lk.lessonId}: ${Number(reply[1])} changes are waiting to be written to MySQL; retry later`, {
      streamLength: Number(reply[1]),
    });
  }
  return new OrgError('INTERNAL', `signal script answered unknown code ${String(reply[0])}`);
}

/** Appends a signal to a room's log with its write-behind record and notifies gateways; returns it with its seq. */
export async function publishSignal(
  redis: RedisClient,
  lk: LessonKeys,
  roomId: string,
  payload: string,
  by: number,
  at: number,
  bounds: PublishBounds,
): Promise<Signal> {
  const reply = await redis.oePublishSignal1(
    lk.head,
    lk.signalSeq(roomId),
    lk.signals(roomId),
    lk.stateVersion,
    lk.writeBehind,
    roomId,
    payload,
    by,
    at,
    bounds.retain,
    bounds.ttlSeconds,
    lk.channel,
    bounds.maxPayloadBytes,
    bounds.maxStreamLength,
  );
  if (Number(reply[0]) !== 0) throw scriptError(lk, roomId, reply);
  return { seq: Number(reply[1]), at, by, data: payload };
}

/** Signals of a room with seq > after (at most limit), with the room's counter and lowest retained seq. */
export async function readSignalTail(redis: RedisClient, lk: LessonKeys, roomId: string, after: number, limit: number): Promise<SignalTail> {
  const reply = await redis.oeReadSignals1(lk.head, lk.signalSeq(roomId), lk.signals(roomId), roomId, after, limit);
  if (Number(reply[0]) !== 0) throw scriptError(lk, roomId, reply);
  const members = reply[4] as string[];
  const signals: Signal[] = [];
  let bytes = 0;
  for (const m of members) {
    bytes += Buffer.byteLength(m);
    const s = decodeSignalMember(m);
    // A member this code did not write is skipped rather than failing the room.
    if (s) signals.push(s);
  }
  return { lastSeq: Number(reply[2]), firstSeq: Number(reply[3]), signals, bytes };
}
