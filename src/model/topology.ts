// The compiled form of a lesson: what preload writes to Redis and MySQL and
// what the gateways serve. Ids are strings derived from source ids, so the same
// source always compiles to the same ids and a new tutor never renumbers others.
import type { BizType, GroupPlan, InteractionPlan, OrgPolicy, PreloadMode, StreamPolicy, TutorPhase } from './policy.js';

/** Kinds of org node, one per level of the supported org policies. */
export type NodeKind = 'lesson' | 'tutor' | 'team' | 'group' | 'class' | 'lpc' | 'wechatGroup';
/** Room types: the main (teacher) room and a tutor's room per on-camera phase. */
export type RoomType = 'main' | `tutor_${TutorPhase}`;

/** The lesson as compiled, with the policy essentials a client needs on entering. */
export interface LessonRecord {
  lessonId: number;
  courseId: number;
  title: string;
  teacherUid: number;
  startTime: number;
  endTime: number;
  policyId: number;
  bizType: BizType;
  streamPolicy: StreamPolicy;
  orgPolicy: OrgPolicy;
  preloadMode: PreloadMode;
  partitionSize: number;
  studentCount: number;
  roomCount: number;
  nodeCount: number;
}

/** A live room. */
export interface Room {
  roomId: string;
  virtualRoomId: string;
  lessonId: number;
  rootNodeId: string;
  bizId: number;
  roomType: RoomType;
  teacherUid: number;
  startTime: number;
  endTime: number;
  memberCount: number;
  partitions: number;
}

/** A node of the org tree. `path` lists node ids from the root, e.g. /root/t9/t9.m1/t9.g3. */
export interface OrgNode {
  nodeId: string;
  parentId: string | null;
  rootId: string;
  virtualNodeId: string;
  sourceId: string | null;
  kind: NodeKind;
  path: string;
  depth: number;
  /** Seats (groups, classes); null where the node has no capacity. */
  capacity: number | null;
  /** Students positioned directly at this node by the preload. */
  size: number;
  childIds: string[];
}

/** A student's membership of one room: which partition of the member set holds it. */
export interface RoomSlot {
  roomId: string;
  partition: number;
}

/** A student's position: org node, join order, and rooms. `rooms` arrays are shared between students. */
export interface Position {
  uid: number;
  nodeId: string;
  order: number;
  rooms: readonly RoomSlot[];
}

/** Counts of a compiled lesson, recorded on every preload run. */
export interface TopologyCounts {
  rooms: number;
  nodes: number;
  positions: number;
  roomUsers: number;
  memberPartitions: number;
}

/** The compiled lesson. */
export interface Topology {
  lesson: LessonRecord;
  rooms: Room[];
  nodes: OrgNode[];
  positions: Position[];
  counts: TopologyCounts;
  /** Group sizing used in class (picks, expansion); null unless the org policy has groups. */
  groups: GroupPlan | null;
  /** The policy's interaction timeouts (absent: the global settings). */
  interaction?: InteractionPlan;
}

/** The id of every lesson's root node. */
export const ROOT_NODE_ID = 'root';
/** The id of every lesson's main room. */
export const MAIN_ROOM_ID = 'main';
