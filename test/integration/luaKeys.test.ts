// Scripts derive key names inside Redis from the head key (so they work on a
// Cluster without being told every key). All of that naming lives in
// lua/_keys.lua; here every function of it runs in Redis, both as written and
// as the loader expands it into a script, and its result is compared with
// keys.ts exactly; no other Lua file builds a key name. The position bucket
// (uid % buckets) is defined once per language: the Lua one and positionBucket
// must agree on every sample uid.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisClient } from '../../src/store/redis/client.js';
import { lessonKeys, positionBucket } from '../../src/store/redis/keys.js';
import { compileScript, scriptSource } from '../../src/store/redis/scripts.js';
import { testRedis } from '../support/redis.js';

const luaDir = new URL('../../src/store/redis/lua/', import.meta.url);
const own = (file: string) => readFileSync(new URL(file, luaDir), 'utf8');

const lk = lessonKeys('oe:test:{x}:', 42);
const vk = lk.version(7);

/** Lua expression (B: lesson base, VB: version base) -> the name keys.ts gives. */
const CASES: Array<[fn: string, lua: string, ts: string]> = [
  ['lesson_base', 'lesson_base(KEYS[1])', lk.base],
  ['version_base_of', "version_base_of(B, '7')", vk.base],
  ['key_channel', 'key_channel(B)', lk.channel],
  ['key_lesson', 'key_lesson(VB)', vk.lesson],
  ['key_rooms', 'key_rooms(VB)', vk.rooms],
  ['key_nodes', 'key_nodes(VB)', vk.nodes],
  ['key_index', 'key_index(VB)', vk.index],
  ['key_paths', 'key_paths(VB)', vk.paths],
  ['key_positions', 'key_positions(VB, 3)', vk.positions(3)],
  ['key_members', "key_members(VB, 't9.in', 2)", vk.members('t9.in', 2)],
  ['key_state_group', 'key_state_group(B)', lk.stateGroup],
  ['key_state_seats', 'key_state_seats(B)', lk.stateSeats],
  ['key_state_dyn', 'key_state_dyn(B)', lk.stateDynamicNodes],
  ['key_state_dyn_kids', 'key_state_dyn_kids(B)', lk.stateDynamicChildren],
  ['key_state_signin', 'key_state_signin(B)', lk.stateSignIn],
  ['key_state_muted', "key_state_muted(B, 'main')", lk.stateMuted('main')],
  ['key_state_muted_nodes', "key_state_muted_nodes(B, 'main')", lk.stateMutedNodes('main')],
  ['key_state_online', "key_state_online(B, 't9.in', 4)", lk.stateOnline('t9.in', 4)],
  ['key_score_idem', 'key_score_idem(B)', lk.scoreIdem],
  ['key_score_users', 'key_score_users(B)', lk.scoreUsers],
  ['key_score_room', "key_score_room(B, 'main')", lk.scoreRoom('main')],
  ['key_score_nodes', 'key_score_nodes(B)', lk.scoreNodes],
  ['key_score_children', "key_score_children(B, 't9.m1')", lk.scoreChildren('t9.m1')],
  ['key_score_seats', "key_score_seats(B, 's:abc')", lk.scoreSeats('s:abc')],
  ['key_score_pk', "key_score_pk(B, 'r:main')", lk.scorePk('r:main')],
  ['key_score_pk_seq', 'key_score_pk_seq(B)', lk.scorePkSeq],
  ['key_score_notice', "key_score_notice(B, 'main')", lk.scoreNotice('main')],
  ['key_score_scopes', 'key_score_scopes(B)', lk.scoreScopes],
  ['key_state_ver', 'key_state_ver(B)', lk.stateVersion],
  ['key_wb', 'key_wb(B)', lk.writeBehind],
  ['key_ia_seq', 'key_ia_seq(B)', lk.iaSeq],
  ['key_ia_session', "key_ia_session(B, 's12')", lk.iaSession('s12')],
  ['key_ia_links', "key_ia_links(B, 's12')", lk.iaLinks('s12')],
  ['key_ia_busy', 'key_ia_busy(B)', lk.iaBusy],
  ['key_ia_room', "key_ia_room(B, 't9.in')", lk.iaRoom('t9.in')],
  ['key_ia_active', 'key_ia_active(B)', lk.iaActive],
  ['key_ia_channels', 'key_ia_channels(B)', lk.iaChannels],
  ['key_ia_deadlines', 'key_ia_deadlines(B)', lk.iaDeadlines],
  ['key_ia_rtc', "key_ia_rtc(B, 's12')", lk.iaRtc('s12')],
  ['key_ia_rtc_events', "key_ia_rtc_events(B, 's12')", lk.iaRtcEvents('s12')],
  ['key_ia_room_version', 'key_ia_room_version(B)', lk.iaRoomVersion],
  ['key_ia_admins', "key_ia_admins(B, 'main')", lk.iaAdmins('main')],
];

