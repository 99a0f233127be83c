// WebSocket test clients (the `ws` package): connect to a gateway's /v1/ws,
// collect every message in order, wait for the ones a test expects, and see
// how an upgrade was refused.
import WebSocket from 'ws';

/** A message as the server sent it (JSON). */
export type WsMessage = Record<string, any> & { type: string };

/** A connected client that records what it receives. */
export interface WsClient {
  ws: WebSocket;
  messages: WsMessage[];
  /** Sends a command as a JSON text frame. */
  send(cmd: object | string): void;
  /** Resolves with the first message from index `from` on matching `pred` (waits for it). */
  next(pred: (m: WsMessage) => boolean, timeoutMs?: number, from?: number): Promise<WsMessage>;
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** Opens a connection; `token` goes in the Authorization header unless `via` says otherwise. */
export function connectWs(base: string, token: string | null, o: { via?: 'header' | 'query' | 'protocol'; query?: string; autoPong?: boolean } = {}): Promise<WsClient> {
  const via = o.via ?? 'header';
  const qs = [o.query, via === 'query' && token ? `token=${encodeURIComponent(token)}` : ''].filter(Boolean).join('&');
  const url = `${base.replace(/^http/, 'ws')}/v1/ws${qs ? `?${qs}` : ''}`;
  const protocols = via === 'protocol' && token ? ['orgengine.v1', `bearer.${token}`] : undefined;
  const headers = via === 'header' && token ? { authorization: `Bearer ${token}` } : undefined;
  const ws = new WebSocket(url, protocols, { headers, perMessageDeflate: false, autoPong: o.autoPong ?? true });
  const messages: WsMessage[] = [];
  const waiters = new Set<() => void>();
  ws.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as WsMessage);
    for (const w of waiters) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  const client: WsClient = {
    ws,
    messages,
    send: (cmd) => ws.send(typeof cmd === 'string' ? cmd : JSON.stringify(cmd)),
    next(pred, timeoutMs = 5000, from = 0) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          for (let i = from; i < messages.length; i++) {
            if (pred(messages[i]!)) {
              waiters.delete(probe);
              clearTimeout(timer);
              resolve(messages[i]!);
              return true;
            }
          }
          return false;
        };
        const probe = (): void => void check();
        const timer = setTimeout(() => {
          waiters.delete(probe);
          reject(new Error(`no matching message within ${timeoutMs} ms; got ${JSON.stringify(messages.slice(-5))}`));
        }, timeoutMs);
        if (!check()) waiters.add(probe);
      });
    },
    closed,
    close: () => ws.close(),
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
  });
}

/** The HTTP status an upgrade was refused with (101 if it was accepted). */
export async function upgradeStatus(base: string, token: string | null, o: { via?: 'header' | 'query' | 'protocol'; query?: string } = {}): Promise<number> {
  try {
    const c = await connectWs(base, token, o);
    c.close();
    return 101;
  } catch (e) {
    return (e as { status?: number }).status ?? 0;
  }
}
