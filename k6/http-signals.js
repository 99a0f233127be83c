// Hot-room signals over HTTP: every student polls one room with the last seq it
// has seen, while one teacher VU publishes 5 signals a second. Needs the signal
// routes (GET/POST /v1/lessons/:id/rooms/:room/signals).
//
//   k6 run -e ORGENGINE_TOKEN_SECRET=... -e LESSON=100001 [-e ROOM=main] [-e VUS=64 | -e RATE=20000] k6/http-signals.js
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { discoverStudents, env, optionsFor, pick, publishSignal, studentToken } from './lib/common.js';

const room = __ENV.ROOM || 'main';
const base = optionsFor('http_signal_polls');
export const options = {
  ...base,
  scenarios: {
    ...base.scenarios,
    teacher: { executor: 'constant-vus', vus: 1, duration: env.duration, exec: 'publish' },
  },
};

export function setup() {
  return { uids: discoverStudents(env.students) };
}

/** @type {Record<number, number>} */
const seen = {};

/** @param {{uids: number[]}} data */
export default function (data) {
  const uid = pick(data.uids, exec.vu.iterationInInstance);
  const after = seen[uid] ?? 0;
  const res = http.get(`${env.baseUrl}/v1/lessons/${env.lessonId}/rooms/${room}/signals?after=${after}&limit=50`, {
    headers: { authorization: `Bearer ${studentToken(uid)}` },
    tags: { name: 'signals' },
  });
  if (check(res, { 'signals 200': (r) => r.status === 200 })) seen[uid] = /** @type {{lastSeq: number}} */ (res.json()).lastSeq;
}

export function publish() {
  publishSignal(room);
}
