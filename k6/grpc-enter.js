// enter over gRPC (orgengine.v1.ReadService/Enter, service token) for the
// lesson's students in turn.
//
//   k6 run -e ORGENGINE_TOKEN_SECRET=... -e LESSON=100001 -e GRPC_ADDR=127.0.0.1:9090 [-e VUS=64 | -e RATE=20000] k6/grpc-enter.js
import { check } from 'k6';
import exec from 'k6/execution';
import grpc from 'k6/net/grpc';
import { discoverStudents, env, optionsFor, pick } from './lib/common.js';
import { grpcOk, PROTO_DIR, readService } from './lib/grpc.js';

const client = new grpc.Client();
client.load([PROTO_DIR], 'orgengine/v1/read_service.proto');
const call = readService(client);

export const options = optionsFor('grpc_enter');

export function setup() {
  return { uids: discoverStudents(env.students) };
}

/** @param {{uids: number[]}} data */
export default function (data) {
  const uid = pick(data.uids, exec.vu.iterationInInstance);
  check(call('Enter', { lessonId: env.lessonId, uid, roomId: '' }), { 'Enter OK': grpcOk });
}
