import { describe, expect, it } from 'vitest';
import { isOrgError, OrgError } from '../../src/errors.js';
import { parsePolicyConf, validatePolicyConf } from '../../src/model/policy.js';

function problemFields(f: () => unknown): string[] {
  try {
    f();
  } catch (e) {
    expect(isOrgError(e, 'POLICY_INVALID')).toBe(true);
    return ((e as OrgError).details?.fields as string[]) ?? [];
  }
  throw new Error('expected POLICY_INVALID');
}

const good = { bizType: 'group', streamPolicy: 'rtc+longconn', orgPolicy: '/lesson/tutor/team/group' };

describe('policy validation', () => {
  it('fills defaults', () => {
    const c = validatePolicyConf(good);
    expect(c.preloadMode).toBe('full');
    expect(c.partitionSize).toBe(5000);
    expect(c.rooms).toEqual({ tutorOnCamera: [], beforeMinutes: 30, afterMinutes: 30 });
    expect(c.groups).toEqual({ groupCapacity: 6, groupsPerTeam: 6, expandBelowFreeSeats: 6 });
  });

  it('takes a lesson policy\'s interaction timeouts, and leaves the field out when the policy has none', () => {
    expect(validatePolicyConf(good).interaction).toBeUndefined();
    expect(validatePolicyConf({ ...good, interaction: { inviteTimeoutMs: 10_000 } }).interaction).toEqual({ inviteTimeoutMs: 10_000, connectTimeoutMs: null });
    for (const bad of [{ inviteTimeoutMs: 5 }, { connectTimeoutMs: 'soon' }, { inviteTimeoutMs: 1000, extra: 1 }, 'fast']) {
      expect(() => validatePolicyConf({ ...good, interaction: bad }), JSON.stringify(bad)).toThrow(/conf\.interaction/);
    }
  });

  it('uses the configured default partition size when the policy has none', () => {
    expect(validatePolicyConf(good, 2000).partitionSize).toBe(2000);
    expect(validatePolicyConf({ ...good, partitionSize: 300 }, 2000).partitionSize).toBe(300);
  });

  it('puts tutor phases in canonical order', () => {
    expect(validatePolicyConf({ ...good, rooms: { tutorOnCamera: ['after', 'before'] } }).rooms.tutorOnCamera).toEqual(['before', 'after']);
  });

  it.each([
    [{ ...good, bizType: 'lecture' }, 'conf.bizType'],
    [{ ...good, streamPolicy: 'udp' }, 'conf.streamPolicy'],
    [{ ...good, orgPolicy: '/lesson/team' }, 'conf.orgPolicy'],
    [{ ...good, preloadMode: 'everything' }, 'conf.preloadMode'],
    [{ ...good, partitionSize: 5.5 }, 'conf.partitionSize'],
    [{ ...good, partitionSize: 10 }, 'conf.partitionSize'],
    [{ ...good, rooms: { tutorOnCamera: ['before', 'lunch'] } }, 'conf.rooms.tutorOnCamera[1]'],
    [{ ...good, rooms: { tutorOnCamera: ['in', 'in'] } }, 'conf.rooms.tutorOnCamera[1]'],
    [{ ...good, rooms: { tutorOnCamera: 'in' } }, 'conf.rooms.tutorOnCamera'],
    [{ ...good, rooms: { beforeMinutes: -5 } }, 'conf.rooms.beforeMinutes'],
    [{ ...good, rooms: [] }, 'conf.rooms'],
    [{ ...good, groups: { groupCapacity: 0 } }, 'conf.groups.groupCapacity'],
    [{ ...good, groups: { groupsPerTeam: 'six' } }, 'conf.groups.groupsPerTeam'],
    [{ ...good, orgPolicy: '/lesson', groups: {} }, 'conf.groups'],
    [{ ...good, colour: 'red' }, 'conf.colour'],
  ])('names the bad field: %j -> %s', (conf, field) => {
    expect(problemFields(() => validatePolicyConf(conf))).toContain(field);
  });

  it('reports every bad field at once', () => {
    const fields = problemFields(() => validatePolicyConf({ bizType: 'x', streamPolicy: 'y' }));
    expect(fields).toEqual(expect.arrayContaining(['conf.bizType', 'conf.streamPolicy', 'conf.orgPolicy']));
  });

  it('rejects a non-object and malformed JSON', () => {
    expect(problemFields(() => validatePolicyConf([1]))).toContain('conf');
    expect(problemFields(() => parsePolicyConf('{"bizType": "group",'))).toEqual(['conf']);
  });
});
