// Mic seats: what the seat bookkeeping costs Redis, measured on a private
// redis-server (nothing else uses it) by INFO commandstats.
//
// Phase "links": a stage flow on one lesson's slot, run with no layout
// (sessions as before seats: spec '') and with the voice layout (host + 8
// seats: every accepted link takes a seat, every ended one frees it):
//   FastCreate (host) -> 8 x (Invite, Handle accept) -> End
// The two alternate, rounds apart, so the paired ratio of Redis µs per script
// call shows the cost seats add to the interaction scripts.
// Phase "seat ops": on a full voice session, move / mute / unmute / lock /
// unlock in turn: Redis µs per seat script call, and calls/s from one
// sequential client (round trips included).
//
//   npm run bench:seats -- [--rounds 3] [--flows 200] [--seat-ops 5000]
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { InteractionService } from '../src/services/interaction.js';
import { createRedis } from '../src/store/redis/client.js';
import { lessonKeys } from '../src/store/redis/keys.js';
import { loadSyntheticLesson } from '../test/support/lesson.js';
import { redisCli, throwawayRedis } from '../test/support/throwawayRedis.js';
import { writeResult } from './support.js';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    flows: { type: 'string', default: '200' },
    'seat-ops': { type: 'string', default: '5000' },
  },
});
const rounds = Number(args.rounds);
const flows = Number(args.flows);
const seatOps = Number(args['seat-ops']);
const L = 9301;

/** µs and calls of EVALSHA since the last reset. */
async function evalStats(port: number): Promise<{ calls: number; usec: number }> {
  const text = await redisCli(port, 'INFO', 'commandstats');
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(text);
  return m ? { calls: Number(m[1]), usec: Number(m[2]) } : { calls: 0, usec: 0 };
}

async function main(): Promise<void> {
  const proc = await throwawayRedis();
  const redis = createRedis({ mode: 'single', url: proc.url });
  const config = loadConfig({ ORGENGINE_KEY_PREFIX: 'bench:seats:', ORGENGINE_WB_MAX_STREAM_LENGTH: '10000000' });
  try {
    const topo = await loadSyntheticLesson(redis, config.keyPrefix, L, { students: 400, tutors: 2, policy: 'group' });
    const users = topo.positions.filter((p) => p.rooms.some((r) => r.roomId === 'main')).map((p) => p.uid);
    const svc = new InteractionService({ redis, keyPrefix: config.keyPrefix, ttlSeconds: 3600, wb: config.writeBehind, ia: config.interaction });
    const student = (uid: number) => ({ uid, role: 'student' as const, lesson: L });
    const lk = lessonKeys(config.keyPrefix, L);
    // A layout-less session is what a session made before seats looks like: the store is given an empty spec.
    const flow = async (i: number, seats: boolean): Promise<void> => {
      const g = users.slice((i % 40) * 9, (i % 40) * 9 + 9);
      const host = g[0]!;
      const c = seats
        ? await svc.fastCreate(student(host), { lessonId: L, roomId: 'main', kind: 'multi', capacity: null, channelId: null, invitee: null, templateId: 'voice', by: null })
        : await svc.store.create(L, { roomId: 'main', kind: 'multi', capacity: 9, channelId: null, invitee: null, templateId: '', spec: '' }, { uid: host, admin: false, tutor: false, service: false }, Date.now());
      for (const u of g.slice(1)) {
        await svc.invite(student(host), { lessonId: L, sessionId: c.sessionId, uid: u, by: null });
        await svc.handle(student(u), { lessonId: L, sessionId: c.sessionId, uid: u, accept: true, by: null });
      }
      await svc.end(student(host), { lessonId: L, sessionId: c.sessionId, by: null });
    };
    const phase = async (seats: boolean) => {
      await redis.del(lk.writeBehind);
      await redisCli(proc.port, 'CONFIG', 'RESETSTAT');
      const t0 = performance.now();
      for (let i = 0; i < flows; i++) await flow(i, seats);
      const wall = performance.now() - t0;
      const s = await evalStats(proc.port);
      return { calls: s.calls, usPerCall: s.usec / s.calls, callsPerSecond: (s.calls / wall) * 1000 };
    };
    const links: Array<{ round: number; none: Awaited<ReturnType<typeof phase>>; voice: Awaited<ReturnType<typeof phase>>; ratio: number }> = [];
    for (let r = 0; r < rounds; r++) {
      const none = await phase(false);
      const voice = await phase(true);
      links.push({ round: r, none, voice, ratio: voice.usPerCall / none.usPerCall });
      console.log(`round ${r}: links µs/call without seats ${none.usPerCall.toFixed(1)}, with voice seats ${voice.usPerCall.toFixed(1)} (x${(voice.usPerCall / none.usPerCall).toFixed(2)})`);
    }
    // Seat operations on one full voice session.
    const g = users.slice(380, 389);
    const sid = (await svc.fastCreate(student(g[0]!), { lessonId: L, roomId: 'main', kind: 'multi', capacity: null, channelId: null, invitee: null, templateId: 'voice', by: null })).sessionId;
    for (const u of g.slice(1)) {
      await svc.invite(student(g[0]!), { lessonId: L, sessionId: sid, uid: u, by: null });
      await svc.handle(student(u), { lessonId: L, sessionId: sid, uid: u, accept: true, by: null });
    }
    await redis.del(lk.writeBehind);
    await redisCli(proc.port, 'CONFIG', 'RESETSTAT');
    const host = student(g[0]!);
    const t0 = performance.now();
    for (let i = 0; i < seatOps; i++) {
      const k = i % 5;
      const seat = 1 + (i % 8);
      if (k === 0) await svc.seat(host, 'swap', { lessonId: L, sessionId: sid, uid: null, seat, other: 1 + ((i + 3) % 8), media: null, by: null });
      else if (k === 1) await svc.seat(host, 'mute', { lessonId: L, sessionId: sid, uid: null, seat, other: null, media: 'mic', by: null });
      else if (k === 2) await svc.seat(host, 'unmute', { lessonId: L, sessionId: sid, uid: null, seat, other: null, media: 'mic', by: null });
      else if (k === 3) await svc.seat(host, 'lock', { lessonId: L, sessionId: sid, uid: null, seat, other: null, media: null, by: null });
      else await svc.seat(host, 'unlock', { lessonId: L, sessionId: sid, uid: null, seat, other: null, media: null, by: null });
    }
    const wall = performance.now() - t0;
    const s = await evalStats(proc.port);
    const seatPhase = { calls: s.calls, usPerCall: s.usec / s.calls, callsPerSecond: (s.calls / wall) * 1000 };
    console.log(`seat ops: ${seatPhase.usPerCall.toFixed(1)} µs/call of Redis, ${seatPhase.callsPerSecond.toFixed(0)} calls/s from one sequential client`);
    const ratios = links.map((x) => x.ratio).sort((a, b) => a - b);
    const out = { at: new Date().toISOString(), flows, rounds, links, medianRatio: ratios[Math.floor(ratios.length / 2)], seatOps: seatPhase };
    console.log(`median links ratio (voice seats / none): x${out.medianRatio!.toFixed(2)}; written ${writeResult('seats', out)}`);
    svc.close();
  } finally {
    redis.disconnect();
    await proc.stop();
  }
}

await main();
