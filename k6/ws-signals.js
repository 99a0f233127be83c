// Hot-room signals over WebSocket: every VU is a student holding one connection
// subscribed to one room (resuming with `after` on each reconnect, as README
// says), while one teacher VU publishes 5 signals a second over HTTP. Checks
// that every signal arrives once and in order, and records publish→receive
// latency (the signal's `at` to its arrival) as ws_signal_latency.
//
//   k6 run -e ORGENGINE_TOKEN_SECRET=... -e LESSON=100001 [-e ROOM=main] [-e VUS=1000] [-e DURATION=30s] k6/ws-signals.js
import { check } from 'k6';
import exec from 'k6/execution';
import { Counter, Trend } from 'k6/metrics';
import ws from 'k6/ws';
import { discoverStudents, env, pick, publishSignal, studentToken } from './lib/common.js';

const room = __ENV.ROOM || 'main';
const latency = new Trend('ws_signal_latency', true);
const received = new Counter('ws_signals_received');
const outOfOrder = new Counter('ws_signals_out_of_order');

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    students: { executor: 'constant-vus', vus: env.vus, duration: env.duration, exec: 'student' },
    teacher: { executor: 'constant-vus', vus: 1, duration: env.duration, exec: 'publish' },
  },
  thresholds: { checks: ['rate>0.999'], ws_signals_out_of_order: ['count==0'] },
  summaryTrendStats: ['med', 'p(99)', 'max'],
};

export function setup() {
  return { uids: discoverStudents(env.students) };
}

/** The last seq this VU handled: a reconnect resumes after it. */
let lastSeq = -1;

/** @param {{uids: number[]}} data */
export function student(data) {
  const uid = pick(data.uids, exec.vu.idInTest);
  const url = `${env.baseUrl.replace(/^http/, 'ws')}/v1/ws`;
  const res = ws.connect(url, { headers: { authorization: `Bearer ${studentToken(uid)}` } }, (socket) => {
    socket.on('open', () => {
      socket.send(JSON.stringify(lastSeq < 0 ? { type: 'subscribe', room } : { type: 'subscribe', room, after: lastSeq }));
    });
    socket.on('message', (text) => {
      const m = /** @type {{type: string, seq?: number, at?: number, lastSeq?: number, firstSeq?: number, recovered?: boolean, code?: string}} */ (JSON.parse(text));
      if (m.type === 'subscribed') {
        // Live only: start where live starts. Not recovered (trimmed or restarted): the replay starts at firstSeq.
        if (lastSeq < 0) lastSeq = m.lastSeq ?? 0;
        else if (m.recovered === false) lastSeq = (m.firstSeq ?? 1) - 1;
      } else if (m.type === 'signal' && m.seq !== undefined && m.at !== undefined) {
        if (m.seq !== lastSeq + 1) outOfOrder.add(1);
        lastSeq = m.seq;
        received.add(1);
        latency.add(Date.now() - m.at);
      } else if (m.type === 'error') {
        check(m, { 'no error message': () => false });
      }
    });
    // Hold the connection for a while, then reconnect with after (exercises recovery).
    socket.setTimeout(() => socket.close(), 10_000);
  });
  check(res, { 'upgraded 101': (r) => r !== null && r.status === 101 });
}

export function publish() {
  publishSignal(room);
}
