import { describe, expect, it } from 'vitest';
import { isOrgError, type ErrorCode } from '../../src/errors.js';
import { compileLesson } from '../../src/model/compile.js';
import { validatePolicyConf, type PolicyConf } from '../../src/model/policy.js';
import type { LessonSource } from '../../src/model/source.js';
import { BUILTIN_POLICIES, syntheticLesson } from '../../src/model/synthetic.js';
import type { Topology } from '../../src/model/topology.js';

const policy = (name: string, over: Record<string, unknown> = {}): PolicyConf =>
  validatePolicyConf({ ...BUILTIN_POLICIES.find((p) => p.name === name)!.conf, ...over });

const lesson = (students: number, tutors: number, extra: Partial<Parameters<typeof syntheticLesson>[0]> = {}): LessonSource =>
  syntheticLesson({ lessonId: 42, ordinal: 0, students, tutors, seed: 7, startTime: Date.UTC(2026, 10, 21, 10), ...extra });

const kinds = (t: Topology) => t.nodes.reduce<Record<string, number>>((m, n) => ((m[n.kind] = (m[n.kind] ?? 0) + 1), m), {});

function codeOf(f: () => unknown): ErrorCode {
  try {
    f();
  } catch (e) {
    if (isOrgError(e)) return e.code;
    throw e;
  }
  throw new Error('expected an OrgError');
}

describe('compile: the seed sizes', () => {
  // 30,000 students, 60 tutors (500 each) on camera before/in/after, groups of 6, 6 groups per team.
  const t = compileLesson(lesson(30_000, 60), policy('group'), { policyId: 1 });

  it('makes 3n+1 rooms', () => {
    expect(t.rooms.length).toBe(3 * 60 + 1);
    expect(t.rooms.filter((r) => r.roomType === 'main').length).toBe(1);
    for (const phase of ['before', 'in', 'after']) expect(t.rooms.filter((r) => r.roomType === `tutor_${phase}`).length).toBe(60);
  });

  it('makes the org tree of the write-up: ~5,000 groups, ~840 teams, 60 tutors', () => {
    const perTutorGroups = Math.ceil(500 / 6); // 84
    const perTutorTeams = Math.ceil(perTutorGroups / 6); // 14
    expect(kinds(t)).toEqual({ lesson: 1, tutor: 60, team: 60 * perTutorTeams, group: 60 * perTutorGroups });
    expect(t.counts.nodes).toBe(1 + 60 + 60 * perTutorTeams + 60 * perTutorGroups);
    const seats = t.nodes.filter((n) => n.kind === 'group').reduce((s, n) => s + n.capacity!, 0);
    expect(seats).toBeGreaterThanOrEqual(30_000);
  });

  it('gives 120,000 room-user rows: the main room plus three tutor rooms each', () => {
    expect(t.counts.positions).toBe(30_000);
    expect(t.counts.roomUsers).toBe(120_000);
    for (const p of t.positions) expect(p.rooms.map((r) => r.roomId.split('.').pop())).toEqual(['main', 'before', 'in', 'after']);
  });

  it('partitions member sets at 5,000', () => {
    const main = t.rooms.find((r) => r.roomId === 'main')!;
    expect(main.partitions).toBe(6);
    expect(t.counts.memberPartitions).toBe(6 + 180);
    const perPartition = new Map<number, number>();
    for (const p of t.positions) {
      const part = p.rooms[0]!.partition;
      perPartition.set(part, (perPartition.get(part) ?? 0) + 1);
    }
    expect([...perPartition.values()]).toEqual([5000, 5000, 5000, 5000, 5000, 5000]);
  });

  it('places students at their tutor node and keeps paths consistent', () => {
    const byId = new Map(t.nodes.map((n) => [n.nodeId, n]));
    for (const n of t.nodes) {
      if (n.parentId === null) continue;
      const parent = byId.get(n.parentId)!;
      expect(n.path).toBe(`${parent.path}/${n.nodeId}`);
      expect(parent.childIds).toContain(n.nodeId);
    }
    const p = t.positions[0]!;
    expect(byId.get(p.nodeId)!.kind).toBe('tutor');
    expect(byId.get(p.nodeId)!.size).toBe(500);
  });
});

describe('compile: every org policy shape', () => {
  const src = lesson(1200, 4);

  it('/lesson: everyone at the root, one room without tutors on camera', () => {
    const t = compileLesson(src, policy('three-screen'), { policyId: 1 });
    expect(t.rooms.map((r) => r.roomId)).toEqual(['main']);
    expect(kinds(t)).toEqual({ lesson: 1 });
    expect(new Set(t.positions.map((p) => p.nodeId))).toEqual(new Set(['root']));
    expect(t.counts.roomUsers).toBe(1200);
  });

  it('/lesson/tutor/class: classes from the tutoring side', () => {
    const t = compileLesson(src, policy('small-class'), { policyId: 1 });
    expect(kinds(t)).toEqual({ lesson: 1, tutor: 4, class: src.classes.length });
    for (const p of t.positions) expect(p.nodeId).toMatch(/^c\d+$/);
    const sizes = t.nodes.filter((n) => n.kind === 'class').map((n) => n.size);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(1200);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(40);
  });

  it('/lesson/lpc/wechatGroup: wechat groups under LPCs', () => {
    const t = compileLesson(src, policy('short-training'), { policyId: 1 });
    expect(kinds(t)).toEqual({ lesson: 1, lpc: 4, wechatGroup: src.wechatGroups.length });
    for (const p of t.positions) expect(p.nodeId).toMatch(/^w\d+$/);
  });

  it('/lesson/lpc: students under their LPC', () => {
    const t = compileLesson(src, policy('conversion'), { policyId: 1 });
    expect(kinds(t)).toEqual({ lesson: 1, lpc: 4 });
    for (const p of t.positions) expect(p.nodeId).toMatch(/^p\d+$/);
  });

  it('tutor rooms follow the on-camera flag and the phases of the policy', () => {
    const half = lesson(1200, 4, { onCameraRatio: 0.5 });
    const t = compileLesson(half, policy('group', { rooms: { tutorOnCamera: ['in'] } }), { policyId: 1 });
    expect(t.rooms.length).toBe(1 + 2);
    expect(t.counts.roomUsers).toBe(1200 + 600);
  });
});

