// A stand-in gateway for crash tests of the score ledger: awards points to the
// given students (and their org nodes) until killed, printing one line per
// acknowledged event:
//   ack <key> <uid|node> <points>
// Usage: node --import tsx test/support/scoreChild.ts <lessonId> <uid,uid,...> <nodeId,nodeId,...>
// (configuration from the ORGENGINE_* environment, like the real process).
import { loadConfig } from '../../src/config.js';
import { createApp, createScoreService } from '../../src/main.js';
import type { Caller } from '../../src/auth/caller.js';

const lessonId = Number(process.argv[2]);
const uids = (process.argv[3] ?? '').split(',').filter(Boolean).map(Number);
const nodes = (process.argv[4] ?? '').split(',').filter(Boolean);
const app = createApp(loadConfig());
const svc = createScoreService(app);
const caller: Caller = { uid: 1, role: 'service', lesson: '*' };
const run = `${process.pid}`;

async function worker(w: number, workers: number): Promise<never> {
  for (let i = w; ; i += workers) {
    const key = `crash-${run}-${i}`;
    const points = 1 + (i % 5);
    if (nodes.length > 0 && i % 7 === 0) {
      const nodeId = nodes[i % nodes.length]!;
      const r = await svc.award(caller, { lessonId, key, roomId: 'main', sessionId: null, uid: null, nodeId, seatId: null, side: null, kind: 'reward', points, roundId: null });
      process.stdout.write(`ack ${key} ${r.nodeId} ${points}\n`);
    } else {
      const uid = uids[i % uids.length]!;
      await svc.award(caller, { lessonId, key, roomId: 'main', sessionId: null, uid, nodeId: null, seatId: null, side: null, kind: 'answer', points, roundId: null });
      process.stdout.write(`ack ${key} ${uid} ${points}\n`);
    }
  }
}

process.stdout.write('ready\n');
await Promise.all(Array.from({ length: 16 }, (_, w) => worker(w, 16)));
