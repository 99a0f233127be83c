// A private redis-server for a bench run, so INFO commandstats count the
// bench's own commands only (the machine's shared Redis serves other work too).
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { freePort, pinned } from './proc.js';

/** A redis-server started by the bench. */
export interface PrivateRedis {
  url: string;
  host: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts redis-server on a free port (no persistence), pinned to `cpus` when given. */
export async function startPrivateRedis(cpus: string | null): Promise<PrivateRedis> {
  const port = await freePort();
  const argv = pinned(cpus, ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxclients', '10000']);
  const proc: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  for (let i = 0; i < 100; i++) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined); // refused until the server listens; retried below
    try {
      await probe.connect();
      await probe.ping();
      await probe.quit();
      return {
        url,
        host: '127.0.0.1',
        port,
        pid: proc.pid!,
        async stop() {
          proc.kill('SIGTERM');
          await exited;
        },
      };
    } catch {
      probe.disconnect();
      await sleep(50);
    }
  }
  proc.kill('SIGKILL');
  throw new Error('redis-server did not start');
}
