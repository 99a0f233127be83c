// The scripted steps of the write-behind flusher on a lesson's stream and on
// the registry of watched lessons: acknowledge-and-delete flushed records
// (wb_ack.lua), leave the registry only if nobody re-registered (wb_forget.lua),
// delete a stream only while it is empty (wb_retire.lua).
import type { RedisClient } from './client.js';
import { scriptCommand } from './scripts.js';

const WB_ACK = scriptCommand('wbAck');
const WB_FORGET = scriptCommand('wbForget');
const WB_RETIRE = scriptCommand('wbRetire');

/** Entry ids per acknowledgement script call, so no call carries an unbounded argument list. */
const ACK_CHUNK = 1000;

/** Acknowledges and deletes flushed entries of a stream, in chunks; returns how many were acknowledged. */
export async function ackRecords(redis: RedisClient, stream: string, group: string, ids: readonly string[]): Promise<number> {
  let acked = 0;
  for (let i = 0; i < ids.length; i += ACK_CHUNK) acked += await redis[WB_ACK](stream, group, ...ids.slice(i, i + ACK_CHUNK));
  return acked;
}

/** Removes a lesson from the flusher registry if its score is still `score` (nobody re-registered it); true when removed. */
export async function forgetLesson(redis: RedisClient, registryKey: string, lessonId: number, score: string): Promise<boolean> {
  return (await redis[WB_FORGET](registryKey, lessonId, score)) === 1;
}

/** Deletes a lesson's stream (and its consumer group) if it holds no record; true when deleted. */
export async function retireStream(redis: RedisClient, stream: string): Promise<boolean> {
  return (await redis[WB_RETIRE](stream)) === 1;
}

/**
 * The version of the oldest record still in a lesson's stream (not yet flushed
 * and acknowledged), or null when the stream is empty. Records enter the stream
 * in version order (each script takes its version and appends in one step), so
 * every record up to a version V is in MySQL once this is null or above V.
 */
export async function oldestUnflushedVersion(redis: RedisClient, stream: string): Promise<number | null> {
  const first = await redis.xrange(stream, '-', '+', 'COUNT', 1);
  const fields = first[0]?.[1];
  if (!fields) return null;
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'v') return Number(fields[i + 1]);
  return null;
}
