// A stand-in gateway for crash tests: runs in-class mutations for the given
// students until killed, printing one line per acknowledged change:
//   ack <entity> <key> <version>
// Usage: node --import tsx test/support/mutatorChild.ts <lessonId> <uid,uid,...>
// (configuration from the ORGENGINE_* environment, like the real process).
import { loadConfig } from '../../src/config.js';
import { createApp, createMutationService } from '../../src/main.js';
import type { Caller } from '../../src/auth/caller.js';

const lessonId = Number(process.argv[2]);
const uids = (process.argv[3] ?? '').split(',').map(Number);
const app = createApp(loadConfig());
const svc = createMutationService(app);
const caller: Caller = { uid: 1, role: 'service', lesson: '*' };
const ack = (entity: string, key: string, version: number | null) => {
  if (version !== null) process.stdout.write(`ack ${entity} ${key} ${version}\n`);
};

async function worker(w: number, workers: number): Promise<never> {
  for (let round = 0; ; round++) {
    for (let i = w; i < uids.length; i += workers) {
      const uid = uids[i]!;
      const g = await svc.pickGroup(caller, { lessonId, uid, groupId: null });
      ack('group', String(uid), g.version);
      const s = await svc.signIn(caller, { lessonId, uid });
      ack('signin', String(uid), s.version);
      const m = await svc.mute(caller, { lessonId, roomId: 'main', uid, muted: round % 2 === 0 });
      ack('mute', `main|${uid}`, m.version);
      const h = await svc.heartbeat(caller, { lessonId, uid, roomId: 'main' });
      ack('online', `main|${uid}`, h.version);
    }
  }
}

process.stdout.write('ready\n');
await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w, 16)));
