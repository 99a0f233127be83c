// A room's signal log in Redis: publish (one script: sequence, zset, trim,
// notify) and the tail read (one script: room check, counter, range). Both are
// one round trip; script codes become typed errors in replyCodes.ts.
import { currentTraceStamp } from '../../model/trace.js';
import { decodeSignalMember, type Signal } from '../../model/signal.js';
import type { RedisClient } from './client.js';
import { durably, MEMORY, type Durability } from './durability.js';
import type { LessonKeys } from './keys.js';
import { REPLY_CODES, replyError } from './replyCodes.js';
import { scriptCommand } from './scripts.js';

const PUBLISH_SIGNAL = scriptCommand('publishSignal');
const READ_SIGNALS = scriptCommand('readSignals');

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
  /** When the publish is acknowledged (default: memory). */
  durability?: Durability;
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
  const reply = await durably(redis, bounds.durability ?? MEMORY, (c) => c[PUBLISH_SIGNAL](
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
    currentTraceStamp(),
  ));
  if (Number(reply[0]) !== REPLY_CODES.publishSignal.OK) throw replyError('publishSignal', reply, { lessonId: lk.lessonId, roomId });
  return { seq: Number(reply[1]), at, by, data: payload };
}

/** Signals of a room with seq > after (at most limit), with the room's counter and lowest retained seq. */
export async function readSignalTail(redis: RedisClient, lk: LessonKeys, roomId: string, after: number, limit: number): Promise<SignalTail> {
  const reply = await redis[READ_SIGNALS](lk.head, lk.signalSeq(roomId), lk.signals(roomId), roomId, after, limit);
  if (Number(reply[0]) !== REPLY_CODES.readSignals.OK) throw replyError('readSignals', reply, { lessonId: lk.lessonId, roomId });
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
