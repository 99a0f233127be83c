// The first members page (100) of each room partition over gRPC
// (orgengine.v1.ReadService/ListMembers, service token).
//
//   k6 run -e ORGENGINE_TOKEN_SECRET=... -e LESSON=100001 -e GRPC_ADDR=127.0.0.1:9090 [-e VUS=64 | -e RATE=10000] k6/grpc-members.js
import { check } from 'k6';
import exec from 'k6/execution';
import grpc from 'k6/net/grpc';
import { env, optionsFor } from './lib/common.js';
import { grpcOk, PROTO_DIR, readService } from './lib/grpc.js';

const client = new grpc.Client();
client.load([PROTO_DIR], 'orgengine/v1/read_service.proto');
const call = readService(client);

export const options = optionsFor('grpc_members');

export function setup() {
  const r = call('GetLesson', { lessonId: env.lessonId });
  if (!grpcOk(r)) throw new Error(`GetLesson: ${JSON.stringify(r.error)}`);
  const view = /** @type {{rooms: Array<{roomId: string, partitions: number}>}} */ (r.message);
  /** @type {Array<{roomId: string, partition: number}>} */
  const pages = [];
  for (const room of view.rooms) for (let p = 0; p < Math.max(1, room.partitions); p++) pages.push({ roomId: room.roomId, partition: p });
  return { pages };
}

/** @param {{pages: Array<{roomId: string, partition: number}>}} data */
export default function (data) {
  const page = data.pages[(exec.vu.iterationInInstance + __VU) % data.pages.length];
  if (!page) return;
  check(call('ListMembers', { lessonId: env.lessonId, roomId: page.roomId, partition: page.partition, limit: 100 }), { 'ListMembers OK': grpcOk });
}
