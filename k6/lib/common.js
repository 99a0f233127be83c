// Shared by the k6 scripts: settings from the environment, token minting (the
// gateway's format: base64url(JSON claims) "." base64url(HMAC-SHA256)), the
// students of a lesson (read through the API with a service token) and the
// load shape (closed loop with VUS, or a fixed arrival RATE for latency).
import { check, sleep } from 'k6';
import crypto from 'k6/crypto';
import encoding from 'k6/encoding';
import http from 'k6/http';

/** Where and what to load (k6 run -e NAME=value ...). */
export const env = {
  baseUrl: __ENV.BASE_URL || 'http://127.0.0.1:8080',
  grpcAddr: __ENV.GRPC_ADDR || '127.0.0.1:9090',
  lessonId: Number(__ENV.LESSON || 100001),
  secret: __ENV.ORGENGINE_TOKEN_SECRET || '',
  /** Distinct students the script cycles through. */
  students: Number(__ENV.STUDENTS || 1000),
  duration: __ENV.DURATION || '30s',
  vus: Number(__ENV.VUS || 64),
  /** Requests per second; when set the load is a constant arrival rate (latency runs). */
  rate: Number(__ENV.RATE || 0),
  /** Latency target checked as a threshold (ms). */
  p99Ms: Number(__ENV.P99_MS || 2),
};

if (env.secret.length < 32) throw new Error('set ORGENGINE_TOKEN_SECRET (the gateway\'s, at least 32 bytes): k6 run -e ORGENGINE_TOKEN_SECRET=...');

/**
 * A token the gateway accepts.
 * @param {number} uid
 * @param {'student'|'teacher'|'tutor'|'service'} role
 * @param {number|'*'} lesson
 * @returns {string}
 */
export function mint(uid, role, lesson) {
  const exp = Math.floor(Date.now() / 1000) + 6 * 3600;
  const body = encoding.b64encode(JSON.stringify({ u: uid, r: role, l: lesson, e: exp }), 'rawurl');
  return `${body}.${crypto.hmac('sha256', env.secret, body, 'base64rawurl')}`;
}

/** @type {Record<number, string>} */
const studentTokens = {};

/**
 * The student's token, minted once per VU.
 * @param {number} uid
 * @returns {string}
 */
export function studentToken(uid) {
  let t = studentTokens[uid];
  if (t === undefined) {
    t = mint(uid, 'student', env.lessonId);
    studentTokens[uid] = t;
  }
  return t;
}

/**
 * Uids of the lesson's first `max` students in join order, paged from the main
 * room's members with a service token (run from setup()).
 * @param {number} max
 * @returns {number[]}
 */
export function discoverStudents(max) {
  const token = mint(1, 'service', '*');
  /** @type {number[]} */
  const uids = [];
  let cursor = '';
  while (uids.length < max) {
    const q = `limit=${Math.min(1000, max - uids.length)}${cursor ? `&cursor=${cursor}` : ''}`;
    const res = http.get(`${env.baseUrl}/v1/lessons/${env.lessonId}/rooms/main/members?${q}`, { headers: { authorization: `Bearer ${token}` }, tags: { name: 'setup' } });
    if (res.status !== 200) throw new Error(`members of lesson ${env.lessonId}: ${res.status} ${res.body}`);
    const page = /** @type {{members: Array<{uid: number}>, nextCursor: string | null}} */ (res.json());
    for (const m of page.members) uids.push(m.uid);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  if (uids.length === 0) throw new Error(`lesson ${env.lessonId} has no students: preload it first`);
  return uids;
}

/**
 * k6 options for one scenario: closed loop (VUS for DURATION) or, with RATE, a
 * constant arrival rate with the p99 threshold.
 * @param {string} name
 * @returns {import('k6/options').Options}
 */
export function optionsFor(name) {
  /** @type {import('k6/options').Scenario} */
  const scenario = env.rate
    ? { executor: 'constant-arrival-rate', rate: env.rate, timeUnit: '1s', duration: env.duration, preAllocatedVUs: env.vus, maxVUs: env.vus * 4 }
    : { executor: 'constant-vus', vus: env.vus, duration: env.duration };
  /** @type {import('k6/options').Options['thresholds']} */
  const thresholds = { checks: ['rate>0.999'] };
  if (env.rate) {
    thresholds.http_req_duration = [`p(99)<${env.p99Ms}`];
    thresholds.grpc_req_duration = [`p(99)<${env.p99Ms}`];
  }
  return { scenarios: { [name]: scenario }, thresholds, discardResponseBodies: false, summaryTrendStats: ['med', 'p(99)', 'p(99.9)', 'max'] };
}

/**
 * The n-th uid of the setup data, spread over VUs.
 * @param {number[]} uids
 * @param {number} iteration
 * @returns {number}
 */
export function pick(uids, iteration) {
  return uids[(iteration * 7919 + __VU * 104729) % uids.length] ?? uids[0] ?? 0;
}

/** Signals published so far by this VU (the payload's page number). */
let published = 0;
/** The publisher's service token, minted on first use. */
let publisherToken = '';

/**
 * One iteration of the teacher VU: publish a signal into `room` with a service
 * token, then wait 200 ms (5 signals a second).
 * @param {string} room
 */
export function publishSignal(room) {
  if (publisherToken === '') publisherToken = mint(1, 'service', '*');
  const res = http.post(`${env.baseUrl}/v1/lessons/${env.lessonId}/rooms/${room}/signals`, JSON.stringify({ data: JSON.stringify({ page: published++ }) }), {
    headers: { authorization: `Bearer ${publisherToken}`, 'content-type': 'application/json' },
    tags: { name: 'publish' },
  });
  check(res, { 'publish 201': (r) => r.status === 201 });
  sleep(0.2);
}
