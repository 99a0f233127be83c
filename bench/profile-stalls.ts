// Finds the stretches in a V8 .cpuprofile (node --cpu-prof, best with a fine
// --cpu-prof-interval such as 50 µs) where the main thread was busy without a
// break for at least --min-ms, and says what ran in them: the longest
// stretches one by one, then self time and "entry" frames (the outermost
// frame of our own or a package's code) summed over all of them. A request
// that arrives during such a stretch waits for its end, so this is what a
// paced tail latency is made of, where a whole-run summary (profile-top.ts)
// only shows averages.
//
//   npx tsx bench/profile-stalls.ts <file.cpuprofile> [--min-ms 3] [--top 10] [--gap-us 200]
//                                   [--from S] [--to S] [--timeline]
// --from/--to keep the samples from S to S seconds after the profile's start
// (--timeline prints busy % per second to find a phase such as a paced run).
import { parseArgs } from 'node:util';
import { frameName, readProfile } from './lib/cpuprofile.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    'min-ms': { type: 'string', default: '3' },
    top: { type: 'string', default: '10' },
    'gap-us': { type: 'string', default: '200' },
    from: { type: 'string', default: '0' },
    to: { type: 'string', default: 'Infinity' },
    timeline: { type: 'boolean', default: false },
  },
});
if (positionals.length !== 1) throw new Error('usage: npx tsx bench/profile-stalls.ts <file.cpuprofile> [--min-ms 3] [--top 10] [--gap-us 200] [--from S] [--to S] [--timeline]');
const minUs = Number(values['min-ms']) * 1000;
const top = Number(values.top);
// Idle samples shorter than this inside a busy stretch do not end it (the
// event loop polled and found more work at once).
const gapUs = Number(values['gap-us']);
const prof = readProfile(positionals[0]!);

const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const nameOf = (id: number) => frameName(byId.get(id)!.callFrame);
const isIdle = (id: number) => byId.get(id)!.callFrame.functionName === '(idle)';
/** The outermost frame with a URL that is ours or a package's (not node: internals). */
function entryOf(id: number): string {
  let best = nameOf(id);
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const url = byId.get(cur)!.callFrame.url;
    if (url && !url.startsWith('node:')) best = nameOf(cur);
  }
  return best;
}

// Sample i covers [t_i, t_{i+1}); t_0 = startTime + timeDeltas[0].
const n = prof.samples.length;
const t = new Float64Array(n + 1);
let acc = prof.startTime;
for (let i = 0; i < n; i++) {
  acc += prof.timeDeltas[i] ?? 0;
  t[i] = acc;
}
t[n] = prof.endTime;
const winFrom = prof.startTime + Number(values.from) * 1e6;
const winTo = Math.min(prof.endTime, prof.startTime + Number(values.to) * 1e6);
const inWindow = (i: number) => t[i]! >= winFrom && t[i]! < winTo;

if (values.timeline) {
  const perSec = new Map<number, [number, number]>();
  for (let i = 0; i < n; i++) {
    const sec = Math.floor((t[i]! - prof.startTime) / 1e6);
    const e = perSec.get(sec) ?? [0, 0];
    e[isIdle(prof.samples[i]!) ? 1 : 0] += t[i + 1]! - t[i]!;
    perSec.set(sec, e);
  }
  for (const [sec, [busy, idle]] of perSec) process.stdout.write(`  +${String(sec).padStart(3)} s busy ${((100 * busy) / (busy + idle || 1)).toFixed(0).padStart(3)}%\n`);
}

interface Stretch {
  from: number;
  to: number;
  samples: number[];
}
const stretches: Stretch[] = [];
let cur: Stretch | null = null;
let idleSince = -1;
for (let i = 0; i < n; i++) {
  if (!inWindow(i)) continue;
  const id = prof.samples[i]!;
  if (isIdle(id)) {
    if (idleSince < 0) idleSince = t[i]!;
    if (cur && t[i + 1]! - idleSince > gapUs) {
      if (cur.to - cur.from >= minUs) stretches.push(cur);
      cur = null;
    }
    continue;
  }
  idleSince = -1;
  if (!cur) cur = { from: t[i]!, to: t[i + 1]!, samples: [] };
  cur.to = t[i + 1]!;
  cur.samples.push(i);
}
if (cur && cur.to - cur.from >= minUs) stretches.push(cur);

const busyUs = (() => {
  let s = 0;
  for (let i = 0; i < n; i++) if (inWindow(i) && !isIdle(prof.samples[i]!)) s += t[i + 1]! - t[i]!;
  return s;
})();
const span = winTo - winFrom;
const inStretches = stretches.reduce((a, s) => a + (s.to - s.from), 0);
const out = (l: string) => process.stdout.write(`${l}\n`);
out(`profile ${(span / 1e6).toFixed(1)} s, ${n} samples (median interval ${median(prof.timeDeltas).toFixed(0)} µs), busy ${((100 * busyUs) / span).toFixed(1)}%`);
out(`busy stretches >= ${minUs / 1000} ms: ${stretches.length} (${(stretches.length / (span / 1e6)).toFixed(2)}/s), ${((100 * inStretches) / span).toFixed(2)}% of the time, longest ${(Math.max(0, ...stretches.map((s) => s.to - s.from)) / 1000).toFixed(1)} ms`);

function tally(samples: number[], key: (id: number) => string): [string, number][] {
  const m = new Map<string, number>();
  for (const i of samples) {
    const k = key(prof.samples[i]!);
    m.set(k, (m.get(k) ?? 0) + (t[i + 1]! - t[i]!));
  }
  return [...m.entries()].sort((a, b) => b[1] - a[1]);
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] ?? 0;
}

const longest = [...stretches].sort((a, b) => b.to - b.from - (a.to - a.from)).slice(0, top);
for (const s of longest) {
  out(`\n${((s.to - s.from) / 1000).toFixed(2)} ms at +${((s.from - prof.startTime) / 1e6).toFixed(3)} s`);
  for (const [k, us] of tally(s.samples, entryOf).slice(0, 5)) out(`  entry ${(us / 1000).toFixed(2).padStart(7)} ms  ${k}`);
  for (const [k, us] of tally(s.samples, nameOf).slice(0, 5)) out(`  self  ${(us / 1000).toFixed(2).padStart(7)} ms  ${k}`);
}
const all = stretches.flatMap((s) => s.samples);
out(`\nover all stretches (${(inStretches / 1000).toFixed(1)} ms):`);
for (const [k, us] of tally(all, entryOf).slice(0, top)) out(`  entry ${((100 * us) / inStretches).toFixed(1).padStart(5)}%  ${k}`);
for (const [k, us] of tally(all, nameOf).slice(0, top)) out(`  self  ${((100 * us) / inStretches).toFixed(1).padStart(5)}%  ${k}`);
