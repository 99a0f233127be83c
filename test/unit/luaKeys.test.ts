// The read scripts derive key names from the head key inside Lua (so they work
// on a Cluster); this checks every suffix they build matches keys.ts.
import { describe, expect, it } from 'vitest';
import { lessonKeys } from '../../src/store/redis/keys.js';
import { scriptSource } from '../../src/store/redis/scripts.js';

describe('key names built inside Lua', () => {
  const lk = lessonKeys('p:', 1);
  const suffix = (key: string) => key.slice(lk.base.length);
  it('match keys.ts', () => {
    const enter = scriptSource('enter.lua');
    expect(suffix(lk.head)).toBe('head');
    for (const s of [suffix(lk.stateDynamicNodes), suffix(lk.stateGroup), suffix(lk.stateSignIn)]) expect(enter).toContain(`'${s}'`);
    expect(enter).toContain(`'${suffix(lk.stateMuted('R'))}'`.replace("R'", "' .. roomId"));
    expect(enter).toContain(`'${suffix(lk.stateMutedNodes('R'))}'`.replace("R'", "' .. roomId"));
    expect(suffix(lk.version(3).lesson)).toBe('v3:lesson');
    expect(suffix(lk.version(3).positions(2))).toBe('v3:pos:2');
    expect(suffix(lk.version(3).members('main', 1))).toBe('v3:m:main:1');
    expect(scriptSource('read_members_page.lua')).toContain("'m:' .. ARGV[1] .. ':' .. p");
    expect(scriptSource('read_online.lua')).toContain(`'${suffix(lk.stateOnline('R', 0)).replace('R:0', '')}' .. ARGV[1] .. ':' .. p`);
    expect(scriptSource('read_node_view.lua')).toContain(`'${suffix(lk.stateDynamicNodes)}'`);
    expect(scriptSource('ws_presence.lua')).toContain(`'${suffix(lk.stateOnline('R', 0)).replace('R:0', '')}' .. ARGV[i] .. ':' .. ARGV[i + 1]`);
  });
});
