// Loads every Lua script in ./lua once per connection with defineCommand, under
// a versioned name. Mutation scripts share helpers: a line "-- @include f.lua"
// is replaced by that file's text before the script is defined. Their small
// return codes become typed errors in replyCodes.ts. Only store repositories
// call scripts, through scriptCommand(), never by a name typed out.
import { readFileSync } from 'node:fs';
import type { ClientContext, Cluster, Redis, Result } from 'ioredis';

/** Bumped when any script's contract changes, so old and new code never share a name. */
export const SCRIPT_VERSION = 1;

/**
 * Each script: its file, the number of KEYS it takes, and `buffer` when its
 * callers take the reply as Buffers (msgpack blobs) rather than strings.
 */
export const SCRIPTS = {
  beginPreload: { file: 'begin_preload.lua', keys: 3 },
  switchVersion: { file: 'switch_version.lua', keys: 2 },
  endPreload: { file: 'end_preload.lua', keys: 2 },
  readLesson: { file: 'read_lesson.lua', keys: 1, buffer: true },
  readRoom: { file: 'read_room.lua', keys: 1, buffer: true },
  readPosition: { file: 'read_position.lua', keys: 1, buffer: true },
  enter: { file: 'enter.lua', keys: 1, buffer: true },
  readNodeView: { file: 'read_node_view.lua', keys: 1, buffer: true },
  readMembersPage: { file: 'read_members_page.lua', keys: 1 },
  readOnline: { file: 'read_online.lua', keys: 1 },
  publishSignal: { file: 'publish_signal.lua', keys: 5 },
  readSignals: { file: 'read_signals.lua', keys: 3 },
  moveStudents: { file: 'move_students.lua', keys: 1, buffer: true },
  changeLesson: { file: 'change_lesson.lua', keys: 1, buffer: true },
  checkSlot: { file: 'check_slot.lua', keys: 1 },
  pickGroup: { file: 'pick_group.lua', keys: 8 },
  mute: { file: 'mute.lua', keys: 5 },
  signIn: { file: 'sign_in.lua', keys: 4 },
  heartbeat: { file: 'heartbeat.lua', keys: 3 },
  wbAck: { file: 'wb_ack.lua', keys: 1 },
  wbRetire: { file: 'wb_retire.lua', keys: 1 },
  wbForget: { file: 'wb_forget.lua', keys: 1 },
  wbRejournal: { file: 'wb_rejournal.lua', keys: 3 },
} as const;

/** The name of a script in SCRIPTS. */
export type ScriptName = keyof typeof SCRIPTS;

type Arg = string | number | Buffer;

