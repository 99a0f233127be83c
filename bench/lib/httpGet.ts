// One authorised GET over a keep-alive agent, for the benches that drive the
// gateway from Node (class start, first enters) rather than from wrk.
import { request, type Agent } from 'node:http';

/** GETs `path` on 127.0.0.1:`port` with a Bearer token; resolves with the status (0 when there was no answer). */
export function httpGet(agent: Agent, port: number, path: string, token: string): Promise<number> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => done(res.statusCode ?? 0));
      res.on('error', () => done(0));
    });
    req.on('error', () => done(0));
    req.end();
  });
}
