// Where the test services live. scripts/services.sh starts them and writes the
// cluster's node list to .run/cluster.nodes; env vars override everything.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Single Redis for tests. */
export const TEST_REDIS_URL = process.env.ORGENGINE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Base MySQL URL (no database) for tests; each file creates its own database. */
export const TEST_MYSQL_URL = process.env.ORGENGINE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

/** Seed nodes of the local 3-master test cluster, as "host:port" strings. */
export function testClusterNodes(): string[] {
  const fromEnv = process.env.ORGENGINE_TEST_CLUSTER_NODES;
  let raw = fromEnv;
  if (!raw) {
    try {
      raw = readFileSync(`${root}.run/cluster.nodes`, 'utf8');
    } catch {
      throw new Error(
        'no Redis Cluster for tests: run `bash scripts/services.sh` (writes .run/cluster.nodes) or set ORGENGINE_TEST_CLUSTER_NODES',
      );
    }
  }
  const nodes = raw.split(/[\s,]+/).filter(Boolean);
  if (nodes.length === 0) throw new Error('ORGENGINE_TEST_CLUSTER_NODES / .run/cluster.nodes is empty');
  return nodes;
}

/** A key prefix no other test file or run shares. */
export function uniquePrefix(tag: string): string {
  return `t:${tag}:${randomUUID().slice(0, 8)}:`;
}