/** Each script's arguments (KEYS, then ARGV) and its reply, as ioredis passes and returns them. */
interface ScriptSignatures {
  beginPreload: {
    args: [head: string, lock: string, vseq: string, token: string, lockMs: number, runId: number, now: number, ttl: number, takeOverPrefix?: string, jobKey?: string];
    reply: [code: number, version: number, changeSeq: number, takenOverVersion: number, takenOverRunId: number];
  };
  switchVersion: {
    args: [head: string, lock: string, version: number, token: string, runId: number, now: number, ttl: number, channel: string, changeSeq?: number | ''];
    reply: [code: number, previousVersion: number];
  };
  endPreload: { args: [head: string, lock: string, token: string, failed: 0 | 1, now: number]; reply: number };
  readLesson: { args: [head: string]; reply: unknown[] };
  readRoom: { args: [head: string, roomId: Arg]; reply: unknown[] };
  readPosition: { args: [head: string, uid: Arg]; reply: unknown[] };
  enter: { args: [head: string, uid: number, roomId: string, haveVersion: number]; reply: unknown[] };
  readNodeView: { args: [head: string, nodeId: string]; reply: unknown[] };
  readMembersPage: { args: [head: string, roomId: string, partition: number, after: string, limit: number, onePartition: '0' | '1']; reply: unknown[] };
  readOnline: { args: [head: string, roomId: string, since: number]; reply: unknown[] };
  publishSignal: {
    args: [
      head: string, seqKey: string, zsetKey: string, ver: string, stream: string,
      roomId: string, payload: string, by: number, now: number, retain: number, ttl: number, channel: string, maxBytes: number, maxStream: number,
    ];
    reply: unknown[];
  };
  readSignals: { args: [head: string, seqKey: string, zsetKey: string, roomId: string, after: number, limit: number]; reply: unknown[] };
  moveStudents: { args: [head: string, now: number, ttl: number, groupCapacity: number, groupsPerTeam: number, phases: string, ...triples: Arg[]]; reply: unknown[] };
  changeLesson: { args: [head: string, now: number, teacherUid: string, startTime: string, endTime: string, beforeMs: number, afterMs: number]; reply: unknown[] };
  checkSlot: { args: [key: string, action: 'acquire' | 'release', holder: string, now: number, leaseMs: number, max: number]; reply: [granted: number, holders: number] };
  pickGroup: {
    args: [
      head: string, group: string, seats: string, dyn: string, dynKids: string, dynSeq: string, ver: string, stream: string,
      uid: Arg, groupId: Arg, now: number, maxStream: number, maxDynamic: number, ttl: number, channel: string, lessonId: number,
    ];
    reply: Array<number | string>;
  };
  mute: {
    args: [
      head: string, muted: string, mutedNodes: string, ver: string, stream: string,
      roomId: Arg, kind: 'u' | 'n', target: Arg, on: '1' | '0', now: number, maxStream: number, ttl: number, channel: string,
    ];
    reply: Array<number | string>;
  };
  signIn: { args: [head: string, signIn: string, ver: string, stream: string, uid: Arg, now: number, maxStream: number, ttl: number, channel: string]; reply: Array<number | string> };
  heartbeat: { args: [head: string, ver: string, stream: string, uid: Arg, roomId: Arg, now: number, windowMs: number, maxStream: number, ttl: number]; reply: Array<number | string> };
  wbAck: { args: [stream: string, group: string, ...ids: string[]]; reply: number };
  wbRetire: { args: [stream: string]; reply: number };
  wbForget: { args: [registry: string, lessonId: Arg, score: string]; reply: number };
  wbRejournal: {
    args: [
      stateKey: string, ver: string, stream: string,
      entity: string, now: number, minVersion: string, maxStream: number, ttl: number, roomId: string, partition: string, ...keys: string[],
    ];
    reply: Array<number | string>;
  };
}

/** The command defineScripts registers a script under: oe<Name><SCRIPT_VERSION>. */
type DefinedName<N extends ScriptName> = `oe${Capitalize<N>}${typeof SCRIPT_VERSION}`;

/** The client method a script is called through: its defined name, with ioredis' `Buffer` suffix for Buffer replies. */
export type ScriptCommand<N extends ScriptName> = (typeof SCRIPTS)[N] extends { buffer: true } ? `${DefinedName<N>}Buffer` : DefinedName<N>;

/** The script methods defineScripts adds to a client, typed from ScriptSignatures. */
type ScriptMethods<Context extends ClientContext> = {
  [N in ScriptName as ScriptCommand<N>]: (...args: ScriptSignatures[N]['args']) => Result<ScriptSignatures[N]['reply'], Context>;
};

declare module 'ioredis' {
  // Every name and signature comes from SCRIPTS, SCRIPT_VERSION and ScriptSignatures above.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface RedisCommander<Context extends ClientContext> extends ScriptMethods<Context> {}
}

const definedName = (name: ScriptName): string => `oe${name[0]!.toUpperCase()}${name.slice(1)}${SCRIPT_VERSION}`;

/**
 * The client method that runs script `name`. Store repositories compute it once
 * per module and call `redis[CMD](...)`, so bumping SCRIPT_VERSION renames
 * every call with it.
 */
export function scriptCommand<N extends ScriptName>(name: N): ScriptCommand<N> {
  return `${definedName(name)}${'buffer' in SCRIPTS[name] ? 'Buffer' : ''}` as ScriptCommand<N>;
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
    client.defineCommand(definedName(name as ScriptName), { numberOfKeys: spec.keys, lua: scriptSource(spec.file) });
  }
}
