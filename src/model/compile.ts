// (lesson source, policy) -> topology. Pure and deterministic: the same inputs
// always give the same ids, rooms, nodes and positions, whatever the row order.
import { OrgError, type ErrorCode } from '../errors.js';
import type { PolicyConf, TutorPhase } from './policy.js';
import type { LessonSource, LessonStaff } from './source.js';
import {
  MAIN_ROOM_ID,
  ROOT_NODE_ID,
  type OrgNode,
  type Position,
  type Room,
  type RoomSlot,
  type Topology,
} from './topology.js';

/** Options of the compile step. */
export interface CompileOptions {
  policyId: number;
  /** More enrolments than this are refused with LIMIT_EXCEEDED. */
  maxStudents?: number;
}

const MAX_REPORTED = 5;
const MINUTE = 60_000;

/** Node id helpers: derived from source ids so they are stable across re-runs. */
export const nodeIds = {
  tutor: (uid: number) => `t${uid}`,
  team: (tutorUid: number, k: number) => `t${tutorUid}.m${k}`,
  group: (tutorUid: number, k: number) => `t${tutorUid}.g${k}`,
  class: (classId: number) => `c${classId}`,
  lpc: (uid: number) => `p${uid}`,
  wechatGroup: (groupId: number) => `w${groupId}`,
};

/** Room id of a tutor's room in one phase. */
export function tutorRoomId(tutorUid: number, phase: TutorPhase): string {
  return `t${tutorUid}.${phase}`;
}

/** Collects source problems by code so one error can report all of them. */
class SourceProblems {
  private readonly byCode = new Map<ErrorCode, string[]>();
  add(code: ErrorCode, what: string): void {
    let list = this.byCode.get(code);
    if (!list) this.byCode.set(code, (list = []));
    list.push(what);
  }
  throwIfAny(lessonId: number): void {
    const first = this.byCode.entries().next();
    if (first.done) return;
    const [code, list] = first.value;
    const all = [...this.byCode.entries()].map(([c, l]) => ({ code: c, count: l.length, examples: l.slice(0, MAX_REPORTED) }));
    const shown = list.slice(0, MAX_REPORTED).join('; ');
    const more = list.length > MAX_REPORTED ? ` (and ${list.length - MAX_REPORTED} more)` : '';
    throw new OrgError(code, `lesson ${lessonId}: ${list.length} bad source row(s): ${shown}${more}`, { problems: all });
  }
}