describe('compile: determinism', () => {
  it('gives the same topology whatever the row order', () => {
    const a = lesson(900, 3);
    const b: LessonSource = {
      ...a,
      staff: [...a.staff].reverse(),
      enrolments: [...a.enrolments].reverse(),
      tutorAssignments: [...a.tutorAssignments].reverse(),
      classes: [...a.classes].reverse(),
    };
    expect(compileLesson(b, policy('small-class'), { policyId: 1 })).toEqual(compileLesson(a, policy('small-class'), { policyId: 1 }));
  });

  it('keeps node and room ids of existing tutors when a tutor is added', () => {
    const a = lesson(600, 3);
    const t1 = compileLesson(a, policy('group'), { policyId: 1 });
    const extra = { uid: 1, name: 'new tutor', role: 'tutor' as const, onCamera: true }; // sorts first
    const t2 = compileLesson({ ...a, staff: [extra, ...a.staff] }, policy('group'), { policyId: 1 });
    const ids2 = new Set(t2.nodes.map((n) => n.nodeId));
    for (const n of t1.nodes) expect(ids2.has(n.nodeId)).toBe(true);
    expect(t2.rooms.length).toBe(t1.rooms.length + 3);
  });

  it('never puts more than partitionSize members in a partition', () => {
    const t = compileLesson(lesson(1050, 3), policy('group', { partitionSize: 100 }), { policyId: 1 });
    const count = new Map<string, number>();
    for (const p of t.positions) for (const s of p.rooms) count.set(`${s.roomId}/${s.partition}`, (count.get(`${s.roomId}/${s.partition}`) ?? 0) + 1);
    expect(Math.max(...count.values())).toBeLessThanOrEqual(100);
    expect(t.rooms.find((r) => r.roomId === 'main')!.partitions).toBe(11);
  });
});

describe('compile: bad source rows', () => {
  const base = lesson(300, 3);

  it('a student assigned to a tutor who is not on the lesson', () => {
    const bad = { ...base, tutorAssignments: base.tutorAssignments.map((a, i) => (i === 0 ? { ...a, tutorUid: 5 } : a)) };
    expect(codeOf(() => compileLesson(bad, policy('group'), { policyId: 1 }))).toBe('SOURCE_MISSING_TUTOR');
  });

  it('a student in a class the lesson does not have', () => {
    const bad = { ...base, tutorAssignments: base.tutorAssignments.map((a, i) => (i === 0 ? { ...a, classId: 1 } : a)) };
    expect(codeOf(() => compileLesson(bad, policy('small-class'), { policyId: 1 }))).toBe('SOURCE_MISSING_CLASS');
  });

  it('a class belonging to another tutor than the student', () => {
    const other = base.classes.find((c) => c.tutorUid !== base.tutorAssignments[0]!.tutorUid)!;
    const bad = { ...base, tutorAssignments: base.tutorAssignments.map((a, i) => (i === 0 ? { ...a, classId: other.classId } : a)) };
    expect(codeOf(() => compileLesson(bad, policy('small-class'), { policyId: 1 }))).toBe('SOURCE_INCONSISTENT');
  });

  it('a missing wechat group and a missing LPC', () => {
    const g = { ...base, lpcAssignments: base.lpcAssignments.map((a, i) => (i === 0 ? { ...a, wechatGroupId: 3 } : a)) };
    expect(codeOf(() => compileLesson(g, policy('short-training'), { policyId: 1 }))).toBe('SOURCE_MISSING_WECHAT_GROUP');
    const l = { ...base, lpcAssignments: base.lpcAssignments.map((a, i) => (i === 0 ? { ...a, lpcUid: 3 } : a)) };
    expect(codeOf(() => compileLesson(l, policy('conversion'), { policyId: 1 }))).toBe('SOURCE_MISSING_LPC');
  });

  it('a student without any tutor', () => {
    const bad = { ...base, tutorAssignments: base.tutorAssignments.slice(1) };
    expect(codeOf(() => compileLesson(bad, policy('group'), { policyId: 1 }))).toBe('SOURCE_UNASSIGNED_STUDENT');
    // The same lesson compiles under a policy that does not use tutors.
    expect(compileLesson(bad, policy('three-screen'), { policyId: 1 }).counts.positions).toBe(300);
  });

  it('reports how many rows are bad, with examples', () => {
    const bad = { ...base, tutorAssignments: base.tutorAssignments.map((a) => ({ ...a, tutorUid: 5 })) };
    try {
      compileLesson(bad, policy('group'), { policyId: 1 });
      throw new Error('expected failure');
    } catch (e) {
      expect(isOrgError(e, 'SOURCE_MISSING_TUTOR')).toBe(true);
      expect((e as Error).message).toContain('300 bad source row(s)');
    }
  });

  it('refuses a lesson over the student limit', () => {
    expect(codeOf(() => compileLesson(base, policy('group'), { policyId: 1, maxStudents: 299 }))).toBe('LIMIT_EXCEEDED');
  });
});
