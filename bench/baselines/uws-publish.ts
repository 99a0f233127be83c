// Baseline, the ceiling of live push: a bare uWS server that accepts every
// WebSocket on /v1/ws (no auth, no Redis), subscribes it to one topic, and on
// `POST /publish?n=N&every=MS` publishes N messages of the gateway's `signal`
// shape to that topic, one every MS ms, each stamped with its publish time.
// What uWS alone does for the same clients on the same core.
//
//   npx tsx bench/baselines/uws-publish.ts [--port 0] [--host 127.0.0.1]
//
// Prints {"httpPort": N} on stdout once listening; SIGTERM stops it.
import { parseArgs } from 'node:util';
import uWS from 'uWebSockets.js';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
const TOPIC = 's/main';

const app = uWS.App();
app.ws('/v1/ws', {
  maxBackpressure: 16 * 1024 * 1024,
  idleTimeout: 120,
  open: (ws) => void ws.subscribe(TOPIC),
});
app.post('/publish', (res, req) => {
  const q = new URLSearchParams(req.getQuery() ?? '');
  const n = Number(q.get('n') ?? 1);
  const every = Number(q.get('every') ?? 200);
  let seq = 0;
  const tick = (): void => {
    seq++;
    app.publish(TOPIC, JSON.stringify({ type: 'signal', room: 'main', seq, at: Date.now(), by: 9001, data: JSON.stringify({ type: 'page', page: seq }) }));
    if (seq < n) setTimeout(tick, every);
  };
  setTimeout(tick, every);
  res.writeStatus('202 Accepted').end();
});
app.listen(values.host!, Number(values.port), (socket) => {
  if (!socket) {
    process.stderr.write(`cannot listen on ${values.host}:${values.port}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ httpPort: uWS.us_socket_local_port(socket as unknown as Parameters<typeof uWS.us_socket_local_port>[0]) })}\n`);
  process.once('SIGTERM', () => {
    uWS.us_listen_socket_close(socket);
    process.exit(0);
  });
});
