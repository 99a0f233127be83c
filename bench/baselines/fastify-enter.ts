// Baseline (b): what a team would write first. Fastify + ioredis, the same
// routes and JSON as the gateway, each request verifying the same token
// (the project's TokenVerifier, same LRU size) and then reading Redis with plain
// commands, one awaited round trip after another, no local cache, no scripts.
// enter: HGET head version, HGETALL lesson, HGET position, HGET node, HMGET rooms,
// HGET st:group (+ HGET group node when picked), SISMEMBER st:mute, HGET st:signin.
// (It skips the node-mute check, dynamic nodes and the HTTP status mapping the
// gateway does: every shortcut favours the baseline.)
//
//   ORGENGINE_TOKEN_SECRET=... ORGENGINE_KEY_PREFIX=... npx tsx bench/baselines/fastify-enter.ts [--port 0]
//
// Redis and key prefix come from the same variables as the gateway. Prints
// {"httpPort": N} once listening; SIGTERM stops it.
import { parseArgs } from 'node:util';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { Cluster, Redis } from 'ioredis';
import { bearerToken, TokenVerifier, type Claims } from '../../src/auth/tokens.js';
import { loadConfig, requireTokenKeys } from '../../src/config.js';
import type { OrgNode, Room } from '../../src/model/topology.js';
import { decodeSignalMember, type Signal } from '../../src/model/signal.js';
import { unpack } from '../../src/store/redis/codec.js';
import { lessonKeys, positionBucket, type LessonKeys, type VersionKeys } from '../../src/store/redis/keys.js';
import { decodeLessonHash, decodePosition } from '../../src/store/redis/lessonReader.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
const config = loadConfig(process.env);
const tokens = new TokenVerifier({ ...requireTokenKeys(config), cacheEntries: config.api.tokenCacheEntries });
const redis = config.redis.mode === 'cluster' ? new Cluster(config.redis.nodes) : new Redis(config.redis.url);

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function auth(req: FastifyRequest, lessonId: number): Claims {
  let c: Claims;
  try {
    c = tokens.verify(bearerToken(req.headers.authorization ?? ''));
  } catch (e) {
    throw new HttpError(401, (e as Error).message);
  }
  if (c.lesson !== '*' && c.lesson !== lessonId) throw new HttpError(403, 'token is for another lesson');
  return c;
}

async function versionBase(lessonId: number): Promise<{ lk: LessonKeys; vk: VersionKeys; version: number }> {
  const lk = lessonKeys(config.keyPrefix, lessonId);
  const v = await redis.hget(lk.head, 'version');
  if (!v) throw new HttpError(404, `lesson ${lessonId} is not preloaded`);
  return { lk, vk: lk.version(Number(v)), version: Number(v) };
}

const fastify = Fastify({ logger: false });

fastify.setErrorHandler((err: Error, _req: FastifyRequest, reply: FastifyReply) => {
  const status = err instanceof HttpError ? err.status : 500;
  void reply.code(status).send({ error: { code: status, message: err.message } });
});

fastify.get<{ Params: { lessonId: string }; Querystring: { uid?: string; room?: string } }>('/v1/lessons/:lessonId/enter', async (req) => {
  const lessonId = Number(req.params.lessonId);
  const c = auth(req, lessonId);
  const uid = c.role === 'student' ? c.uid : Number(req.query.uid);
  if (c.role === 'student' && req.query.uid !== undefined && Number(req.query.uid) !== uid) throw new HttpError(403, 'a student enters as itself');
  const { lk, vk, version } = await versionBase(lessonId);
  const flat = await redis.hgetall(vk.lesson);
  const stored = decodeLessonHash(Object.entries(flat).flat());
  const posBlob = await redis.hgetBuffer(vk.positions(positionBucket(uid, stored.posBuckets)), String(uid));
  if (!posBlob) throw new HttpError(404, `student ${uid} has no position`);
  const pos = decodePosition(posBlob);
  const nodeBlob = await redis.hgetBuffer(vk.nodes, pos.nodeId);
  const roomIds = pos.rooms.map((r) => r.roomId);
  const roomId = req.query.room ? req.query.room : roomIds[0]!;
  if (!roomIds.includes(roomId)) throw new HttpError(403, `not a member of room ${roomId}`);
  const roomBlobs = await redis.hmgetBuffer(vk.rooms, ...roomIds);
  const groupId = await redis.hget(lk.stateGroup, String(uid));
  const groupBlob = groupId ? await redis.hgetBuffer(vk.nodes, groupId) : null;
  const muted = await redis.sismember(lk.stateMuted(roomId), String(uid));
  const signin = await redis.hget(lk.stateSignIn, String(uid));
  const { posBuckets: _b, ...lesson } = stored;
  return {
    lessonId,
    uid,
    version,
    roomId,
    lesson,
    rooms: roomBlobs.flatMap((b, i) => (b ? [{ room: unpack<Room>(b), partition: pos.rooms[i]!.partition }] : [])),
    node: nodeBlob ? unpack<OrgNode>(nodeBlob) : null,
    group: groupBlob ? unpack<OrgNode>(groupBlob) : null,
    muted: muted === 1,
    mutedBy: muted === 1 ? 'self' : null,
    signedInAt: signin === null ? null : Number(signin),
  };
});

