// A stand-in gateway for crash tests of the interaction center: runs the
// seed's flow over and over (a platform service acting for the users) until
// killed, printing one line per acknowledged transition and mic seat change:
//   ack <sessionId> <uid> <state> <version>
//   seat <sessionId> <seat> <version>
// Usage: node --import tsx test/support/interactionChild.ts <lessonId> <uid,uid,...>
// (uids in groups of four; configuration from the ORGENGINE_* environment).
import type { Caller } from '../../src/auth/caller.js';
import { loadConfig } from '../../src/config.js';
import { createApp, createInteractionService } from '../../src/main.js';

const lessonId = Number(process.argv[2]);
const uids = (process.argv[3] ?? '').split(',').map(Number);
const app = createApp(loadConfig());
const svc = createInteractionService(app);
const service: Caller = { uid: 1, role: 'service', lesson: '*' };
const ack = (sid: string, uid: number, state: string, version: number | null) => {
  if (version !== null) process.stdout.write(`ack ${sid} ${uid} ${state} ${version}\n`);
};

async function flows(A: number, B: number, C: number, D: number): Promise<never> {
  for (let n = 0; ; n++) {
    const c = await svc.fastCreate(service, { lessonId, roomId: 'main', kind: 'multi', capacity: null, channelId: null, invitee: B, by: A });
    ack(c.sessionId, A, 'connecting', c.version);
    ack(c.sessionId, B, 'initiated', c.version);
    const link = (uid: number) => ({ lessonId, sessionId: c.sessionId, uid, by: A });
    const rtc = async (uid: number, event: 'joined' | 'left') => {
      const r = await svc.rtcEvent(service, { lessonId, channelId: c.channelId, uid, event, eventId: `${n}-${uid}-${event}`, at: Date.now() });
      ack(c.sessionId, uid, r.state, r.version);
    };
    let r = await svc.handle(service, { ...link(B), accept: true });
    ack(c.sessionId, B, r.state, r.version);
    await rtc(A, 'joined');
    await rtc(B, 'joined');
    r = await svc.apply(service, { ...link(C), by: C });
    ack(c.sessionId, C, r.state, r.version);
    r = await svc.handle(service, { ...link(C), accept: true });
    ack(c.sessionId, C, r.state, r.version);
    await rtc(C, 'joined');
    r = await svc.invite(service, link(D));
    ack(c.sessionId, D, r.state, r.version);
    r = await svc.handle(service, { ...link(D), accept: true });
    ack(c.sessionId, D, r.state, r.version);
    await rtc(D, 'joined');
    // B moves to seat 5 and the host mutes its mic there.
    const mv = await svc.seat(service, 'move', { lessonId, sessionId: c.sessionId, uid: B, seat: 5, other: null, media: null, by: A });
    if (mv.version !== null) process.stdout.write(`seat ${c.sessionId} ${mv.seat} ${mv.version}\n`);
    const mu = await svc.seat(service, 'mute', { lessonId, sessionId: c.sessionId, uid: null, seat: 5, other: null, media: 'mic', by: A });
    if (mu.version !== null) process.stdout.write(`seat ${c.sessionId} ${mu.seat} ${mu.version}\n`);
    await rtc(A, 'left');
  }
}

process.stdout.write('ready\n');
const groups: Array<Promise<never>> = [];
for (let i = 0; i + 3 < uids.length; i += 4) groups.push(flows(uids[i]!, uids[i + 1]!, uids[i + 2]!, uids[i + 3]!));
await Promise.all(groups);
