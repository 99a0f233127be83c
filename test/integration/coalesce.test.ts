// Coalesced Redis writes against real Redis and the real Cluster: the
// commands of one event-loop turn leave in writevs of at most `maxBatch`
// commands, every reply reaches its own command in order, and the socket of
// a connection re-opened after CLIENT KILL is coalesced too.
import type { Socket } from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeRedis, createRedis, whenReady, type RedisClient } from '../../src/store/redis/client.js';
import { coalesceSocketWrites } from '../../src/store/redis/coalesce.js';
import { TEST_REDIS_URL, testClusterNodes, uniquePrefix } from '../support/env.js';
import { until } from '../support/wait.js';

/** Counts the socket's system writes: single writes and writevs (each one syscall at most). */
function countWrites(socket: Socket): { single: number; vectors: number[] } {
  const seen = { single: 0, vectors: [] as number[] };
  const s = socket as Socket & { _write: (...a: unknown[]) => void; _writev: (chunks: unknown[], cb: unknown) => void };
  const w = s._write.bind(s);
  const wv = s._writev.bind(s);
  s._write = (...a: unknown[]) => {
    seen.single++;
    w(...a);
  };
  s._writev = (chunks: unknown[], cb: unknown) => {
    seen.vectors.push(chunks.length);
    wv(chunks, cb);
  };
  return seen;
}

const streamOf = (c: Redis): Socket => (c as unknown as { stream: Socket }).stream;

describe('coalesced Redis writes (single Redis)', () => {
  const prefix = uniquePrefix('coalesce');
  let client: Redis;
  let plain: Redis;

  beforeAll(async () => {
    client = createRedis({ mode: 'single', url: TEST_REDIS_URL }, { writeBatch: 4, connectionName: 'oe-test-coalesce' }) as Redis;
    plain = createRedis({ mode: 'single', url: TEST_REDIS_URL }) as Redis;
    expect(await whenReady(client, 5000)).toBe(true);
    expect(await whenReady(plain, 5000)).toBe(true);
  });
  afterAll(async () => {
    await plain.del(`${prefix}n`);
    await Promise.all([closeRedis(client), closeRedis(plain)]);
  });

  it('sends one turn of 10 commands in writevs of at most 4, replies in order', async () => {
    const seen = countWrites(streamOf(client));
    const replies = await Promise.all(Array.from({ length: 10 }, () => client.incr(`${prefix}n`)));
    expect(replies).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(seen.single).toBe(0);
    expect(seen.vectors).toEqual([4, 4, 2]);
  });

  it('a connection without coalescing writes once per command', async () => {
    const seen = countWrites(streamOf(plain));
    await Promise.all(Array.from({ length: 5 }, () => plain.incr(`${prefix}n`)));
    expect(seen.single + seen.vectors.length).toBe(5);
  });

  it('commands of different turns are not held back for each other', async () => {
    const seen = countWrites(streamOf(client));
    for (let i = 0; i < 3; i++) {
      await client.get(`${prefix}n`);
      await turn();
    }
    // Each turn's single command left alone (a corked single write leaves through _writev with one chunk).
    expect(seen.single + seen.vectors.length).toBe(3);
    expect(seen.vectors.every((n) => n === 1)).toBe(true);
  });

  it('the socket of a reconnected connection is coalesced too', async () => {
    const before = streamOf(client);
    const id = await client.client('ID');
    await plain.client('KILL', 'ID', String(id));
    await until('the connection re-opened', async () => (streamOf(client) !== before && client.status === 'ready' ? true : undefined), 10_000);
    const seen = countWrites(streamOf(client));
    const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => client.echo(`m${i}`)));
    expect(replies).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
    expect(seen.vectors).toEqual([4, 2]);
  });

  it('refuses a batch bound below 2', () => {
    expect(() => coalesceSocketWrites(streamOf(plain), 1)).toThrow(RangeError);
  });
});

describe('coalesced Redis writes (Cluster)', () => {
  const prefix = uniquePrefix('coalesce');
  let cluster: RedisClient;

  beforeAll(async () => {
    cluster = createRedis({ mode: 'cluster', nodes: testClusterNodes().map((hp) => ({ host: hp.split(':')[0]!, port: Number(hp.split(':')[1]) })) }, { writeBatch: 4 });
    expect(await whenReady(cluster, 10_000)).toBe(true);
  });
  afterAll(async () => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => cluster.del(`${prefix}{k${i}}`)));
    await closeRedis(cluster);
  });

  it('every node connection is coalesced and every reply reaches its command', async () => {
    // Keys over every master: one turn of 40 SETs, then one of 40 GETs.
    const keys = Array.from({ length: 40 }, (_, i) => `${prefix}{k${i}}`);
    await Promise.all(keys.map((k, i) => cluster.set(k, `v${i}`)));
    const counters = (cluster as unknown as { nodes(role: string): Redis[] }).nodes('master').map((n) => countWrites(streamOf(n)));
    const got = await Promise.all(keys.map((k) => cluster.get(k)));
    expect(got).toEqual(keys.map((_, i) => `v${i}`));
    const vectors = counters.flatMap((c) => c.vectors);
    expect(counters.every((c) => c.single === 0)).toBe(true);
    expect(vectors.every((n) => n <= 4)).toBe(true);
    expect(vectors.reduce((a, b) => a + b, 0)).toBe(40);
    expect(vectors.length).toBeLessThan(40);
  });
});
