// Loads every Lua script in ./lua once per connection with defineCommand, under
// a versioned name. Mutation scripts share helpers: a line "-- @include f.lua"
// is replaced by that file's text before the script is defined. Their small
// return codes become typed errors in mutationCodes.ts.
import { readFileSync } from 'node:fs';
import type { Cluster, Redis, Result } from 'ioredis';

/** Bumped when any script's contract changes, so old and new code never share a name. */
export const SCRIPT_VERSION = 1;

/** Each script: its file and the number of KEYS it takes. */
export const SCRIPTS = {
  beginPreload: { file: 'begin_preload.lua', keys: 3 },
  switchVersion: { file: 'switch_version.lua', keys: 2 },
  endPreload: { file: 'end_preload.lua', keys: 2 },
  readLesson: { file: 'read_lesson.lua', keys: 1 },
  readRoom: { file: 'read_room.lua', keys: 1 },
  readPosition: { file: 'read_position.lua', keys: 1 },
  enter: { file: 'enter.lua', keys: 1 },
  readNodeView: { file: 'read_node_view.lua', keys: 1 },
  readMembersPage: { file: 'read_members_page.lua', keys: 1 },
  readOnline: { file: 'read_online.lua', keys: 1 },
  publishSignal: { file: 'publish_signal.lua', keys: 5 },
  readSignals: { file: 'read_signals.lua', keys: 3 },
  moveStudents: { file: 'move_students.lua', keys: 1 },
  changeLesson: { file: 'change_lesson.lua', keys: 1 },
  checkSlot: { file: 'check_slot.lua', keys: 1 },
  pickGroup: { file: 'pick_group.lua', keys: 8 },
  mute: { file: 'mute.lua', keys: 5 },
  signIn: { file: 'sign_in.lua', keys: 4 },
  heartbeat: { file: 'heartbeat.lua', keys: 3 },
  wbAck: { file: 'wb_ack.lua', keys: 1 },
  wbRetire: { file: 'wb_retire.lua', keys: 1 },
  wbForget: { file: 'wb_forget.lua', keys: 1 },
  wbRejournal: { file: 'wb_rejournal.lua', keys: 3 },
  wsPresence: { file: 'ws_presence.lua', keys: 1 },
} as const;

type Arg = string | number | Buffer;

