// Baseline (a), the ceiling: a uWS server answering every request with one
// static body (the bench passes a response of the scenario it compares with,
// so the bytes on the wire are the same). No auth, no parsing, no Redis: what
// the transport alone does on the same core.
//
//   npx tsx bench/baselines/static-uws.ts --body-file F [--content-type T] [--port 0] [--host 127.0.0.1]
//
// Prints {"httpPort": N} on stdout once listening; SIGTERM stops it.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import uWS from 'uWebSockets.js';

const { values } = parseArgs({
  options: {
    'body-file': { type: 'string' },
    'content-type': { type: 'string', default: 'application/json' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
if (!values['body-file']) throw new Error('--body-file is required');
const body = readFileSync(values['body-file']);
const contentType = values['content-type'];

const app = uWS.App();
app.any('/*', (res) => {
  res.writeStatus('200 OK').writeHeader('content-type', contentType).end(body);
});
app.listen(values.host, Number(values.port), (socket) => {
  if (!socket) {
    process.stderr.write(`cannot listen on ${values.host}:${values.port}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ httpPort: uWS.us_socket_local_port(socket as unknown as Parameters<typeof uWS.us_socket_local_port>[0]), bytes: body.length })}\n`);
  process.once('SIGTERM', () => {
    uWS.us_listen_socket_close(socket);
    process.exit(0);
  });
});
