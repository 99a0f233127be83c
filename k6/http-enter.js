// enter over HTTP: each iteration one student (its own student token) enters
// its default room. Warm or cold is the gateway's setting: start it with
// ORGENGINE_CACHE_TTL_MS=0 to measure cold reads (one Redis round trip each).
//
//   k6 run -e ORGENGINE_TOKEN_SECRET=... -e LESSON=100001 [-e STUDENTS=1000] [-e VUS=64 | -e RATE=20000] k6/http-enter.js
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { discoverStudents, env, optionsFor, pick, studentToken } from './lib/common.js';

export const options = optionsFor('http_enter');

export function setup() {
  return { uids: discoverStudents(env.students) };
}

/** @param {{uids: number[]}} data */
export default function (data) {
  const uid = pick(data.uids, exec.vu.iterationInInstance);
  const res = http.get(`${env.baseUrl}/v1/lessons/${env.lessonId}/enter`, { headers: { authorization: `Bearer ${studentToken(uid)}` }, tags: { name: 'enter' } });
  check(res, { 'enter 200': (r) => r.status === 200 });
}
