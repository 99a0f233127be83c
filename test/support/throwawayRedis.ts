// Redis servers and clusters a test may stop, kill or fail over: private
// redis-server processes on free ports in a temp directory, torn down after.
// The shared single Redis and the shared test cluster are never touched.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sleep } from './wait.js';

const run = promisify(execFile);

/** True when nothing listens on `port` (checked by binding it). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * `n` free ports whose cluster bus port (port + 10000) is free too, from a
 * random start below the usual ephemeral range so a restart does not meet its
 * own bus port in TIME-WAIT held by a client socket.
 */
export async function freePorts(n: number): Promise<number[]> {
  const out: number[] = [];
  let p = 20000 + Math.floor(Math.random() * 8000);
  while (out.length < n && p < 29990) {
    if ((await portFree(p)) && (await portFree(p + 10000))) out.push(p);
    p++;
  }
  if (out.length < n) throw new Error(`throwaway redis: found only ${out.length} of ${n} free ports`);
  return out;
}

/** redis-cli against one port; the reply trimmed. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: 60_000 });
  return stdout.trim();
}

/** One private redis-server process. */
export interface RedisProc {
  port: number;
  url: string;
  dir: string;
  /** SIGKILL: the process dies without a word, as in `kill -9`. */
  kill9(): Promise<void>;
  /** Starts it again on the same port and directory (a stopped server coming back). */
  start(): Promise<void>;
  alive(): boolean;
}

async function waitPing(port: number, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      if ((await redisCli(port, 'ping')) === 'PONG') return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`redis on ${port} does not answer PING`);
    await sleep(50);
  }
}

/** Starts a redis-server on `port` in `dir` with extra arguments; resolves when it answers PING. */
export async function startRedisProc(port: number, dir: string, args: string[] = []): Promise<RedisProc> {
  let child: ChildProcess | null = null;
  const proc: RedisProc = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async kill9() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
    },
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', ...args], {
        stdio: 'ignore',
      });
      await waitPing(port);
    },
    alive: () => child !== null && child.exitCode === null && child.signalCode === null,
  };
  await proc.start();
  return proc;
}

/** A throwaway single server. */
export async function throwawayRedis(): Promise<RedisProc & { stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'oe-redis-'));
  const [port] = await freePorts(1);
  const p = await startRedisProc(port!, dir);
  return {
    ...p,
    async stop() {
      await p.kill9();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A throwaway Redis Cluster of masters with (optionally) one replica each. */
export interface ThrowawayCluster {
  nodes: RedisProc[];
  /** Seed list for ORGENGINE_REDIS_CLUSTER_NODES. */
  seeds: string;
  /** Port of the master serving `slot` now (asked of a live node). */
  masterOf(slot: number): Promise<number>;
  /** Waits until every live node reports cluster_state:ok. */
  waitOk(ms?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `masters` masters and, with `replicas`, one replica each, with a short
 * node timeout and `cluster-require-full-coverage no` (other slots keep
 * answering while one is uncovered), and creates the cluster.
 */
export async function throwawayCluster(o: { masters?: number; replicas: boolean; nodeTimeoutMs?: number }): Promise<ThrowawayCluster> {
  const masters = o.masters ?? 3;
  const total = o.replicas ? masters * 2 : masters;
  const root = mkdtempSync(join(tmpdir(), 'oe-cluster-'));
  const ports = await freePorts(total);
  const args = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(o.nodeTimeoutMs ?? 1000), '--cluster-require-full-coverage', 'no'];
  const nodes: RedisProc[] = [];
  try {
    for (const p of ports) {
      const dir = join(root, String(p));
      await run('mkdir', ['-p', dir]);
      nodes.push(await startRedisProc(p, dir, args));
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', o.replicas ? '1' : '0', '--cluster-yes'], { timeout: 60_000 });
  } catch (e) {
    for (const n of nodes) await n.kill9();
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
  const live = (): RedisProc => {
    const n = nodes.find((x) => x.alive());
    if (!n) throw new Error('no live node');
    return n;
  };
  const c: ThrowawayCluster = {
    nodes,
    seeds: ports.map((p) => `127.0.0.1:${p}`).join(','),
    async masterOf(slot) {
      // CLUSTER NODES lines: id addr flags master ping pong epoch link slot-ranges...
      const lines = (await redisCli(live().port, 'cluster', 'nodes')).split('\n');
      for (const line of lines) {
        const f = line.trim().split(' ');
        if (!f[2]?.includes('master') || f[2].includes('fail')) continue;
        for (const range of f.slice(8)) {
          const [a, b] = range.split('-').map(Number);
          if (slot >= a! && slot <= (b ?? a)!) return Number(f[1]!.split('@')[0]!.split(':')[1]);
        }
      }
      throw new Error(`slot ${slot} not served`);
    },
    async waitOk(ms = 30_000) {
      const until = Date.now() + ms;
      for (;;) {
        let ok = true;
        for (const n of nodes) {
          if (!n.alive()) continue;
          const info = await redisCli(n.port, 'cluster', 'info').catch(() => '');
          if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384') || !info.includes(`cluster_known_nodes:${nodes.length}`)) ok = false;
          // A replica still syncing makes a manual failover wait for it (seconds): settle first.
          const repl = await redisCli(n.port, 'info', 'replication').catch(() => '');
          if (repl.includes('role:slave') && !repl.includes('master_link_status:up')) ok = false;
        }
        if (ok) return;
        if (Date.now() > until) throw new Error('throwaway cluster not ok in time');
        await sleep(100);
      }
    },
    async stop() {
      for (const n of nodes) await n.kill9();
      rmSync(root, { recursive: true, force: true });
    },
  };
  await c.waitOk();
  return c;
}
