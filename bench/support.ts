// Shared bench helpers: Redis command counts from INFO commandstats, result files.
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Redis, Cluster } from 'ioredis';

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
