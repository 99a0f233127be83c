import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { isOrgError, type ErrorCode } from '../../src/errors.js';
import { compileLesson } from '../../src/model/compile.js';
import { validatePolicyConf } from '../../src/model/policy.js';
import { BUILTIN_POLICIES, syntheticLesson } from '../../src/model/synthetic.js';
import { parseChangeRequest } from '../../src/preload/changes.js';
import { compareViews, Differences, sameValue, topologyView } from '../../src/preload/compare.js';
import { checkJobId, expectedMs, preloadJobId, priorityOf } from '../../src/preload/jobs.js';
import { lessonState } from '../../src/preload/status.js';

function codeOf(fn: () => unknown): { code: ErrorCode; message: string } {
  try {
    fn();
  } catch (e) {
    if (isOrgError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected an OrgError');
}

describe('job ids and ordering', () => {
  it('ids have the three parts BullMQ accepts and name lesson and day', () => {
    expect(preloadJobId(42, '2026-11-21')).toBe('preload:42:2026-11-21');
    expect(checkJobId(42, '2026-11-21').split(':')).toHaveLength(3);
  });

  it('earlier lessons get smaller priority numbers (BullMQ runs those first)', () => {
    const day = '2026-11-21';
    const at = (hh: number, mm: number) => Date.UTC(2026, 10, 21, hh, mm);
    expect(priorityOf(at(0, 0), day)).toBe(1);
    expect(priorityOf(at(8, 0), day)).toBeLessThan(priorityOf(at(8, 1), day));
    expect(priorityOf(at(23, 59), day)).toBe(1440);
    expect(() => priorityOf(at(8, 0), '21/11/2026')).toThrow();
  });

  it('expected duration grows with the students', () => {
    const cfg = { expectedBaseMs: 1000, expectedMsPer1kStudents: 300 };
    expect(expectedMs(0, cfg)).toBe(1000);
    expect(expectedMs(30_000, cfg)).toBe(10_000);
  });
});

describe('lesson state', () => {
  it('follows the jobs first, then the latest run and its check', () => {
    expect(lessonState('active', 'waiting-children', null, null, null, null)).toBe('running');
    expect(lessonState('prioritized', 'waiting-children', 'failed', 3, null, null)).toBe('queued');
    expect(lessonState('delayed', 'waiting-children', 'failed', 3, null, null)).toBe('queued');
    expect(lessonState('completed', 'completed', 'succeeded', 4, 4, 'passed')).toBe('checked');
    expect(lessonState('completed', 'failed', 'succeeded', 4, 4, 'failed')).toBe('check-failed');
    // A check of an older run says nothing about the latest one.
    expect(lessonState('completed', 'waiting', 'succeeded', 5, 4, 'passed')).toBe('ready');
    expect(lessonState('failed', 'failed', 'failed', 5, null, null)).toBe('failed');
    expect(lessonState('unknown', 'unknown', null, null, null, null)).toBe('unscheduled');
    // A run left 'running' by a dead worker, its job not active: still running until taken over.
    expect(lessonState('unknown', 'unknown', 'running', 6, null, null)).toBe('running');
  });
});

describe('comparison', () => {
  const conf = validatePolicyConf(BUILTIN_POLICIES.find((p) => p.name === 'group')!.conf);
  const topo = () => compileLesson(syntheticLesson({ lessonId: 1, ordinal: 1, students: 300, tutors: 3, seed: 1, startTime: Date.UTC(2026, 10, 21, 9) }), conf, { policyId: 1 });

  it('treats null and a missing field alike and compares nested values deeply', () => {
    expect(sameValue({ a: null, b: [1, { c: 2 }] }, { b: [1, { c: 2 }] })).toBe(true);
    expect(sameValue([1, 2], [2, 1])).toBe(false);
    expect(sameValue({ a: 1 }, { a: '1' })).toBe(false);
  });

  it('finds nothing between two compiles of the same source, and every change otherwise', () => {
    const opts = { withPositions: true, withMembers: true };
    const same = new Differences();
    compareViews(topologyView(topo(), opts), topologyView(topo(), opts), 'a/b', same);
    expect(same.count).toBe(0);

    const b = topo();
    b.rooms[1]!.memberCount++;
    b.nodes[2]!.childIds.pop();
    b.positions[0] = { ...b.positions[0]!, nodeId: 'elsewhere' };
    const removed = b.positions.pop()!;
    const d = new Differences(2);
    compareViews(topologyView(topo(), opts), topologyView(b, opts), 'a/b', d);
    // room field, node childIds, position node, missing position, and the missing
    // student's member entries in each of its rooms.
    expect(d.byKind).toEqual({ 'a/b:room': 1, 'a/b:node': 1, 'a/b:position': 2, 'a/b:member': removed.rooms.length });
    expect(d.samples).toHaveLength(2);
    expect(d.count).toBe(4 + removed.rooms.length);
  });
});

describe('change requests', () => {
  it('accepts each kind', () => {
    expect(parseChangeRequest({ type: 'move', lessonId: 1, moves: [{ uid: 5, tutorUid: 9, classId: null }] }, 10)).toEqual({
      type: 'move',
      lessonId: 1,
      moves: [{ uid: 5, tutorUid: 9, classId: null }],
    });
    expect(parseChangeRequest({ type: 'teacher', lessonId: 1, teacherUid: 3 }, 10)).toMatchObject({ teacherUid: 3 });
    expect(parseChangeRequest({ type: 'reopen', lessonId: 1 }, 10)).toEqual({ type: 'reopen', lessonId: 1 });
  });

  it.each([
    [{ type: 'move', lessonId: 0, moves: [] }, 'BAD_REQUEST', 'change.lessonId'],
    [{ type: 'move', lessonId: 1, moves: [] }, 'BAD_REQUEST', 'change.moves'],
    [{ type: 'move', lessonId: 1, moves: [{ uid: 1 }] }, 'BAD_REQUEST', 'change.moves[0]'],
    [{ type: 'move', lessonId: 1, moves: [{ uid: 1, tutorUid: 2 }, { uid: 1, tutorUid: 3 }] }, 'BAD_REQUEST', 'change.moves[1].uid'],
    [{ type: 'move', lessonId: 1, moves: [{ uid: 1, tutorUid: 2.5 }] }, 'BAD_REQUEST', 'change.moves[0].tutorUid'],
    [{ type: 'move', lessonId: 1, moves: [{ uid: 1, tutorUid: 2, extra: 1 }] }, 'BAD_REQUEST', 'change.moves[0].extra'],
    [{ type: 'move', lessonId: 1, moves: Array.from({ length: 11 }, (_, i) => ({ uid: i + 1, tutorUid: 2 })) }, 'LIMIT_EXCEEDED', 'change.moves'],
    [{ type: 'time', lessonId: 1, startTime: 1_795_000_000_000, endTime: 1_795_000_000_000 }, 'BAD_REQUEST', 'change.endTime'],
    [{ type: 'time', lessonId: 1, startTime: 5, endTime: 6 }, 'BAD_REQUEST', 'change.startTime'],
    [{ type: 'rename', lessonId: 1 }, 'BAD_REQUEST', 'change.type'],
    ['move', 'BAD_REQUEST', 'change'],
  ])('refuses %j naming the field', (input, code, field) => {
    const e = codeOf(() => parseChangeRequest(input, 10));
    expect(e.code).toBe(code);
    expect(e.message.startsWith(`${field}:`)).toBe(true);
  });
});

describe('jobs config', () => {
  it('defaults to the data Redis and a hash-tagged prefix', () => {
    const c = loadConfig({ ORGENGINE_REDIS_CLUSTER_NODES: '127.0.0.1:7000' });
    expect(c.jobs.redis).toEqual(c.redis);
    expect(c.jobs.prefix).toBe('{oe-jobs}');
    expect(loadConfig({ ORGENGINE_QUEUE_REDIS_URL: 'redis://q:6380' }).jobs.redis).toEqual({ mode: 'single', url: 'redis://q:6380' });
  });

  it.each([
    ['ORGENGINE_QUEUE_PREFIX', 'oe-jobs'],
    ['ORGENGINE_QUEUE_PREFIX', '{a}{b}'],
    ['ORGENGINE_QUEUE_PREFIX', '{}'],
    ['ORGENGINE_QUEUE_REDIS_URL', 'http://q'],
    ['ORGENGINE_PRELOAD_CONCURRENCY', '0'],
    ['ORGENGINE_JOB_LOCK_MS', '10'],
    ['ORGENGINE_CHECK_CLUSTER_MAX', 'x'],
  ])('names %s when it is %j', (name, value) => {
    try {
      loadConfig({ [name]: value });
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).variable).toBe(name);
    }
  });
});