// The script commands as they appear on a client (names carry SCRIPT_VERSION).
declare module 'ioredis' {
  interface RedisCommander<Context> {
    oeBeginPreload1(
      head: string,
      lock: string,
      vseq: string,
      token: string,
      lockMs: number,
      runId: number,
      now: number,
      ttl: number,
      takeOverPrefix?: string,
      jobKey?: string,
    ): Result<[code: number, version: number, changeSeq: number, takenOverVersion: number, takenOverRunId: number], Context>;
    oeSwitchVersion1(
      head: string,
      lock: string,
      version: number,
      token: string,
      runId: number,
      now: number,
      ttl: number,
      channel: string,
      changeSeq?: number | '',
    ): Result<[number, number], Context>;
    oeEndPreload1(head: string, lock: string, token: string, failed: 0 | 1, now: number): Result<number, Context>;
    oeReadLesson1Buffer(head: string): Result<unknown[], Context>;
    oeReadRoom1Buffer(head: string, roomId: Arg): Result<unknown[], Context>;
    oeReadPosition1Buffer(head: string, uid: Arg): Result<unknown[], Context>;
    oeEnter1Buffer(head: string, uid: number, roomId: string, haveVersion: number): Result<unknown[], Context>;
    oeReadNodeView1Buffer(head: string, nodeId: string): Result<unknown[], Context>;
    oeReadMembersPage1(head: string, roomId: string, partition: number, after: string, limit: number, onePartition: '0' | '1'): Result<unknown[], Context>;
    oeReadOnline1(head: string, roomId: string, since: number): Result<unknown[], Context>;
    oePublishSignal1(
      head: string, seqKey: string, zsetKey: string, ver: string, stream: string,
      roomId: string, payload: string, by: number, now: number, retain: number, ttl: number, channel: string, maxBytes: number, maxStream: number,
    ): Result<unknown[], Context>;
    oeReadSignals1(head: string, seqKey: string, zsetKey: string, roomId: string, after: number, limit: number): Result<unknown[], Context>;
    oeMoveStudents1Buffer(head: string, now: number, ttl: number, groupCapacity: number, groupsPerTeam: number, phases: string, ...triples: Arg[]): Result<unknown[], Context>;
    oeChangeLesson1Buffer(head: string, now: number, teacherUid: string, startTime: string, endTime: string, beforeMs: number, afterMs: number): Result<unknown[], Context>;
    oeCheckSlot1(key: string, action: 'acquire' | 'release', holder: string, now: number, leaseMs: number, max: number): Result<[number, number], Context>;
    oePickGroup1(
      head: string, group: string, seats: string, dyn: string, dynKids: string, dynSeq: string, ver: string, stream: string,
      uid: Arg, groupId: Arg, now: number, maxStream: number, maxDynamic: number, ttl: number, channel: string, lessonId: number,
    ): Result<Array<number | string>, Context>;
    oeMute1(
      head: string, muted: string, mutedNodes: string, ver: string, stream: string,
      roomId: Arg, kind: 'u' | 'n', target: Arg, on: '1' | '0', now: number, maxStream: number, ttl: number, channel: string,
    ): Result<Array<number | string>, Context>;
    oeSignIn1(head: string, signIn: string, ver: string, stream: string, uid: Arg, now: number, maxStream: number, ttl: number, channel: string): Result<Array<number | string>, Context>;
    oeHeartbeat1(head: string, ver: string, stream: string, uid: Arg, roomId: Arg, now: number, windowMs: number, maxStream: number, ttl: number): Result<Array<number | string>, Context>;
    oeWsPresence1(head: string, now: number, windowMs: number, ttl: number, ...groups: Arg[]): Result<number, Context>;
    oeWbAck1(stream: string, group: string, ...ids: string[]): Result<number, Context>;
    oeWbRetire1(stream: string): Result<number, Context>;
    oeWbForget1(registry: string, lessonId: Arg, score: string): Result<number, Context>;
    oeWbRejournal1(
      stateKey: string, ver: string, stream: string,
      entity: string, now: number, minVersion: string, maxStream: number, ttl: number, roomId: string, partition: string, ...keys: string[]
    ): Result<Array<number | string>, Context>;
  }
}

const luaDir = new URL('./lua/', import.meta.url);
const sources = new Map<string, string>();

const INCLUDE = /^-- @include ([a-z_]+\.lua)$/m;

/** The text of a script file with its includes inlined (cached). */
export function scriptSource(file: string): string {
  let s = sources.get(file);
  if (s === undefined) {
    s = readFileSync(new URL(file, luaDir), 'utf8');
    for (let m = INCLUDE.exec(s); m; m = INCLUDE.exec(s)) {
      const inc = m[1]!;
      if (inc === file) throw new Error(`${file} includes itself`);
      // Splice at the matched line: a plain string replace would hit the first
      // mention of the same text, which may sit in an already inlined comment.
      s = s.slice(0, m.index) + scriptSource(inc) + s.slice(m.index + m[0].length);
    }
    sources.set(file, s);
  }
  return s;
}

/** Defines every script on a client as oe<Name><SCRIPT_VERSION>. */
export function defineScripts(client: Redis | Cluster): void {
  for (const [name, spec] of Object.entries(SCRIPTS)) {
    const cmd = `oe${name[0]!.toUpperCase()}${name.slice(1)}${SCRIPT_VERSION}`;
    client.defineCommand(cmd, { numberOfKeys: spec.keys, lua: scriptSource(spec.file) });
  }
}
