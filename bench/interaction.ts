// The interaction center under the seed's load-test flow, over HTTP, in many
// rooms at once, with write-behind on (the flusher runs inside the gateway):
//
//   FastCreate (A invites B) -> Handle (B accepts) -> RtcEvent (A joined) ->
//   RtcEvent (B joined) -> Apply (C) -> Handle (A accepts C) -> RtcEvent (C joined) ->
//   Invite (A invites D) -> Handle (D accepts) -> RtcEvent (D joined) ->
//   RtcEvent (A left) -> RtcEvent (B left) -> RtcEvent (C left) -> RtcEvent (D left)
//
// plus UniversalInfo polled by an audience member of the flow's room after a
// step with probability --info-ratio. `--flows` flows run at once, each in its
// own (lesson, room, four students) slot; a slot is reused once its flow
// ended (every link is then terminal, the users free again). Every answer's
// state is checked against the flow's expectation (A left ends the session:
// B, C and D's left events answer outcome 'ended').
//
// Reported: flows/s, operations/s, the gateway's CPU (so operations per
// gateway core-second), p50/p99 per step, errors and unexpected states,
// MySQL equal to Redis after the drain, and in the same run the uWS static
// ceiling beside UniversalInfo warm (wrk, same bytes on the wire).
//
//   npm run bench:interaction -- [--seconds 10] [--flows 64] [--lessons 4] [--students 240] [--info-ratio 0.5] [--cluster] [--cpu-prof]
//                                 [--flusher process|gateway]
//
// The gateway is pinned to core 0, this process (the flow driver) and wrk to
// core 1 when taskset works. Write-behind is on either way: `--flusher process`
// (the default, as ORGENGINE_FLUSH_IN_GATEWAY defaults to false) runs
// `orgengine flush` beside the gateway on core 1 and reports its CPU per
// operation apart from the gateway's; `--flusher gateway` runs the flusher
// inside the gateway, so the gateway's figure includes it. Uses its own database and key prefix, removed at the end.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { TokenVerifier } from '../src/auth/tokens.js';
import { loadConfig } from '../src/config.js';
import { createApp } from '../src/main.js';
import { readStoredInteractions } from '../src/store/mysql/stateTables.js';
import { ensureDatabase, migrate } from '../src/store/mysql/pool.js';
import { InteractionStore } from '../src/store/redis/interactionStore.js';
import { interactionRegistryKey, lessonKeys } from '../src/store/redis/keys.js';
import { PERMISSION_MASKS } from '../src/model/interaction.js';
import { dropLessonKeys, loadSyntheticLesson } from '../test/support/lesson.js';
import { hasTaskset, spawnGateway, stopGateway, writeResult } from './support.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    flows: { type: 'string', default: '64' },
    lessons: { type: 'string', default: '4' },
    students: { type: 'string', default: '240' },
    'info-ratio': { type: 'string', default: '0.5' },
    'wrk-seconds': { type: 'string', default: '4' },
    'wrk-flows': { type: 'string', default: '32' },
    cluster: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    flusher: { type: 'string', default: 'process' },
  },
});

const STEPS = [
  'FastCreate', 'Handle B', 'Rtc A joined', 'Rtc B joined', 'Apply C', 'Handle C', 'Rtc C joined',
  'Invite D', 'Handle D', 'Rtc D joined', 'Rtc A left', 'Rtc B left', 'Rtc C left', 'Rtc D left', 'UniversalInfo',
] as const;
const SECRET = 'bench-secret-0123456789-abcdefghijklmno';
const execFileP = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));
const q = (a: Float64Array, p: number) => (a.length === 0 ? NaN : a[Math.min(a.length - 1, Math.floor(p * a.length))]!);

/** utime + stime of a process, in seconds (Linux USER_HZ = 100). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}


/**
 * A wrk script running the seed's flow: one connection per wrk thread, so each
 * thread runs one flow at a time as a state machine (request() builds the next
 * step, response() checks the answer and advances). `slotsFile` has one line
 * per slot: `lessonId room A B C D E tokA tokB tokC tokD tokE`; thread t works
 * slots t, t + threads, ... A failed step ends the flow's session (End by
 * the service token) so the slot's users are free for its next flow. `done`
 * prints a `JSON {...}` line.
 */
