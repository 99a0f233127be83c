// An org node with its children over HTTP: each iteration reads the node of one
// student's position and its children (student token).
//
//   k6 run -e ORGENGINE_TOKEN_SECRET=... -e LESSON=100001 [-e VUS=64 | -e RATE=20000] k6/http-node.js
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { discoverStudents, env, optionsFor, pick, studentToken } from './lib/common.js';

export const options = optionsFor('http_node');

export function setup() {
  const uids = discoverStudents(env.students);
  /** @type {Array<{uid: number, nodeId: string}>} */
  const students = [];
  for (const uid of uids.slice(0, 200)) {
    const res = http.get(`${env.baseUrl}/v1/lessons/${env.lessonId}/students/${uid}/position`, { headers: { authorization: `Bearer ${studentToken(uid)}` }, tags: { name: 'setup' } });
    if (res.status === 200) students.push({ uid, nodeId: /** @type {{nodeId: string}} */ (res.json()).nodeId });
  }
  if (students.length === 0) throw new Error('no positions readable');
  return { students };
}

/** @param {{students: Array<{uid: number, nodeId: string}>}} data */
export default function (data) {
  const s = data.students[(exec.vu.iterationInInstance * 31 + __VU) % data.students.length] ?? data.students[0];
  if (!s) return;
  const res = http.get(`${env.baseUrl}/v1/lessons/${env.lessonId}/nodes/${encodeURIComponent(s.nodeId)}?children=true`, {
    headers: { authorization: `Bearer ${studentToken(s.uid)}` },
    tags: { name: 'node' },
  });
  check(res, { 'node 200': (r) => r.status === 200 });
}