fastify.get<{ Params: { lessonId: string; uid: string } }>('/v1/lessons/:lessonId/students/:uid/position', async (req) => {
  const lessonId = Number(req.params.lessonId);
  const uid = Number(req.params.uid);
  const c = auth(req, lessonId);
  if (c.role === 'student' && c.uid !== uid) throw new HttpError(403, 'a student reads only its own position');
  const { vk } = await versionBase(lessonId);
  const buckets = Number(await redis.hget(vk.lesson, 'posBuckets'));
  const blob = await redis.hgetBuffer(vk.positions(positionBucket(uid, buckets)), String(uid));
  if (!blob) throw new HttpError(404, `student ${uid} has no position`);
  const p = decodePosition(blob);
  return { lessonId, uid, nodeId: p.nodeId, rooms: p.rooms };
});

fastify.get<{ Params: { lessonId: string; nodeId: string }; Querystring: { children?: string } }>('/v1/lessons/:lessonId/nodes/:nodeId', async (req) => {
  const lessonId = Number(req.params.lessonId);
  auth(req, lessonId);
  const { vk } = await versionBase(lessonId);
  const blob = await redis.hgetBuffer(vk.nodes, req.params.nodeId);
  if (!blob) throw new HttpError(404, `no node ${req.params.nodeId}`);
  const node = unpack<OrgNode>(blob);
  let children: OrgNode[] = [];
  if (req.query.children === 'true' && node.childIds.length > 0) {
    const blobs = await redis.hmgetBuffer(vk.nodes, ...node.childIds);
    children = blobs.flatMap((b) => (b ? [unpack<OrgNode>(b)] : []));
  }
  return { node, children, parent: null, source: null };
});

fastify.get<{ Params: { lessonId: string; roomId: string }; Querystring: { partition?: string; limit?: string } }>('/v1/lessons/:lessonId/rooms/:roomId/members', async (req) => {
  const lessonId = Number(req.params.lessonId);
  auth(req, lessonId);
  const { roomId } = req.params;
  const partition = Number(req.query.partition ?? 0);
  const limit = Number(req.query.limit ?? config.api.membersPageDefault);
  const { vk } = await versionBase(lessonId);
  if (!(await redis.hexists(vk.rooms, roomId))) throw new HttpError(404, `no room ${roomId}`);
  const flat = await redis.zrangebyscore(vk.members(roomId, partition), '-inf', '+inf', 'WITHSCORES', 'LIMIT', 0, limit + 1);
  const members: Array<{ uid: number; order: number; partition: number }> = [];
  for (let i = 0; i + 1 < flat.length && members.length < limit; i += 2) members.push({ uid: Number(flat[i]), order: Number(flat[i + 1]), partition });
  const last = members[members.length - 1];
  return { lessonId, roomId, members, nextCursor: flat.length > 2 * limit && last ? `${partition}.${last.order}` : null };
});

fastify.get<{ Params: { lessonId: string; roomId: string }; Querystring: { after?: string; limit?: string } }>('/v1/lessons/:lessonId/rooms/:roomId/signals', async (req) => {
  const lessonId = Number(req.params.lessonId);
  auth(req, lessonId);
  const { roomId } = req.params;
  const after = Number(req.query.after ?? 0);
  const limit = Number(req.query.limit ?? config.signals.maxReadLimit);
  const { lk, vk } = await versionBase(lessonId);
  if (!(await redis.hexists(vk.rooms, roomId))) throw new HttpError(404, `no room ${roomId}`);
  const lastSeq = Number((await redis.get(lk.signalSeq(roomId))) ?? 0);
  const first = await redis.zrange(lk.signals(roomId), 0, 0, 'WITHSCORES');
  const firstSeq = first[1] === undefined ? lastSeq + 1 : Number(first[1]);
  const members = await redis.zrangebyscore(lk.signals(roomId), `(${after}`, '+inf', 'LIMIT', 0, limit);
  const signals = members.map(decodeSignalMember).filter((s): s is Signal => s !== null);
  const upTo = signals.length > 0 ? signals[signals.length - 1]!.seq : after;
  return { signals, lastSeq, firstSeq, truncated: after < firstSeq - 1, more: upTo < lastSeq };
});

const address = await fastify.listen({ port: Number(values.port), host: values.host });
process.stdout.write(`${JSON.stringify({ httpPort: Number(new URL(address).port) })}\n`);
process.once('SIGTERM', () => {
  void fastify.close().then(() => {
    redis.disconnect();
    process.exit(0);
  });
});
