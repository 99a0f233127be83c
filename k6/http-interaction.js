// The interaction center's load-test flow over HTTP (seed 002), one flow per
// iteration, each VU in its own four students (A, B, C, D) and room, plus
// UniversalInfo polled by an audience student after a step with probability
// INFO_RATIO. A counts states that are not what the flow expects
// (`ia_unexpected`, threshold 0): after A (the creator) leaves, the session has
// ended and B, C and D's left events answer outcome 'ended'.
//
//   FastCreate (A invites B) -> Handle (B accepts) -> RtcEvent (A joined) -> RtcEvent (B joined) ->
//   Apply (C) -> Handle (A accepts C) -> RtcEvent (C joined) -> Invite (A invites D) ->
//   Handle (D accepts) -> RtcEvent (D joined) -> RtcEvent (A, B, C, D left)
//
//   k6 run -e ORGENGINE_TOKEN_SECRET=... -e LESSON=100001 [-e VUS=64] [-e INFO_RATIO=0.5] [-e ROOM=main] k6/http-interaction.js
//
// A lesson needs 5 x VUS students (STUDENTS >= 5 x VUS); ORGENGINE_IA_MAX_SESSIONS_PER_ROOM must allow VUS
// sessions in ROOM at once.
import { check } from 'k6';
import http from 'k6/http';
import { Counter } from 'k6/metrics';
import { discoverStudents, env, mint, optionsFor, studentToken } from './lib/common.js';

const base = optionsFor('http_interaction');
export const options = { ...base, thresholds: { ...base.thresholds, ia_unexpected: ['count==0'] } };
const unexpected = new Counter('ia_unexpected');
const infoRatio = Number(__ENV.INFO_RATIO || 0.5);
const room = __ENV.ROOM || 'main';
let events = 0;

export function setup() {
  return { uids: discoverStudents(Math.max(env.students, 5 * env.vus)) };
}

/**
 * POST a JSON body and check the answer against `want`.
 * @param {string} name
 * @param {string} url
 * @param {string} token
 * @param {object} body
 * @param {(b: any) => boolean} want
 * @returns {any}
 */
function post(name, url, token, body, want) {
  const res = http.post(url, JSON.stringify(body), { headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, tags: { name } });
  if (!check(res, { [`${name} 2xx`]: (r) => r.status >= 200 && r.status < 300 })) return null;
  const b = res.json();
  if (!want(b)) unexpected.add(1, { step: name });
  return b;
}

/** @param {{uids: number[]}} data */
export default function (data) {
  const base = (__VU - 1) * 5;
  const [A, B, C, D, E] = [0, 1, 2, 3, 4].map((i) => data.uids[(base + i) % data.uids.length] ?? 0);
  if (!A || !B || !C || !D || !E) throw new Error('not enough students for this VU');
  const lesson = `${env.baseUrl}/v1/lessons/${env.lessonId}`;
  const service = mint(1, 'service', '*');
  const poll = () => {
    if (Math.random() >= infoRatio) return;
    const res = http.get(`${lesson}/rooms/${room}/interactions`, { headers: { authorization: `Bearer ${studentToken(E)}` }, tags: { name: 'UniversalInfo' } });
    check(res, { 'UniversalInfo 200': (r) => r.status === 200 });
  };
  const created = post('FastCreate', `${lesson}/rooms/${room}/interactions`, studentToken(A), { kind: 'multi', invitee: B }, (b) => typeof b.sessionId === 'string');
  if (!created) return;
  const s = `${lesson}/interactions/${created.sessionId}`;
  /**
   * @param {string} name
   * @param {number} uid
   * @param {'joined'|'left'} event
   * @param {string} state
   * @param {string} outcome
   */
  const rtc = (name, uid, event, state, outcome = 'applied') =>
    post(name, `${lesson}/rtc-events`, service, { channelId: created.channelId, uid, event, eventId: `${__VU}-${__ITER}-${events++}`, at: Date.now() }, (b) => b.outcome === outcome && b.state === state);
  poll();
  post('Handle B', `${s}/handle`, studentToken(B), { accept: true }, (b) => b.state === 'connecting');
  rtc('Rtc A joined', A, 'joined', 'connected');
  rtc('Rtc B joined', B, 'joined', 'connected');
  poll();
  post('Apply C', `${s}/apply`, studentToken(C), {}, (b) => b.state === 'initiated');
  post('Handle C', `${s}/handle`, studentToken(A), { uid: C, accept: true }, (b) => b.state === 'connecting');
  rtc('Rtc C joined', C, 'joined', 'connected');
  poll();
  post('Invite D', `${s}/invite`, studentToken(A), { uid: D }, (b) => b.state === 'initiated');
  post('Handle D', `${s}/handle`, studentToken(D), { accept: true }, (b) => b.state === 'connecting');
  rtc('Rtc D joined', D, 'joined', 'connected');
  poll();
  rtc('Rtc A left', A, 'left', 'left');
  rtc('Rtc B left', B, 'left', 'ended', 'ended');
  rtc('Rtc C left', C, 'left', 'ended', 'ended');
  rtc('Rtc D left', D, 'left', 'ended', 'ended');
  poll();
}
