// A TCP proxy a test can take down and bring back, to make a server
// unreachable mid-run without touching the server itself.
import net from 'node:net';

/** A running proxy on a random local port. */
export interface TcpProxy {
  port: number;
  /** Drops every open connection and refuses new ones. */
  down(): void;
  /** Forwards again. */
  up(): void;
  close(): Promise<void>;
}

/** Starts a proxy to host:port on 127.0.0.1:<random>. */
export async function startTcpProxy(host: string, port: number): Promise<TcpProxy> {
  let open = true;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = net.connect(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as net.AddressInfo;
  return {
    port: addr.port,
    down() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    up() {
      open = true;
    },
    close() {
      open = false;
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