export function interactionWrkScript(slotsFile: string, serviceToken: string, infoRatio: number, tag: string): string {
  return `
local all = {}
for line in io.lines(${JSON.stringify(slotsFile)}) do
  local f = {}
  for w in line:gmatch("%S+") do f[#f + 1] = w end
  all[#all + 1] = f
end
local svc = "Bearer " .. ${JSON.stringify(serviceToken)}
local threads = {}
local nthreads = 0
setup = function(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  threads[#threads + 1] = thread
end
local mine, k, step, sid, ch, ev, pollNext, aborting = {}, 1, 0, nil, nil, 0, false, false
flows, ops, unexpected, failed = 0, 0, 0, 0
init = function(args)
  local n = tonumber(args[1])
  for i = 1, #all do if (i - 1) % n == tid then mine[#mine + 1] = all[i] end end
  math.randomseed(tid + 1)
end
local h = { ["content-type"] = "application/json" }
local function post(path, who, body)
  h["authorization"] = who
  return wrk.format("POST", path, h, body)
end
local function rtc(s, uid, event)
  ev = ev + 1
  return post("/v1/lessons/" .. s[1] .. "/rtc-events", svc,
    '{"channelId":"' .. ch .. '","uid":' .. uid .. ',"event":"' .. event .. '","eventId":"${tag}-' .. tid .. '-' .. ev .. '","at":' .. ev .. '}')
end
-- uids s[3..7] = A B C D E, tokens s[8..12]
local function tok(s, i) return "Bearer " .. s[7 + i] end
local expect = {
  [0] = '"sessionId"', '"state":"connecting"', '"outcome":"applied"', '"outcome":"applied"', '"state":"initiated"',
  '"state":"connecting"', '"outcome":"applied"', '"state":"initiated"', '"state":"connecting"', '"outcome":"applied"',
  '"state":"left"', '"outcome":"ended"', '"outcome":"ended"', '"outcome":"ended"',
}
local polls = { [0] = true, [3] = true, [6] = true, [9] = true, [13] = true }
local polling = false
request = function()
  local s = mine[k]
  local L = "/v1/lessons/" .. s[1]
  if aborting then return post(L .. "/interactions/" .. sid .. "/end", svc, "{}") end
  if pollNext then
    polling = true
    h["authorization"] = tok(s, 5)
    return wrk.format("GET", L .. "/rooms/" .. s[2] .. "/interactions", h)
  end
  polling = false
  local S = L .. "/interactions/" .. (sid or "")
  if step == 0 then return post(L .. "/rooms/" .. s[2] .. "/interactions", tok(s, 1), '{"kind":"multi","invitee":' .. s[4] .. '}')
  elseif step == 1 then return post(S .. "/handle", tok(s, 2), '{"accept":true}')
  elseif step == 2 then return rtc(s, s[3], "joined")
  elseif step == 3 then return rtc(s, s[4], "joined")
  elseif step == 4 then return post(S .. "/apply", tok(s, 3), "{}")
  elseif step == 5 then return post(S .. "/handle", tok(s, 1), '{"uid":' .. s[5] .. ',"accept":true}')
  elseif step == 6 then return rtc(s, s[5], "joined")
  elseif step == 7 then return post(S .. "/invite", tok(s, 1), '{"uid":' .. s[6] .. '}')
  elseif step == 8 then return post(S .. "/handle", tok(s, 4), '{"accept":true}')
  elseif step == 9 then return rtc(s, s[6], "joined")
  elseif step == 10 then return rtc(s, s[3], "left")
  elseif step == 11 then return rtc(s, s[4], "left")
  elseif step == 12 then return rtc(s, s[5], "left")
  end
  return rtc(s, s[6], "left")
end
local function nextFlow()
  step, sid, ch, aborting = 0, nil, nil, false
  k = k % #mine + 1
end
response = function(status, headers, body)
  ops = ops + 1
  if aborting then nextFlow() return end
  if polling then
    pollNext = false
    if status ~= 200 then failed = failed + 1 end
    return
  end
  if status < 200 or status >= 300 then
    failed = failed + 1
    if sid and step < 10 then aborting = true else nextFlow() end
    return
  end
  if not body:find(expect[step], 1, true) then unexpected = unexpected + 1 end
  if step == 0 then
    sid = body:match('"sessionId":"(s%d+)"')
    ch = body:match('"channelId":"([^"]+)"')
  end
  if polls[step] and math.random() < ${infoRatio} then pollNext = true end
  if step == 13 then
    flows = flows + 1
    nextFlow()
  else
    step = step + 1
  end
end
done = function(summary, latency, requests)
  local f, o, u, e = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    f = f + (t:get("flows") or 0)
    o = o + (t:get("ops") or 0)
    u = u + (t:get("unexpected") or 0)
    e = e + (t:get("failed") or 0)
  end
  local x = summary.errors
  io.write(string.format('JSON {"requests":%d,"seconds":%f,"p50":%f,"p99":%f,"flows":%d,"ops":%d,"unexpected":%d,"failed":%d,"transport":%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000, f, o, u, e,
    x.connect + x.read + x.write + x.timeout))
end
`;
}