/** Compiles one lesson. Throws OrgError (SOURCE_*, LIMIT_EXCEEDED) on bad source data. */
export function compileLesson(src: LessonSource, conf: PolicyConf, opts: CompileOptions): Topology {
  const { lesson } = src;
  const lessonId = lesson.lessonId;
  const maxStudents = opts.maxStudents ?? Number.POSITIVE_INFINITY;
  if (src.enrolments.length > maxStudents) {
    throw new OrgError('LIMIT_EXCEEDED', `lesson ${lessonId}: ${src.enrolments.length} enrolments exceed the limit of ${maxStudents}`);
  }
  const problems = new SourceProblems();

  // Canonical orders so the output never depends on how rows were read.
  const tutors = src.staff.filter((s) => s.role === 'tutor').sort((a, b) => a.uid - b.uid);
  const lpcs = src.staff.filter((s) => s.role === 'lpc').sort((a, b) => a.uid - b.uid);
  const tutorByUid = new Map<number, LessonStaff>(tutors.map((t) => [t.uid, t]));
  const lpcByUid = new Map<number, LessonStaff>(lpcs.map((l) => [l.uid, l]));
  const enrolments = [...src.enrolments].sort((a, b) => a.enrolledAt - b.enrolledAt || a.studentUid - b.studentUid);
  const enrolled = new Set<number>();
  for (const e of enrolments) {
    if (enrolled.has(e.studentUid)) problems.add('SOURCE_INCONSISTENT', `student ${e.studentUid} enrolled twice`);
    enrolled.add(e.studentUid);
  }

  // Students with an assignment row at all, valid or not: a bad row is reported
  // once as what it is, not a second time as "unassigned".
  const hasTutorRow = new Set<number>();
  const hasLpcRow = new Set<number>();
  const tutorOf = new Map<number, LessonSource['tutorAssignments'][number]>();
  for (const a of src.tutorAssignments) {
    if (!enrolled.has(a.studentUid)) continue; // assignments of students not in this lesson are noise
    hasTutorRow.add(a.studentUid);
    if (!tutorByUid.has(a.tutorUid)) {
      problems.add('SOURCE_MISSING_TUTOR', `student ${a.studentUid} assigned to tutor ${a.tutorUid}, who is not a tutor of the lesson`);
      continue;
    }
    tutorOf.set(a.studentUid, a);
  }
  const lpcOf = new Map<number, LessonSource['lpcAssignments'][number]>();
  for (const a of src.lpcAssignments) {
    if (!enrolled.has(a.studentUid)) continue;
    hasLpcRow.add(a.studentUid);
    if (!lpcByUid.has(a.lpcUid)) {
      problems.add('SOURCE_MISSING_LPC', `student ${a.studentUid} assigned to LPC ${a.lpcUid}, who is not an LPC of the lesson`);
      continue;
    }
    lpcOf.set(a.studentUid, a);
  }

  // ---- org tree ----
  const nodes: OrgNode[] = [];
  const nodeById = new Map<string, OrgNode>();
  const addNode = (n: Omit<OrgNode, 'rootId' | 'virtualNodeId' | 'path' | 'depth' | 'size' | 'childIds'>): OrgNode => {
    const parent = n.parentId === null ? undefined : nodeById.get(n.parentId);
    const node: OrgNode = {
      ...n,
      rootId: ROOT_NODE_ID,
      virtualNodeId: `${lessonId}:${n.nodeId}`,
      path: parent ? `${parent.path}/${n.nodeId}` : `/${n.nodeId}`,
      depth: parent ? parent.depth + 1 : 0,
      size: 0,
      childIds: [],
    };
    parent?.childIds.push(node.nodeId);
    nodes.push(node);
    nodeById.set(node.nodeId, node);
    return node;
  };
  addNode({ nodeId: ROOT_NODE_ID, parentId: null, sourceId: String(lessonId), kind: 'lesson', capacity: null });

  // nodeOf: uid -> node id the student is placed at by the preload.
  const nodeOf = new Map<number, string>();
  const org = conf.orgPolicy;
  if (org === '/lesson') {
    for (const e of enrolments) nodeOf.set(e.studentUid, ROOT_NODE_ID);
  } else if (org === '/lesson/tutor/team/group' || org === '/lesson/tutor/class') {
    const studentsPerTutor = new Map<number, number>();
    for (const e of enrolments) {
      const a = tutorOf.get(e.studentUid);
      if (!a) {
        if (!hasTutorRow.has(e.studentUid)) problems.add('SOURCE_UNASSIGNED_STUDENT', `student ${e.studentUid} has no tutor`);
        continue;
      }
      studentsPerTutor.set(a.tutorUid, (studentsPerTutor.get(a.tutorUid) ?? 0) + 1);
    }
    const classesByTutor = new Map<number, typeof src.classes>();
    const classById = new Map<number, (typeof src.classes)[number]>();
    if (org === '/lesson/tutor/class') {
      for (const c of [...src.classes].sort((a, b) => a.classId - b.classId)) {
        if (!tutorByUid.has(c.tutorUid)) {
          problems.add('SOURCE_MISSING_TUTOR', `class ${c.classId} belongs to tutor ${c.tutorUid}, who is not a tutor of the lesson`);
          continue;
        }
        classById.set(c.classId, c);
        const list = classesByTutor.get(c.tutorUid) ?? [];
        list.push(c);
        classesByTutor.set(c.tutorUid, list);
      }
    }
    for (const t of tutors) {
      const tn = addNode({ nodeId: nodeIds.tutor(t.uid), parentId: ROOT_NODE_ID, sourceId: String(t.uid), kind: 'tutor', capacity: null });
      if (org === '/lesson/tutor/team/group') {
        // Groups are filled by students picking in class; preload creates enough
        // seats for every assigned student, teams of `groupsPerTeam` groups each.
        const { groupCapacity, groupsPerTeam } = conf.groups;
        const groupCount = Math.ceil((studentsPerTutor.get(t.uid) ?? 0) / groupCapacity);
        for (let g = 1; g <= groupCount; g++) {
          const team = Math.ceil(g / groupsPerTeam);
          if ((g - 1) % groupsPerTeam === 0) {
            addNode({ nodeId: nodeIds.team(t.uid, team), parentId: tn.nodeId, sourceId: null, kind: 'team', capacity: null });
          }
          addNode({ nodeId: nodeIds.group(t.uid, g), parentId: nodeIds.team(t.uid, team), sourceId: null, kind: 'group', capacity: groupCapacity });
        }
      } else {
        for (const c of classesByTutor.get(t.uid) ?? []) {
          addNode({ nodeId: nodeIds.class(c.classId), parentId: tn.nodeId, sourceId: String(c.classId), kind: 'class', capacity: c.capacity });
        }
      }
    }
    for (const e of enrolments) {
      const a = tutorOf.get(e.studentUid);
      if (!a) continue;
      if (org === '/lesson/tutor/team/group') {
        nodeOf.set(e.studentUid, nodeIds.tutor(a.tutorUid));
      } else if (a.classId === null) {
        problems.add('SOURCE_UNASSIGNED_STUDENT', `student ${e.studentUid} has no class`);
      } else {
        const c = classById.get(a.classId);
        if (!c) problems.add('SOURCE_MISSING_CLASS', `student ${e.studentUid} assigned to class ${a.classId}, which the lesson does not have`);
        else if (c.tutorUid !== a.tutorUid) {
          problems.add('SOURCE_INCONSISTENT', `student ${e.studentUid} has tutor ${a.tutorUid} but class ${c.classId} belongs to tutor ${c.tutorUid}`);
        } else nodeOf.set(e.studentUid, nodeIds.class(c.classId));
      }
    }
  } else {
    // '/lesson/lpc' and '/lesson/lpc/wechatGroup'
    const withGroups = org === '/lesson/lpc/wechatGroup';
    const groupById = new Map<number, (typeof src.wechatGroups)[number]>();
    const groupsByLpc = new Map<number, typeof src.wechatGroups>();
    if (withGroups) {
      for (const g of [...src.wechatGroups].sort((a, b) => a.groupId - b.groupId)) {
        if (!lpcByUid.has(g.lpcUid)) {
          problems.add('SOURCE_MISSING_LPC', `wechat group ${g.groupId} belongs to LPC ${g.lpcUid}, who is not an LPC of the lesson`);
          continue;
        }
        groupById.set(g.groupId, g);
        const list = groupsByLpc.get(g.lpcUid) ?? [];
        list.push(g);
        groupsByLpc.set(g.lpcUid, list);
      }
    }
    for (const l of lpcs) {
      const ln = addNode({ nodeId: nodeIds.lpc(l.uid), parentId: ROOT_NODE_ID, sourceId: String(l.uid), kind: 'lpc', capacity: null });
      for (const g of groupsByLpc.get(l.uid) ?? []) {
        addNode({ nodeId: nodeIds.wechatGroup(g.groupId), parentId: ln.nodeId, sourceId: String(g.groupId), kind: 'wechatGroup', capacity: null });
      }
    }
    for (const e of enrolments) {
      const a = lpcOf.get(e.studentUid);
      if (!a) {
        if (!hasLpcRow.has(e.studentUid)) problems.add('SOURCE_UNASSIGNED_STUDENT', `student ${e.studentUid} has no LPC`);
        continue;
      }
      if (!withGroups) {
        nodeOf.set(e.studentUid, nodeIds.lpc(a.lpcUid));
      } else if (a.wechatGroupId === null) {
        problems.add('SOURCE_UNASSIGNED_STUDENT', `student ${e.studentUid} has no wechat group`);
      } else {
        const g = groupById.get(a.wechatGroupId);
        if (!g) problems.add('SOURCE_MISSING_WECHAT_GROUP', `student ${e.studentUid} assigned to wechat group ${a.wechatGroupId}, which the lesson does not have`);
        else if (g.lpcUid !== a.lpcUid) {
          problems.add('SOURCE_INCONSISTENT', `student ${e.studentUid} has LPC ${a.lpcUid} but wechat group ${g.groupId} belongs to LPC ${g.lpcUid}`);
        } else nodeOf.set(e.studentUid, nodeIds.wechatGroup(g.groupId));
      }
    }
  }
  problems.throwIfAny(lessonId);

  // ---- rooms ----
  const hasTutorLevel = org.startsWith('/lesson/tutor');
  const onCamera = conf.rooms.tutorOnCamera.length > 0 ? tutors.filter((t) => t.onCamera) : [];
  const rooms: Room[] = [];
  const room = (r: Omit<Room, 'virtualRoomId' | 'lessonId' | 'bizId' | 'memberCount' | 'partitions'>): Room => {
    const full: Room = { ...r, virtualRoomId: `${lessonId}:${r.roomId}`, lessonId, bizId: lesson.courseId, memberCount: 0, partitions: 0 };
    rooms.push(full);
    return full;
  };
  const mainRoom = room({
    roomId: MAIN_ROOM_ID,
    rootNodeId: ROOT_NODE_ID,
    roomType: 'main',
    teacherUid: lesson.teacherUid,
    startTime: lesson.startTime,
    endTime: lesson.endTime,
  });
  const tutorRooms = new Map<number, Room[]>();
  for (const t of onCamera) {
    const list: Room[] = [];
    for (const phase of conf.rooms.tutorOnCamera) {
      const [startTime, endTime] =
        phase === 'before'
          ? [lesson.startTime - conf.rooms.beforeMinutes * MINUTE, lesson.startTime]
          : phase === 'in'
            ? [lesson.startTime, lesson.endTime]
            : [lesson.endTime, lesson.endTime + conf.rooms.afterMinutes * MINUTE];
      list.push(
        room({
          roomId: tutorRoomId(t.uid, phase),
          rootNodeId: hasTutorLevel ? nodeIds.tutor(t.uid) : ROOT_NODE_ID,
          roomType: `tutor_${phase}`,
          teacherUid: t.uid,
          startTime,
          endTime,
        }),
      );
    }
    tutorRooms.set(t.uid, list);
  }

  // ---- positions and member partitions ----
  // A student's tutor rooms share one member list, so the partition in each is the
  // same; room-slot arrays are shared by every student with the same combination.
  const size = conf.partitionSize;
  const slotArrays = new Map<string, readonly RoomSlot[]>();
  const tutorRoomCount = new Map<number, number>();
  const positions: Position[] = [];
  let roomUsers = 0;
  let order = 0;
  for (const e of enrolments) {
    const nodeId = nodeOf.get(e.studentUid);
    if (nodeId === undefined) continue; // cannot happen after throwIfAny, kept for the type
    order++;
    const mainPart = Math.floor(mainRoom.memberCount / size);
    mainRoom.memberCount++;
    const tutorUid = tutorOf.get(e.studentUid)?.tutorUid;
    const trs = tutorUid === undefined ? undefined : tutorRooms.get(tutorUid);
    let tutorPart = -1;
    if (trs && tutorUid !== undefined) {
      const seen = tutorRoomCount.get(tutorUid) ?? 0;
      tutorPart = Math.floor(seen / size);
      tutorRoomCount.set(tutorUid, seen + 1);
      for (const r of trs) r.memberCount++;
    }
    const key = `${mainPart}|${trs ? tutorUid : ''}|${tutorPart}`;
    let slots = slotArrays.get(key);
    if (!slots) {
      const list: RoomSlot[] = [{ roomId: MAIN_ROOM_ID, partition: mainPart }];
      for (const r of trs ?? []) list.push({ roomId: r.roomId, partition: tutorPart });
      slots = Object.freeze(list);
      slotArrays.set(key, slots);
    }
    roomUsers += slots.length;
    positions.push({ uid: e.studentUid, nodeId, order, rooms: slots });
    nodeById.get(nodeId)!.size++;
  }
  let memberPartitions = 0;
  for (const r of rooms) {
    r.partitions = Math.ceil(r.memberCount / size);
    memberPartitions += r.partitions;
  }

  return {
    lesson: {
      lessonId,
      courseId: lesson.courseId,
      title: lesson.title,
      teacherUid: lesson.teacherUid,
      startTime: lesson.startTime,
      endTime: lesson.endTime,
      policyId: opts.policyId,
      bizType: conf.bizType,
      streamPolicy: conf.streamPolicy,
      orgPolicy: conf.orgPolicy,
      preloadMode: conf.preloadMode,
      partitionSize: size,
      studentCount: positions.length,
      roomCount: rooms.length,
      nodeCount: nodes.length,
    },
    rooms,
    nodes,
    positions,
    counts: { rooms: rooms.length, nodes: nodes.length, positions: positions.length, roomUsers, memberPartitions },
    groups: org === '/lesson/tutor/team/group' ? { ...conf.groups } : null,
    ...(conf.interaction ? { interaction: { ...conf.interaction } } : {}),
  };
}