const UIDS = [1, 2, 7, 4_999, 5_000, 5_001, 123_456_789, 2 ** 31 + 5, 2 ** 40 + 3, 10 ** 15 + 7, Number.MAX_SAFE_INTEGER];
const BUCKETS = [1, 2, 3, 7, 24, 61];

describe('key names built inside Lua', () => {
  let redis: RedisClient;
  const keys = scriptSource('_keys.lua');
  const prelude = "local B = lesson_base(KEYS[1])\nlocal VB = version_base_of(B, '7')\n";
  // As written: the functions are called.
  const run = async (body: string, ...argv: Array<string | number>): Promise<unknown> => redis.eval(`${keys}\n${prelude}${body}`, 1, lk.head, ...argv);
  // As a script gets them: each call expanded in place, no function left.
  const runExpanded = async (body: string, ...argv: Array<string | number>): Promise<unknown> => {
    const lua = compileScript(`-- @include _keys.lua\n${prelude}${body}`);
    expect(lua).not.toMatch(/^local function /m);
    return redis.eval(lua, 1, lk.head, ...argv);
  };

  beforeAll(() => {
    redis = testRedis('single');
  });
  afterAll(() => redis.disconnect());

  it('every function of _keys.lua gives exactly the name keys.ts gives', async () => {
    const fns = [...keys.matchAll(/^local function (\w+)\(/gm)].map((m) => m[1]!).filter((f) => f !== 'position_bucket');
    expect(CASES.map(([fn]) => fn).sort()).toEqual(fns.sort());
    const body = `return {${CASES.map(([, expr]) => expr).join(', ')}}`;
    expect(await run(body)).toEqual(CASES.map(([, , ts]) => ts));
    expect(await runExpanded(body)).toEqual(CASES.map(([, , ts]) => ts));
  });

  it('the position bucket of Lua and positionBucket agree', async () => {
    const body = 'local out = {} for i = 1, #ARGV - 1 do out[i] = key_positions(VB, position_bucket(ARGV[i], tonumber(ARGV[#ARGV]))) end return out';
    for (const b of BUCKETS) {
      const want = UIDS.map((u) => vk.positions(positionBucket(u, b)));
      expect(await run(body, ...UIDS.map(String), b), `buckets ${b}`).toEqual(want);
      expect(await runExpanded(body, ...UIDS.map(String), b), `buckets ${b}, expanded`).toEqual(want);
    }
  });

  it('no other Lua file builds a key name or computes a bucket', () => {
    for (const file of readdirSync(luaDir).filter((f) => f.endsWith('.lua') && f !== '_keys.lua')) {
      const text = own(file).replace(/^--.*$/gm, '');
      expect(text, file).not.toMatch(/\b(vb|base|head)\s*\.\.\s*'/);
      expect(text, file).not.toMatch(/string\.sub\(\s*(head|KEYS\[1\])/);
      expect(text, file).not.toMatch(/%\s*(b|buckets)\b/);
    }
  });
});
