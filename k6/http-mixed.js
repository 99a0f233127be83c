// The in-class mix over HTTP, per student: enter once, then signal polls and a
// heartbeat every few polls, and one group pick. Needs the signal and mutation
// routes; their paths are the same as the bench's (bench/scenarios.ts
// MUTATION_ROUTES) — change both together.
//
//   k6 run -e ORGENGINE_TOKEN_SECRET=... -e LESSON=100001 [-e VUS=200 | -e RATE=20000] k6/http-mixed.js
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { discoverStudents, env, optionsFor, pick, studentToken } from './lib/common.js';

export const options = optionsFor('http_mixed');

export function setup() {
  return { uids: discoverStudents(env.students) };
}

/** @type {Record<number, {n: number, after: number, room: string}>} */
const state = {};

/** @param {{uids: number[]}} data */
export default function (data) {
  const uid = pick(data.uids, exec.vu.iterationInInstance);
  const headers = { authorization: `Bearer ${studentToken(uid)}`, 'content-type': 'application/json' };
  const lesson = `${env.baseUrl}/v1/lessons/${env.lessonId}`;
  let s = state[uid];
  if (!s) {
    const res = http.get(`${lesson}/enter`, { headers, tags: { name: 'enter' } });
    if (!check(res, { 'enter 200': (r) => r.status === 200 })) return;
    s = { n: 0, after: 0, room: /** @type {{roomId: string}} */ (res.json()).roomId };
    state[uid] = s;
    const pickRes = http.post(`${lesson}/students/${uid}/group`, '{}', { headers, tags: { name: 'group-pick' } });
    check(pickRes, { 'group pick 2xx': (r) => r.status >= 200 && r.status < 300 });
    return;
  }
  s.n++;
  if (s.n % 4 === 0) {
    const hb = http.post(`${lesson}/rooms/${s.room}/students/${uid}/heartbeat`, '{}', { headers, tags: { name: 'heartbeat' } });
    check(hb, { 'heartbeat 2xx': (r) => r.status >= 200 && r.status < 300 });
    return;
  }
  const res = http.get(`${lesson}/rooms/main/signals?after=${s.after}&limit=50`, { headers, tags: { name: 'signals' } });
  if (check(res, { 'signals 200': (r) => r.status === 200 })) s.after = /** @type {{lastSeq: number}} */ (res.json()).lastSeq;
}
