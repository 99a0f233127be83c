// Baseline (a), the ceiling: a uWS server answering every request with one
// static body (the bench passes a response of the scenario it compares with,
// so the bytes on the wire are the same). No auth, no parsing, no Redis: what
// the transport alone does on the same core.
//
//   npx tsx bench/baselines/static-uws.ts --body-file F [--content-type T] [--port 0] [--host 127.0.0.1]
//                                        [--route /v1/lessons/:lessonId/enter]
//
// --route: answer on that uWS pattern instead, after the calls every gateway
// route makes on the request (each path parameter, the query, the Accept and
// Authorization headers, a clock reading, one small object): the floor of a
// routed answer, what bench/uws-floor.ts compares with the plain ceiling.
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
    route: { type: 'string' },
  },
});
if (!values['body-file']) throw new Error('--body-file is required');
const body = readFileSync(values['body-file']);
const contentType = values['content-type'];

const app = uWS.App();
const route = values.route;
if (route) {
  const nParams = route.split('/').filter((p) => p.startsWith(':')).length;
  let seen = 0;
  app.get(route, (res, req) => {
    const params = new Array<string>(nParams);
    for (let i = 0; i < nParams; i++) params[i] = req.getParameter(i) ?? '';
    const x = { params, query: req.getQuery() ?? '', accept: req.getHeader('accept'), authorization: req.getHeader('authorization'), t0: performance.now() };
    res.writeStatus('200 OK').writeHeader('content-type', contentType).end(body, false);
    // Keep the reads observable so they are not optimised away.
    if (x.authorization.length > 0) seen++;
  });
  process.once('exit', () => process.stderr.write(`answered ${seen} requests with a token\n`));
} else {
  app.any('/*', (res) => {
    res.writeStatus('200 OK').writeHeader('content-type', contentType).end(body);
  });
}
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
