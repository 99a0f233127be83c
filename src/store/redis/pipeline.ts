// Sends many commands in pipelined chunks and fails loudly if any one failed.
import type { ChainableCommander } from 'ioredis';
import type { RedisClient } from './client.js';

/** Buffers commands and sends `perPipeline` of them per round trip. */
export class ChunkedPipeline {
  private pipe: ChainableCommander;
  private queued = 0;
  /** Commands sent so far. */
  sent = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly perPipeline: number,
  ) {
    this.pipe = redis.pipeline();
  }

  /** Queues one command; sends the chunk when full. */
  async add(command: string, args: Array<string | number | Buffer>): Promise<void> {
    this.pipe.call(command, ...args);
    this.queued++;
    if (this.queued >= this.perPipeline) await this.flush();
  }

  /** Sends what is queued. */
  async flush(): Promise<void> {
    if (this.queued === 0) return;
    const pipe = this.pipe;
    const n = this.queued;
    this.pipe = this.redis.pipeline();
    this.queued = 0;
    const results = (await pipe.exec()) ?? [];
    for (const [err] of results) if (err) throw err;
    this.sent += n;
  }
}