interface Slot {
  lessonId: number;
  roomId: string;
  users: [number, number, number, number];
  audience: number;
}

async function main(): Promise<void> {
  const seconds = Number(args.seconds);
  const flows = Number(args.flows);
  const nLessons = Number(args.lessons);
  const infoRatio = Number(args['info-ratio']);
  const tag = randomUUID().slice(0, 8);
  const flusherMode = args.flusher;
  if (flusherMode !== 'process' && flusherMode !== 'gateway') throw new Error(`--flusher must be process or gateway, got ${flusherMode}`);
  const env: Record<string, string> = {
    ORGENGINE_MYSQL_URL: `mysql://root@127.0.0.1:3306/orgengine_bench_ia_${tag}`,
    ORGENGINE_KEY_PREFIX: `bench:ia:${tag}:`,
    ORGENGINE_TOKEN_SECRET: SECRET,
    ORGENGINE_LOG_LEVEL: 'warn',
    ORGENGINE_FLUSH_IN_GATEWAY: flusherMode === 'gateway' ? 'true' : 'false',
    ...(args.cluster ? { ORGENGINE_REDIS_CLUSTER_NODES: process.env.ORGENGINE_TEST_CLUSTER_NODES ?? readFileSync(join(root, '.run/cluster.nodes'), 'utf8').trim() } : {}),
  };
  const config = loadConfig({ ...process.env, ...env });
  await ensureDatabase(config.mysqlUrl);
  const app = createApp(config);
  const lessonIds = Array.from({ length: nLessons }, (_, i) => 960_000 + i);
  const pin = hasTaskset();
  if (pin) spawn('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const tokens = new TokenVerifier({ secret: SECRET, cacheEntries: 1 });
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const files: string[] = [];
  const roomIds = new Set<string>();
  let gw: Awaited<ReturnType<typeof spawnGateway>> | null = null;
  let flusher: ChildProcess | null = null;
  try {
    await migrate(app.pool);
    // Slots: four students of a lesson in one of its rooms, at most 16 per room (below ORGENGINE_IA_MAX_SESSIONS_PER_ROOM).
    const slots: Slot[] = [];
    for (const lessonId of lessonIds) {
      const topo = await loadSyntheticLesson(app.redis, config.keyPrefix, lessonId, { students: Number(args.students), tutors: 4, policy: 'group', ttlSeconds: 3600 });
      const uids = topo.positions.map((p) => p.uid);
      const rooms = topo.rooms.map((r) => r.roomId);
      for (const r of rooms) roomIds.add(r);
      const perRoom = new Map<string, number>();
      for (let i = 0; i + 4 < uids.length; i += 5) {
        const roomId = rooms[(i / 5) % rooms.length]!;
        if ((perRoom.get(roomId) ?? 0) >= 16) continue;
        perRoom.set(roomId, (perRoom.get(roomId) ?? 0) + 1);
        slots.push({ lessonId, roomId, users: [uids[i]!, uids[i + 1]!, uids[i + 2]!, uids[i + 3]!], audience: uids[i + 4]! });
      }
    }
    if (slots.length < flows) throw new Error(`only ${slots.length} slots for ${flows} flows: add --lessons or --students`);
    const tok = new Map<number, string>();
    const bearer = (lessonId: number, uid: number) => {
      let t = tok.get(uid);
      if (!t) tok.set(uid, (t = `Bearer ${tokens.mint({ uid, role: 'student', lesson: lessonId, exp })}`));
      return t;
    };
    const service = `Bearer ${tokens.mint({ uid: 1, role: 'service', lesson: '*', exp })}`;

    const profileDir = join(tmpdir(), 'orgengine-profiles');
    const nodeArgs = args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${new Date().toISOString().slice(0, 19).replace(/:/g, '')}-interaction.cpuprofile`] : [];
    gw = await spawnGateway({ ...env }, { ...(pin ? { cpu: 0 } : {}), nodeArgs });
    const port = gw.port;
    if (flusherMode === 'process') {
      const fa = ['bin/orgengine.js', 'flush'];
      flusher = spawn(pin ? 'taskset' : process.execPath, pin ? ['-c', '1', process.execPath, ...fa] : fa, { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    }
    // The process whose CPU is the flusher's: taskset execs node in place, so the pid is node's.
    const flusherCpu = (): number => (flusher?.pid ? cpuSeconds(flusher.pid) : 0);
    const agent = new Agent({ keepAlive: true, maxSockets: flows * 2 });
    const http = (method: string, path: string, auth: string, body?: object): Promise<{ status: number; body: any }> =>
      new Promise((resolve, reject) => {
        const data = body ? JSON.stringify(body) : undefined;
        const req = request({ host: '127.0.0.1', port, method, path, agent, headers: { authorization: auth, ...(data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {}) } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') }));
        });
        req.on('error', reject);
        req.end(data);
      });

    const lat = STEPS.map(() => new Float64Array(2_000_000));
    const nlat = STEPS.map(() => 0);
    let measuring = false;
    let stop = false;
    let flowsDone = 0;
    let ops = 0;
    const errors: Record<string, number> = {};
    const unexpected: Record<string, number> = {};
    let evn = 0;

    const step = async (i: number, call: () => Promise<{ status: number; body: any }>, ok: (b: any) => boolean): Promise<any> => {
      const t0 = performance.now();
      const r = await call();
      const ms = performance.now() - t0;
      if (measuring) {
        ops++;
        if (nlat[i]! < lat[i]!.length) lat[i]![nlat[i]!++] = ms;
      }
      if (r.status >= 300) {
        const k = `${STEPS[i]}: ${r.status} ${r.body?.error?.code ?? ''}`;
        errors[k] = (errors[k] ?? 0) + 1;
        throw new Error(k);
      }
      if (!ok(r.body)) {
        const k = `${STEPS[i]}: ${JSON.stringify(r.body).slice(0, 120)}`;
        unexpected[k] = (unexpected[k] ?? 0) + 1;
      }
      return r.body;
    };

    const flow = async (s: Slot): Promise<void> => {
      const [A, B, C, D] = s.users;
      const P = `/v1/lessons/${s.lessonId}`;
      const poll = async () => {
        if (Math.random() < infoRatio) await step(14, () => http('GET', `${P}/rooms/${s.roomId}/interactions`, bearer(s.lessonId, s.audience)), (b) => typeof b.version === 'number');
      };
      const c = await step(0, () => http('POST', `${P}/rooms/${s.roomId}/interactions`, bearer(s.lessonId, A), { kind: 'multi', invitee: B }), (b) => typeof b.sessionId === 'string');
      const S = `${P}/interactions/${c.sessionId}`;
      const rtc = (i: number, uid: number, event: string, state: string, outcome = 'applied') =>
        step(i, () => http('POST', `${P}/rtc-events`, service, { channelId: c.channelId, uid, event, eventId: `${tag}-${evn++}`, at: Date.now() }), (b) => b.outcome === outcome && b.state === state);
      await poll();
      await step(1, () => http('POST', `${S}/handle`, bearer(s.lessonId, B), { accept: true }), (b) => b.state === 'connecting');
      await rtc(2, A, 'joined', 'connected');
      await rtc(3, B, 'joined', 'connected');
      await poll();
      await step(4, () => http('POST', `${S}/apply`, bearer(s.lessonId, C), {}), (b) => b.state === 'initiated');
      await step(5, () => http('POST', `${S}/handle`, bearer(s.lessonId, A), { uid: C, accept: true }), (b) => b.state === 'connecting');
      await rtc(6, C, 'joined', 'connected');
      await poll();
      await step(7, () => http('POST', `${S}/invite`, bearer(s.lessonId, A), { uid: D }), (b) => b.state === 'initiated');
      await step(8, () => http('POST', `${S}/handle`, bearer(s.lessonId, D), { accept: true }), (b) => b.state === 'connecting');
      await rtc(9, D, 'joined', 'connected');
      await poll();
      await rtc(10, A, 'left', 'left');
      // The creator left: the session ended, so the others' left events change nothing.
      await rtc(11, B, 'left', 'ended', 'ended');
      await rtc(12, C, 'left', 'ended', 'ended');
      await rtc(13, D, 'left', 'ended', 'ended');
      await poll();
      if (measuring) flowsDone++;
    };

    const run = async (secs: number): Promise<number> => {
      stop = false;
      const t0 = performance.now();
      const timer = setTimeout(() => (stop = true), secs * 1000);
      await Promise.all(
        Array.from({ length: flows }, async (_, w) => {
          // Worker w owns slots w, w + flows, ...: a slot is never in two flows at once.
          for (let k = w; !stop; k += flows) {
            await flow(slots[k % slots.length]!).catch(() => undefined);
            if (k + flows >= slots.length) k = w - flows;
          }
        }),
      );
      clearTimeout(timer);
      return (performance.now() - t0) / 1000;
    };

    console.log(`interaction bench: ${flows} flows at once over ${slots.length} slots in ${nLessons} lessons, UniversalInfo after a step with p=${infoRatio}, ${seconds}s (+${args.warmup}s warm-up), ${args.cluster ? 'cluster' : 'single'} Redis, write-behind on (flusher ${flusherMode === 'process' ? 'as its own process on core 1' : 'in the gateway'})`);
    console.log(`gateway ${pin ? 'on core 0' : 'NOT pinned'}, driver and wrk ${pin ? 'on core 1' : 'NOT pinned'}; ${cpus()[0]?.model ?? ''}; a shared, busy machine`);
    await run(Number(args.warmup));
    for (const k of Object.keys(errors)) delete errors[k];
    for (const k of Object.keys(unexpected)) delete unexpected[k];
    measuring = true;
    const cpu0 = cpuSeconds(gw.child.pid!);
    const fcpu0 = flusherCpu();
    const elapsed = await run(seconds);
    const gwCpu = (cpuSeconds(gw.child.pid!) - cpu0) / elapsed;
    const flCpu = (flusherCpu() - fcpu0) / elapsed;
    measuring = false;

    // The same flow driven by wrk (one connection per thread, a flow per thread at a time): the
    // gateway's throughput when the driver is not the limit; no per-step latency there.
    const wrkFlows = Number(args['wrk-flows']);
    const slotsFile = join(tmpdir(), `oe-iabench-${process.pid}.slots`);
    const flowScript = join(tmpdir(), `oe-iabench-${process.pid}.lua`);
    files.push(slotsFile, flowScript);
    writeFileSync(slotsFile, slots.map((x) => [x.lessonId, x.roomId, ...x.users, x.audience, ...[...x.users, x.audience].map((u) => bearer(x.lessonId, u).slice(7))].join(' ')).join('\n') + '\n');
    writeFileSync(flowScript, interactionWrkScript(slotsFile, service.slice(7), infoRatio, tag));
    const wa = ['-t', String(wrkFlows), '-c', String(wrkFlows), `-d${seconds}s`, '-s', flowScript, `http://127.0.0.1:${port}`, '--', String(wrkFlows)];
    const wcpu0 = cpuSeconds(gw.child.pid!);
    const wfcpu0 = flusherCpu();
    const wt0 = performance.now();
    const { stdout: wout } = pin ? await execFileP('taskset', ['-c', '1', 'wrk', ...wa]) : await execFileP('wrk', wa);
    const wElapsed = (performance.now() - wt0) / 1000;
    const wrkGwCpu = (cpuSeconds(gw.child.pid!) - wcpu0) / wElapsed;
    const wrkFlCpu = (flusherCpu() - wfcpu0) / wElapsed;
    const wline = wout.split('\n').find((l) => l.startsWith('JSON '));
    if (!wline) throw new Error(`unexpected wrk output:\n${wout}`);
    const wr = JSON.parse(wline.slice(5)) as { requests: number; seconds: number; p50: number; p99: number; flows: number; ops: number; unexpected: number; failed: number; transport: number };

    // UniversalInfo's probe room shows what a live room shows: four multi sessions, each with a
    // connected host and a connecting guest (made from the room's own slots, left active).
    const probeSlot = slots[0]!;
    for (const x of slots.filter((y) => y.lessonId === probeSlot.lessonId && y.roomId === probeSlot.roomId).slice(0, 4)) {
      const c = await http('POST', `/v1/lessons/${x.lessonId}/rooms/${x.roomId}/interactions`, service, { kind: 'multi', invitee: x.users[1], by: x.users[0] });
      await http('POST', `/v1/lessons/${x.lessonId}/interactions/${c.body.sessionId}/handle`, service, { uid: x.users[1], accept: true });
      await http('POST', `/v1/lessons/${x.lessonId}/rtc-events`, service, { channelId: c.body.channelId, uid: x.users[0], event: 'joined', eventId: `${tag}-probe-${x.users[0]}`, at: 1 });
    }

    // The gateway's flusher drains every stream first: its MySQL writes must not share core 0 with
    // the ceiling's measurement (and MySQL must hold everything before it is compared below).
    const deadline = Date.now() + 120_000;
    for (;;) {
      const lens = await Promise.all(lessonIds.map((id) => app.redis.xlen(lessonKeys(config.keyPrefix, id).writeBehind)));
      if (lens.every((n) => n === 0) || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }

    // UniversalInfo warm beside the uWS static ceiling answering the same bytes (wrk, same core, same connections).
    agent.destroy();
    const infoPath = `/v1/lessons/${probeSlot.lessonId}/rooms/${probeSlot.roomId}/interactions`;
    const infoAuth = bearer(probeSlot.lessonId, probeSlot.audience);
    const bodyFile = join(tmpdir(), `oe-iabench-${process.pid}.body`);
    files.push(bodyFile);
    await new Promise<void>((resolve, reject) => {
      const r = request({ host: '127.0.0.1', port, path: infoPath, headers: { authorization: infoAuth } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          writeFileSync(bodyFile, Buffer.concat(chunks));
          resolve();
        });
      });
      r.on('error', reject);
      r.end();
    });
    const wrk = async (p: number, path: string, auth: string): Promise<number> => {
      const a = ['-t1', '-c64', `-d${args['wrk-seconds']}s`, '-H', `authorization: ${auth}`, `http://127.0.0.1:${p}${path}`];
      const { stdout } = pin ? await execFileP('taskset', ['-c', '1', 'wrk', ...a]) : await execFileP('wrk', a);
      const m = /Requests\/sec:\s+([0-9.]+)/.exec(stdout);
      const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
      if (!m || non2xx) throw new Error(`wrk: ${stdout}`);
      return Number(m[1]);
    };
    const stat = spawn(pin ? 'taskset' : process.execPath, [...(pin ? ['-c', '0', process.execPath] : []), '--import', 'tsx', 'bench/baselines/static-uws.ts', '--body-file', bodyFile], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    const statPort = await new Promise<number>((resolve) => stat.stdout!.once('data', (d: Buffer) => resolve((JSON.parse(d.toString()) as { httpPort: number }).httpPort)));
    // Paired rounds, alternating, so drift on the busy machine hits both alike.
    const pairs: Array<{ info: number; ceiling: number }> = [];
    for (let i = 0; i < 2; i++) {
      const info = await wrk(port, infoPath, infoAuth);
      pairs.push({ info, ceiling: await wrk(statPort, infoPath, infoAuth) });
    }
    stat.kill('SIGTERM');

    const store = new InteractionStore({
      redis: app.redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, maxStreamLength: 1, inviteTimeoutMs: 1, connectTimeoutMs: 1,
      maxSessionsPerRoom: 1, maxPendingPerSession: 1, maxRtcEventsPerSession: 1, permissionMasks: PERMISSION_MASKS,
    });
    let sessions = 0;
    let links = 0;
    let mismatches = 0;
    for (const id of lessonIds) {
      const inRedis = await store.allSessions(id);
      const stored = await readStoredInteractions(app.pool, id);
      const bySession = new Map(stored.sessions.map((s) => [s.sessionId, s]));
      const byLink = new Map(stored.links.map((l) => [`${l.sessionId}:${l.uid}`, l]));
      sessions += inRedis.length;
      for (const s of inRedis) {
        const m = bySession.get(s.sessionId);
        if (!m || m.status !== s.status || m.version !== s.version || m.endReason !== s.endReason) mismatches++;
        for (const l of s.links) {
          links++;
          const ml = byLink.get(`${s.sessionId}:${l.uid}`);
          if (!ml || ml.state !== l.state || ml.generation !== l.generation) mismatches++;
        }
      }
      if (stored.sessions.length !== inRedis.length) mismatches += Math.abs(stored.sessions.length - inRedis.length);
    }

    const perStep = STEPS.map((name, i) => {
      const a = lat[i]!.slice(0, nlat[i]).sort();
      return { step: name, n: a.length, p50: q(a, 0.5), p99: q(a, 0.99) };
    });
    const mean = (k: 'info' | 'ceiling') => pairs.reduce((s, p) => s + p[k], 0) / pairs.length;
    const result = {
      flows, slots: slots.length, lessons: nLessons, infoRatio, seconds: elapsed, redis: args.cluster ? 'cluster' : 'single',
      flowsPerSecond: flowsDone / elapsed,
      opsPerSecond: ops / elapsed,
      flusher: flusherMode,
      gatewayCpuCores: gwCpu,
      opsPerGatewayCoreSecond: ops / elapsed / Math.max(gwCpu, 1e-9),
      flusherCpuCores: flCpu,
      flusherUsPerOp: flusherMode === 'process' ? (flCpu * 1e6) / Math.max(ops / elapsed, 1e-9) : null,
      perStep,
      wrkDriver: {
        flowsAtOnce: wrkFlows, ...wr, flowsPerSecond: wr.flows / wr.seconds, opsPerSecond: wr.requests / wr.seconds, gatewayCpuCores: wrkGwCpu,
        opsPerGatewayCoreSecond: wr.requests / wr.seconds / Math.max(wrkGwCpu, 1e-9),
        flusherCpuCores: wrkFlCpu,
        flusherUsPerOp: flusherMode === 'process' ? (wrkFlCpu * 1e6) / Math.max(wr.requests / wr.seconds, 1e-9) : null,
      },
      errors,
      unexpected,
      universalInfoWarm: pairs.map((p) => p.info),
      staticCeiling: pairs.map((p) => p.ceiling),
      infoToCeiling: mean('info') / mean('ceiling'),
      infoToCeilingPerRound: pairs.map((p) => p.info / p.ceiling),
      mysqlEqualsRedis: mismatches === 0,
      compared: { sessions, links, mismatches },
    };
    const fl = (cores: number, us: number | null) => (us === null ? 'flusher in the gateway' : `flusher process CPU ${(cores * 100).toFixed(0)}% (${us.toFixed(0)} µs per operation)`);
    console.log(`flows/s ${result.flowsPerSecond.toFixed(0)}   operations/s ${result.opsPerSecond.toFixed(0)} (UniversalInfo included)   gateway CPU ${(gwCpu * 100).toFixed(0)}% of a core -> ${result.opsPerGatewayCoreSecond.toFixed(0)} ops per gateway core-second   ${fl(flCpu, result.flusherUsPerOp)}`);
    console.log('step                 n        p50 ms   p99 ms');
    for (const s of perStep) console.log(`${s.step.padEnd(20)} ${String(s.n).padStart(8)} ${s.p50.toFixed(2).padStart(8)} ${s.p99.toFixed(2).padStart(8)}`);
    console.log(`errors ${JSON.stringify(errors)}   unexpected states ${JSON.stringify(unexpected)}`);
    const wd = result.wrkDriver;
    console.log(`wrk driver (${wrkFlows} flows at once): flows/s ${wd.flowsPerSecond.toFixed(0)}   operations/s ${wd.opsPerSecond.toFixed(0)}   gateway CPU ${(wrkGwCpu * 100).toFixed(0)}% -> ${wd.opsPerGatewayCoreSecond.toFixed(0)} ops per gateway core-second   ${fl(wd.flusherCpuCores, wd.flusherUsPerOp)}   p50 ${wd.p50.toFixed(2)} ms p99 ${wd.p99.toFixed(2)} ms   failed ${wd.failed} unexpected ${wd.unexpected} transport errors ${wd.transport}`);
    console.log(`UniversalInfo warm ${pairs.map((p) => p.info.toFixed(0)).join(', ')} req/s  vs uWS static ceiling ${pairs.map((p) => p.ceiling.toFixed(0)).join(', ')} req/s  -> ${result.infoToCeiling.toFixed(2)}x`);
    console.log(`MySQL equals Redis after the drain: ${result.mysqlEqualsRedis} (${sessions} sessions, ${links} links, ${mismatches} mismatches)`);
    console.log(`result: ${writeResult('interaction', result)}`);
    if (args['cpu-prof']) console.log(`gateway CPU profile (written when it stops): ${profileDir} (summarise: npx tsx bench/profile-top.ts <file>)`);
  } finally {
    if (gw) await stopGateway(gw.child);
    if (flusher) await stopGateway(flusher);
    for (const f of files) rmSync(f, { force: true });
    for (const id of lessonIds) {
      const k = lessonKeys(config.keyPrefix, id);
      const n = Number((await app.redis.get(k.iaSeq).catch(() => 0)) ?? 0);
      const keys = [k.iaSeq, k.iaBusy, k.iaActive, k.iaChannels, k.iaDeadlines, k.iaRoomVersion, k.iaLease, ...[...roomIds].map((r) => k.iaRoom(r))];
      for (let i = 1; i <= n; i++) keys.push(k.iaSession(`s${i}`), k.iaLinks(`s${i}`), k.iaRtc(`s${i}`), k.iaRtcEvents(`s${i}`));
      for (let i = 0; i < keys.length; i += 500) await app.redis.unlink(...keys.slice(i, i + 500)).catch(() => undefined);
      await dropLessonKeys(app.redis, config.keyPrefix, id).catch(() => undefined);
    }
    await app.redis.zrem(interactionRegistryKey(config.keyPrefix), ...lessonIds.map(String)).catch(() => undefined);
    await app.pool.query(`DROP DATABASE IF EXISTS \`orgengine_bench_ia_${tag}\``).catch(() => undefined);
    await app.close();
  }
}

await main();
