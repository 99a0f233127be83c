// Shared bench helpers: Redis command counts from INFO commandstats, result files,
// and the gateway process helpers of the signals and mutations benches (the
// private redis-server and free ports live in bench/lib/).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Redis, type Cluster } from 'ioredis';

/** Total calls per command from INFO commandstats (summed over cluster masters). */
export async function commandStats(redis: Redis | Cluster): Promise<Map<string, number>> {
  const nodes = 'nodes' in redis && typeof (redis as Cluster).nodes === 'function' ? (redis as Cluster).nodes('master') : [redis as Redis];
  const total = new Map<string, number>();
  for (const n of nodes) {
    const info = await n.info('commandstats');
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) total.set(m[1]!, (total.get(m[1]!) ?? 0) + Number(m[2]));
  }
  return total;
}

/** Commands issued between two commandstats snapshots (the INFO calls themselves excluded). */
export function commandDelta(before: Map<string, number>, after: Map<string, number>): { total: number; byCommand: Record<string, number> } {
  const byCommand: Record<string, number> = {};
  let total = 0;
  for (const [k, v] of after) {
    if (k === 'info') continue;
    const d = v - (before.get(k) ?? 0);
    if (d > 0) {
      byCommand[k] = d;
      total += d;
    }
  }
  return { total, byCommand };
}

/** Writes bench/results/<date>-<scenario>.json and returns its path. */
export function writeResult(scenario: string, data: unknown): string {
  const dir = new URL('./results/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL(`${new Date().toISOString().slice(0, 10)}-${scenario}.json`, dir);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file.pathname;
}


/** Whether `taskset` works here (benches pin the gateway and the load generator to different cores). */
export function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts `orgengine serve` (one worker, a free port) with `env` on top of this
 * process's environment, pinned to `cpu` when given, with extra node flags
 * (e.g. --cpu-prof); resolves with its HTTP port.
 */
export async function spawnGateway(env: Record<string, string>, o: { cpu?: number; nodeArgs?: string[] } = {}): Promise<{ port: number; child: ChildProcess }> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const args = [...(o.nodeArgs ?? []), 'bin/orgengine.js', 'serve', '--port', '0', '--host', '127.0.0.1', '--json'];
  const [cmd, argv] = o.cpu === undefined ? [process.execPath, args] : ['taskset', ['-c', String(o.cpu), process.execPath, ...args]];
  const child = spawn(cmd, argv, { cwd: root, env: { ...process.env, ...env } });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { httpPort: number }).httpPort);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited ${code}: ${err}`)));
  });
  return { port, child };
}

/** Stops a gateway started by spawnGateway (SIGTERM: it drains) and waits for it to exit. */
export async function stopGateway(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await done;
}

/**
 * The start of a wrk Lua script that polls as many students: their tokens (one a
 * line in `tokenFile`, as Authorization values), the next one's index `i`, each
 * one's last seen seq in `afters`, the newest seq seen by any (`latest`, kept by
 * `track_latest(body)` from each answer's lastSeq) and a reusable `headers` table.
 */
export function wrkStudentRotation(tokenFile: string): string {
  return `local tokens = {}
for line in io.lines(${JSON.stringify(tokenFile)}) do tokens[#tokens + 1] = "Bearer " .. line end
local n = #tokens
local afters = {}
for k = 1, n do afters[k] = 0 end
local i = 0
local latest = 0
local headers = {}
local function track_latest(body)
  local s = string.match(body, '"lastSeq":(%d+)')
  if s then
    local v = tonumber(s)
    if v > latest then latest = v end
  end
end`;
}

/**
 * Starts bench/mutations.ts's write-behind flusher child with `env` (pinned to
 * core 1 when `pin`) and resolves once it reports ready; it flushes until
 * SIGTERM (SIGUSR2 marks the measured window). Its stdout is collected for
 * the figures it prints at the end.
 */
export async function startFlusherChild(cwd: string, env: NodeJS.ProcessEnv, pin: boolean): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(pin ? 'taskset' : process.execPath, [...(pin ? ['-c', '1', process.execPath] : []), '--import', 'tsx', 'bench/mutations.ts', '--flusher'], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  while (!out.startsWith('ready')) {
    if (child.exitCode !== null) throw new Error('the flusher child exited');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, output: () => out };
}
