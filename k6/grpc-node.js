// An org node with its children over gRPC (orgengine.v1.ReadService/GetNode,
// service token): the tutors' nodes of the lesson in turn.
//
//   k6 run -e ORGENGINE_TOKEN_SECRET=... -e LESSON=100001 -e GRPC_ADDR=127.0.0.1:9090 [-e VUS=64 | -e RATE=20000] k6/grpc-node.js
import { check } from 'k6';
import exec from 'k6/execution';
import grpc from 'k6/net/grpc';
import { env, optionsFor } from './lib/common.js';
import { grpcOk, PROTO_DIR, readService } from './lib/grpc.js';

const client = new grpc.Client();
client.load([PROTO_DIR], 'orgengine/v1/read_service.proto');
const call = readService(client);

export const options = optionsFor('grpc_node');

export function setup() {
  const r = call('GetNode', { lessonId: env.lessonId, nodeId: 'root', children: true });
  if (!grpcOk(r)) throw new Error(`GetNode root: ${JSON.stringify(r.error)}`);
  const view = /** @type {{children: Array<{nodeId: string}>}} */ (r.message);
  return { nodeIds: ['root', ...view.children.map((c) => c.nodeId)] };
}

/** @param {{nodeIds: string[]}} data */
export default function (data) {
  const nodeId = data.nodeIds[(exec.vu.iterationInInstance + __VU) % data.nodeIds.length] ?? 'root';
  check(call('GetNode', { lessonId: env.lessonId, nodeId, children: true }), { 'GetNode OK': grpcOk });
}
