// The interaction center's pure rules (model/interaction.ts) and the Lua that
// applies them in Redis (lua/_interaction.lua): the transition table, the
// active and seated states, the role bits and the permission order are read
// out of the Lua text and compared with the TypeScript, so the two cannot drift.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ACTIVE_STATES,
  allowed,
  canTransition,
  endsSession,
  isTerminal,
  LINK_STATES,
  PERMISSION_MASKS,
  PERMISSIONS,
  permissionMask,
  ROLE_BITS,
  ROLE_PERMISSIONS,
  rolesOf,
  SEATED_STATES,
  stateRank,
  TRANSITIONS,
} from '../../src/model/interaction.js';

const lua = readFileSync(new URL('../../src/store/redis/lua/_interaction.lua', import.meta.url), 'utf8');

/** `{a = true, b = true}` -> ['a', 'b']. */
const keysOf = (body: string): string[] => [...body.matchAll(/(\w+) = true/g)].map((m) => m[1]!).sort();

describe('the Lua state machine is the model\'s', () => {
  it('NEXT lists exactly the transitions of TRANSITIONS', () => {
    const block = /local NEXT = \{\n([\s\S]*?)\n\}/.exec(lua)![1]!;
    const fromLua: Record<string, string[]> = {};
    for (const m of block.matchAll(/^\s*(\w+) = \{([^}]*)\}/gm)) fromLua[m[1]!] = keysOf(m[2]!);
    const fromTs = Object.fromEntries(Object.entries(TRANSITIONS).filter(([, to]) => to.length > 0).map(([from, to]) => [from, [...to].sort()]));
    expect(fromLua).toEqual(fromTs);
  });

  it('ACTIVE and SEATED are ACTIVE_STATES and SEATED_STATES', () => {
    expect(keysOf(/local ACTIVE = \{([^}]*)\}/.exec(lua)![1]!)).toEqual([...ACTIVE_STATES].sort());
    expect(keysOf(/local SEATED = \{([^}]*)\}/.exec(lua)![1]!)).toEqual([...SEATED_STATES].sort());
  });

  it('role bits and the permission order match', () => {
    const m = /local R_INITIATOR, R_PARTICIPANT, R_ADMIN, R_AUDIENCE = (\d+), (\d+), (\d+), (\d+)/.exec(lua)!;
    expect(m.slice(1).map(Number)).toEqual([ROLE_BITS.initiator, ROLE_BITS.participant, ROLE_BITS.admin, ROLE_BITS.audience]);
    const perms = [...(/local PERMS = \{([^}]*)\}/.exec(lua)![1]!).matchAll(/'(\w+)'/g)].map((x) => x[1]);
    expect(perms).toEqual([...PERMISSIONS]);
  });
});

describe('link state machine', () => {
  it('moves one way only: no transition goes back in rank, and terminal states have none', () => {
    for (const from of LINK_STATES) {
      for (const to of TRANSITIONS[from]) expect(stateRank(to), `${from} -> ${to}`).toBeGreaterThan(stateRank(from));
      expect(isTerminal(from)).toBe(TRANSITIONS[from].length === 0);
    }
    expect(canTransition('initiated', 'connecting')).toBe(true);
    expect(canTransition('connected', 'connecting')).toBe(false);
    expect(canTransition('left', 'connected')).toBe(false);
    expect(canTransition('initiated', 'kicked')).toBe(false);
  });

  it('every active state can end (ending a session ends its active links)', () => {
    for (const s of ACTIVE_STATES) expect(canTransition(s, 'ended'), s).toBe(true);
  });

  it('the end rule: a duo ends when either side goes, a multi when its creator goes or the last seat empties', () => {
    expect(endsSession('duo', 1, 2, true, 1)).toBe('peer_left');
    expect(endsSession('duo', 1, 2, false, 1)).toBe('peer_left');
    expect(endsSession('duo', 1, 1, true, 1)).toBe('creator_left');
    expect(endsSession('multi', 1, 1, true, 3)).toBe('creator_left');
    expect(endsSession('multi', 1, 2, true, 2)).toBeNull();
    expect(endsSession('multi', 1, 2, false, 0)).toBeNull();
    expect(endsSession('multi', 1, 2, true, 0)).toBe('last_left');
  });
});

describe('role -> permission table', () => {
  it('masks say which roles hold each permission', () => {
    expect(rolesOf(permissionMask('kick')).sort()).toEqual(['admin', 'initiator']);
    expect(rolesOf(permissionMask('apply'))).toEqual(['audience']);
    expect(rolesOf(permissionMask('leave')).sort()).toEqual(['initiator', 'participant']);
    expect(PERMISSION_MASKS.split(',').map(Number)).toEqual(PERMISSIONS.map(permissionMask));
  });

  it('a user holding several roles has the union of their permissions', () => {
    const both = ROLE_BITS.participant | ROLE_BITS.audience;
    expect(allowed(both, 'leave')).toBe(true);
    expect(allowed(both, 'apply')).toBe(true);
    expect(allowed(both, 'kick')).toBe(false);
    for (const p of PERMISSIONS) expect(allowed(15, p), p).toBe(true);
  });

  it('every permission is held by some role, and audience may not manage a session', () => {
    for (const p of PERMISSIONS) expect(permissionMask(p), p).toBeGreaterThan(0);
    for (const p of ['invite', 'accept', 'reject', 'kick', 'end'] as const) expect(ROLE_PERMISSIONS.audience.includes(p), p).toBe(false);
  });
});
