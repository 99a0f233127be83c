// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by
// file, highest first, so "what dominates" is one command away.
//
//   npx tsx bench/profile-top.ts <file.cpuprofile> [--top 25]
import { parseArgs } from 'node:util';
import { frameName, readProfile, shortUrl } from './lib/cpuprofile.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
if (positionals.length !== 1) throw new Error('usage: npx tsx bench/profile-top.ts <file.cpuprofile> [--top 25]');
const prof = readProfile(positionals[0]!);
const top = Number(values.top);

// Self time per node: each sample's time delta goes to the node sampled.
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
prof.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

const fnTotals = new Map<string, number>();
const fileTotals = new Map<string, number>();
for (const [id, us] of self) {
  const f = byId.get(id)!.callFrame;
  const name = frameName(f);
  fnTotals.set(name, (fnTotals.get(name) ?? 0) + us);
  const file = f.url ? shortUrl(f.url) : f.functionName.startsWith('(') ? f.functionName : '(native/builtin)';
  fileTotals.set(file, (fileTotals.get(file) ?? 0) + us);
}
const show = (title: string, m: Map<string, number>) => {
  process.stdout.write(`\n${title} (of ${(total / 1e6).toFixed(2)} s sampled)\n`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${((100 * us) / total).toFixed(1).padStart(6)}%  ${k}\n`);
};
show('self time by function', fnTotals);
show('self time by file', fileTotals);
