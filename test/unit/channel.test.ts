import { describe, expect, it } from 'vitest';
import { formatChannelMessage, lessonOfChannel, parseChannelMessage, type ChannelMessage } from '../../src/store/redis/channel.js';
import { lessonKeys } from '../../src/store/redis/keys.js';

describe('channel messages', () => {
  it('round-trips every kind', () => {
    const all: ChannelMessage[] = [
      { kind: 'version', version: 12 },
      { kind: 'state', uid: 100000017 },
      { kind: 'pos', uid: 100000018 },
      { kind: 'node', nodeId: 't9.g3' },
      { kind: 'mute', roomId: 't9.in' },
      { kind: 'room', roomId: 'main' },
      { kind: 'signal', roomId: 't9.in', seq: 42 },
      { kind: 'score', roomId: 't9.in' },
      { kind: 'broadcast', nodeId: 't9.g3', by: 9001, at: 1795240000000, data: 'a:b "quoted" 回放' },
      { kind: 'interaction', roomId: 't9.in', sessionId: 's12', version: 1795985333119432 },
      { kind: 'interaction', roomId: 'a:b', sessionId: null, version: 7 },
      { kind: 'revoke', uid: 100000017, before: 1795240000000 },
      { kind: 'revoke', uid: null, before: 1795240000001 },
      { kind: 'lesson' },
    ];
    for (const m of all) expect(parseChannelMessage(formatChannelMessage(m))).toEqual(m);
  });

  it('reads anything malformed or unknown as "drop the whole lesson"', () => {
    for (const raw of [
      '', 'version:', 'version:x', 'state:-1', 'state:01', 'pos:', 'pos:x1', 'node:a b', 'future:thing', 'nocolon',
      'signal:main', 'signal:main:0', 'signal::4', 'signal:main:x', 'signal:bad room:1', 'signal:main:9007199254740993',
      'ia:', 'ia:main', 'ia:main:s1', 'ia:main:x1:3', 'ia:main:s1:x', 'ia::s1:3', 'ia:bad room:s1:3', 'ia:main:s01:3',
      'bcast:', 'bcast:{', 'bcast:[]', 'bcast:{"n":"a b","b":1,"a":1,"d":"x"}', 'bcast:{"n":"g","b":"1","a":1,"d":"x"}', 'bcast:{"n":"g","b":1,"a":1,"d":2}',
      'revoke:', 'revoke:u1', 'revoke:u0:5', 'revoke:x:5', 'revoke:all:', 'revoke:all:-1', 'revoke:u1:99999999999999999',
    ]) {
      expect(parseChannelMessage(raw), raw).toEqual({ kind: 'lesson' });
    }
  });

  it('parses the signal message publish_signal.lua sends', () => {
    // The script builds it with Lua's `..`, not with formatChannelMessage.
    expect(parseChannelMessage('signal:t12.before:7')).toEqual({ kind: 'signal', roomId: 't12.before', seq: 7 });
    expect(parseChannelMessage('signal:a:b:9')).toEqual({ kind: 'signal', roomId: 'a:b', seq: 9 });
  });

  it('parses the interaction message _interaction.lua sends', () => {
    expect(parseChannelMessage('ia:main:s3:1795985333119432')).toEqual({ kind: 'interaction', roomId: 'main', sessionId: 's3', version: 1795985333119432 });
    expect(parseChannelMessage('ia:t9.in:-:5')).toEqual({ kind: 'interaction', roomId: 't9.in', sessionId: null, version: 5 });
  });

  it('parses the pos message move_students.lua sends', () => {
    expect(parseChannelMessage('pos:100000007')).toEqual({ kind: 'pos', uid: 100000007 });
  });

  it('finds the lesson of a channel from its hash tag', () => {
    expect(lessonOfChannel(lessonKeys('oe:', 100001).channel)).toBe(100001);
    expect(lessonOfChannel('other')).toBeNull();
  });
});
