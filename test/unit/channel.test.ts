import { describe, expect, it } from 'vitest';
import { formatChannelMessage, lessonOfChannel, parseChannelMessage, type ChannelMessage } from '../../src/store/redis/channel.js';
import { lessonKeys } from '../../src/store/redis/keys.js';

describe('channel messages', () => {
  it('round-trips every kind', () => {
    const all: ChannelMessage[] = [
      { kind: 'version', version: 12 },
      { kind: 'state', uid: 100000017 },
      { kind: 'node', nodeId: 't9.g3' },
      { kind: 'mute', roomId: 't9.in' },
      { kind: 'room', roomId: 'main' },
      { kind: 'lesson' },
    ];
    for (const m of all) expect(parseChannelMessage(formatChannelMessage(m))).toEqual(m);
  });

  it('reads anything malformed or unknown as "drop the whole lesson"', () => {
    for (const raw of ['', 'version:', 'version:x', 'state:-1', 'state:01', 'node:a b', 'future:thing', 'nocolon']) {
      expect(parseChannelMessage(raw), raw).toEqual({ kind: 'lesson' });
    }
  });

  it('finds the lesson of a channel from its hash tag', () => {
    expect(lessonOfChannel(lessonKeys('oe:', 100001).channel)).toBe(100001);
    expect(lessonOfChannel('other')).toBeNull();
  });
});
