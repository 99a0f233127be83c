// The first members page (100) of each room partition over HTTP, teacher token.
//
//   k6 run -e ORGENGINE_TOKEN_SECRET=... -e LESSON=100001 -e TEACHER_UID=... [-e VUS=64 | -e RATE=10000] k6/http-members.js
import { check } from 'k6';
import exec from 'k6/execution';
import http from 'k6/http';
import { env, mint, optionsFor } from './lib/common.js';

export const options = optionsFor('http_members');

export function setup() {
  const token = mint(1, 'service', '*');
  const res = http.get(`${env.baseUrl}/v1/lessons/${env.lessonId}`, { headers: { authorization: `Bearer ${token}` }, tags: { name: 'setup' } });
  if (res.status !== 200) throw new Error(`lesson ${env.lessonId}: ${res.status} ${res.body}`);
  const view = /** @type {{lesson: {teacherUid: number}, rooms: Array<{roomId: string, partitions: number}>}} */ (res.json());
  /** @type {string[]} */
  const pages = [];
  for (const r of view.rooms) for (let p = 0; p < Math.max(1, r.partitions); p++) pages.push(`/v1/lessons/${env.lessonId}/rooms/${encodeURIComponent(r.roomId)}/members?partition=${p}&limit=100`);
  const teacher = Number(__ENV.TEACHER_UID || view.lesson.teacherUid);
  return { pages, teacherToken: mint(teacher, 'teacher', env.lessonId) };
}

/** @param {{pages: string[], teacherToken: string}} data */
export default function (data) {
  const path = data.pages[(exec.vu.iterationInInstance + __VU) % data.pages.length];
  const res = http.get(`${env.baseUrl}${path}`, { headers: { authorization: `Bearer ${data.teacherToken}` }, tags: { name: 'members' } });
  check(res, { 'members 200': (r) => r.status === 200 });
}
