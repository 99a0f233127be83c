// A student's own position over HTTP (student token).
//
//   k6 run -e ORGENGINE_TOKEN_SECRET=... -e LESSON=100001 [-e VUS=64 | -e RATE=20000] k6/http-position.js
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { discoverStudents, env, optionsFor, pick, studentToken } from './lib/common.js';

export const options = optionsFor('http_position');

export function setup() {
  return { uids: discoverStudents(env.students) };
}

/** @param {{uids: number[]}} data */
export default function (data) {
  const uid = pick(data.uids, exec.vu.iterationInInstance);
  const res = http.get(`${env.baseUrl}/v1/lessons/${env.lessonId}/students/${uid}/position`, { headers: { authorization: `Bearer ${studentToken(uid)}` }, tags: { name: 'position' } });
  check(res, { 'position 200': (r) => r.status === 200 });
}
