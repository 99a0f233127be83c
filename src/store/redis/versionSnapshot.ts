// Reads every key of one preloaded version, for checks and diffs (never on the
// request path). Commands are pipelined in bounded chunks, each bounded by the
// partition size, so a snapshot of a 30k-student lesson never blocks Redis for long.
import type { OrgNode, Room } from '../../model/topology.js';
import type { RedisClient } from './client.js';
import { unpack } from './codec.js';
import type { LessonKeys } from './keys.js';
import { decodeLessonHash, decodePosition, type StoredLesson, type StoredPosition } from './lessonReader.js';

/** Everything one version holds. */
export interface VersionSnapshot {
  version: number;
  lesson: StoredLesson | null;
  rooms: Room[];
  nodes: OrgNode[];
  /** Every position, with the bucket hash it was found in. */
  positions: Array<{ uid: number; bucket: number; position: StoredPosition }>;
  /** Every member of every member partition listed in the version's key index. */
  members: Array<{ roomId: string; partition: number; uid: number; order: number }>;
}

type Reply = [Error | null, unknown];

async function run(redis: RedisClient, cmds: Array<[string, ...Array<string | number>]>, perPipeline: number): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < cmds.length; i += perPipeline) {
    const pipe = redis.pipeline();
    for (const [cmd, ...args] of cmds.slice(i, i + perPipeline)) pipe.callBuffer(cmd, ...args);
    const res = ((await pipe.exec()) ?? []) as Reply[];
    for (const [err, val] of res) {
      if (err) throw err;
      out.push(val);
    }
  }
  return out;
}

const str = (b: unknown): string => (Buffer.isBuffer(b) ? b.toString('utf8') : String(b));

/** Reads version `version` of a lesson whole. */
export async function readVersionSnapshot(redis: RedisClient, lk: LessonKeys, version: number, perPipeline = 64): Promise<VersionSnapshot> {
  const vk = lk.version(version);
  const [lessonFlat, roomsFlat, nodesFlat, indexRaw] = (await run(
    redis,
    [
      ['HGETALL', vk.lesson],
      ['HGETALL', vk.rooms],
      ['HGETALL', vk.nodes],
      ['SMEMBERS', vk.index],
    ],
    perPipeline,
  )) as [Buffer[], Buffer[], Buffer[], Buffer[]];
  const lesson = lessonFlat.length > 0 ? decodeLessonHash(lessonFlat) : null;
  const rooms: Room[] = [];
  for (let i = 1; i < roomsFlat.length; i += 2) rooms.push(unpack<Room>(roomsFlat[i]!));
  const nodes: OrgNode[] = [];
  for (let i = 1; i < nodesFlat.length; i += 2) nodes.push(unpack<OrgNode>(nodesFlat[i]!));

  // Position buckets come from the lesson record (what readers use); member keys
  // from the key index, so members in a partition no room admits still show up.
  const buckets = lesson?.posBuckets ?? 0;
  const posKeys = Array.from({ length: buckets }, (_, b) => vk.positions(b));
  const memberPrefix = `${vk.base}m:`;
  const memberKeys = indexRaw.map(str).filter((k) => k.startsWith(memberPrefix));
  const replies = await run(
    redis,
    [...posKeys.map((k): [string, string] => ['HGETALL', k]), ...memberKeys.map((k): [string, ...string[]] => ['ZRANGE', k, '0', '-1', 'WITHSCORES'])],
    perPipeline,
  );
  const positions: VersionSnapshot['positions'] = [];
  for (let b = 0; b < buckets; b++) {
    const flat = replies[b] as Buffer[];
    for (let i = 0; i + 1 < flat.length; i += 2) positions.push({ uid: Number(str(flat[i])), bucket: b, position: decodePosition(flat[i + 1]!) });
  }
  const members: VersionSnapshot['members'] = [];
  memberKeys.forEach((key, j) => {
    const flat = replies[buckets + j] as Buffer[];
    const rest = key.slice(memberPrefix.length);
    const cut = rest.lastIndexOf(':');
    const roomId = rest.slice(0, cut);
    const partition = Number(rest.slice(cut + 1));
    for (let i = 0; i + 1 < flat.length; i += 2) members.push({ roomId, partition, uid: Number(str(flat[i])), order: Number(str(flat[i + 1])) });
  });
  return { version, lesson, rooms, nodes, positions, members };
}
