// Processes of a bench run: servers pinned to CPUs with taskset, and their CPU
// time and memory read from /proc (Linux), so every figure says what the server
// and the load generator cost.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';

/** Clock ticks per second of /proc/<pid>/stat times. */
export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Whether taskset works here (it needs sched_setaffinity). */
export const HAS_TASKSET = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** Whether `cmd` is on PATH. */
export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `argv` prefixed with `taskset -c cpus` when pinning is possible and asked for. */
export function pinned(cpus: string | null, argv: string[]): string[] {
  return cpus && HAS_TASKSET ? ['taskset', '-c', cpus, ...argv] : argv;
}

/** Pins this process (and threads it starts later) to `cpus`. */
export function pinSelf(cpus: string | null): void {
  if (cpus && HAS_TASKSET) execFileSync('taskset', ['-acp', cpus, String(process.pid)], { stdio: 'ignore' });
}

/** User + system CPU seconds a process has used so far (0 once it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces; count from the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return 0;
  }
}

/** Resident set size of a process in MB (0 once it is gone). */
export function rssMb(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no free port'))));
    });
  });
}

/** A server process started by the bench. */
export interface ServerProc {
  name: string;
  pid: number;
  port: number;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. */
  stop(): Promise<void>;
}

/**
 * Starts `argv` (pinned to `cpus`) and waits for the first JSON line on stdout
 * that has a numeric `portField`. taskset execs the command, so the pid is the
 * server's own.
 */
export async function startServer(name: string, argv: string[], opts: { cpus: string | null; env: NodeJS.ProcessEnv; cwd: string; portField?: string }): Promise<ServerProc> {
  const full = pinned(opts.cpus, argv);
  const child = spawn(full[0]!, full.slice(1), { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const field = opts.portField ?? 'httpPort';
  let out = '';
  let err = '';
  // ORGENGINE_BENCH_SERVER_LOG_DIR: keep each server's stdout (e.g. --trace-gc lines) in <dir>/<name>.log.
  const logDir = process.env.ORGENGINE_BENCH_SERVER_LOG_DIR;
  if (logDir) {
    mkdirSync(logDir, { recursive: true });
    child.stdout!.pipe(createWriteStream(join(logDir, `${name.replace(/[^\w.-]+/g, '_')}.log`), { flags: 'a' }));
  }
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 20_000) err = err.slice(-10_000);
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not report its port within 30 s: ${err}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const v = (JSON.parse(line) as Record<string, unknown>)[field];
          if (typeof v === 'number') {
            clearTimeout(timer);
            resolve(v);
            return;
          }
        } catch {
          // a partial line: wait for the rest
        }
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? sig}) before listening: ${err.trim()}`));
    });
  });
  // Keep draining stdout so a chatty server never blocks on a full pipe.
  child.stdout!.resume();
  let exited = child.exitCode !== null;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  return {
    name,
    pid: child.pid!,
    port,
    child,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(t);
    },
  };
}

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
