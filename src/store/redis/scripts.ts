// Loads every Lua script in ./lua once per connection with defineCommand, under
// a versioned name. Scripts share helpers: a line "-- @include f.lua" is
// replaced by that file's text, "-- @inline" helpers are expanded at their
// calls and unused helpers dropped, before the script is defined. Their small
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
  readEnterShared: { file: 'read_enter_shared.lua', keys: 1, buffer: true },
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
  wsPresence: { file: 'ws_presence.lua', keys: 1 },
  wbRestore: { file: 'wb_restore.lua', keys: 4 },
  revoke: { file: 'revoke.lua', keys: 1 },
  award: { file: 'award.lua', keys: 4 },
  pkStart: { file: 'pk_start.lua', keys: 3 },
  pkEnd: { file: 'pk_end.lua', keys: 3 },
  readScores: { file: 'read_scores.lua', keys: 1 },
  iaCreate: { file: 'ia_create.lua', keys: 1 },
  iaLink: { file: 'ia_link.lua', keys: 1 },
  iaEnd: { file: 'ia_end.lua', keys: 1 },
  iaRtc: { file: 'ia_rtc.lua', keys: 1 },
  iaExpire: { file: 'ia_expire.lua', keys: 1 },
  iaRtcCheck: { file: 'ia_rtc_check.lua', keys: 1 },
  iaInfo: { file: 'ia_info.lua', keys: 1 },
  iaAdmin: { file: 'ia_admin.lua', keys: 1 },
  iaRejournal: { file: 'ia_rejournal.lua', keys: 1 },
  iaSeat: { file: 'ia_seat.lua', keys: 1 },
} as const;

/** The name of a script in SCRIPTS. */
export type ScriptName = keyof typeof SCRIPTS;

type Arg = string | number | Buffer;
type Flag = '0' | '1';

/**
 * Each script's arguments (KEYS, then ARGV) and its reply, as ioredis passes and returns them.
 * `trace`: the caller's trace stamp (model/trace.ts currentTraceStamp), stamped on the
 * write-behind records the script appends; '' or absent when untraced.
 */
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
  enter: { args: [head: string, uid: number, roomId: string, haveVersion: number, haveChangeSeq: string, posBuckets: number, fingerprint: string]; reply: unknown[] };
  readEnterShared: { args: [head: string]; reply: unknown[] };
  readNodeView: { args: [head: string, nodeId: string]; reply: unknown[] };
  readMembersPage: { args: [head: string, roomId: string, partition: number, after: string, limit: number, onePartition: '0' | '1']; reply: unknown[] };
  readOnline: { args: [head: string, roomId: string, since: number]; reply: unknown[] };
  publishSignal: {
    args: [
      head: string, seqKey: string, zsetKey: string, ver: string, stream: string,
      roomId: string, payload: string, by: number, now: number, retain: number, ttl: number, channel: string, maxBytes: number, maxStream: number, trace?: string,
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
      uid: Arg, groupId: Arg, now: number, maxStream: number, maxDynamic: number, ttl: number, channel: string, lessonId: number, trace?: string,
    ];
    reply: Array<number | string>;
  };
  mute: {
    args: [
      head: string, muted: string, mutedNodes: string, ver: string, stream: string,
      roomId: Arg, kind: 'u' | 'n', target: Arg, on: '1' | '0', now: number, maxStream: number, ttl: number, channel: string, trace?: string,
    ];
    reply: Array<number | string>;
  };
  signIn: { args: [head: string, signIn: string, ver: string, stream: string, uid: Arg, now: number, maxStream: number, ttl: number, channel: string, trace?: string]; reply: Array<number | string> };
  heartbeat: { args: [head: string, ver: string, stream: string, uid: Arg, roomId: Arg, now: number, windowMs: number, maxStream: number, ttl: number, trace?: string]; reply: Array<number | string> };
  wbAck: { args: [stream: string, group: string, ...ids: string[]]; reply: number };
  wbRetire: { args: [stream: string]; reply: number };
  wbForget: { args: [registry: string, lessonId: Arg, score: string]; reply: number };
  wsPresence: { args: [head: string, now: number, windowMs: number, ttl: number, ...groups: Arg[]]; reply: number };
  revoke: { args: [revocations: string, field: string, before: number, keepSeconds: number, channel: string]; reply: number };
  wbRestore: { args: [stateKey: string, seats: string, ver: string, channel: string, entity: string, minVersion: string, ttl: number, ...pairs: string[]]; reply: [code: number, changed: number] };
  award: {
    args: [
      head: string, idem: string, ver: string, stream: string,
      key: string, roomId: string, sessionId: string, target: 'u' | 'n', who: string, seatId: string, seatSide: string,
      kind: string, points: number, now: number, by: number, roundId: string, maxStream: number, ttl: number, noticeMs: number, channel: string, trace?: string,
    ];
    reply: Array<number | string>;
  };
  pkStart: {
    args: [
      head: string, ver: string, stream: string,
      scope: string, roomId: string, kind: 'node' | 'seat', a: string, b: string, now: number, durationMs: number, by: number, maxStream: number, ttl: number, channel: string, trace?: string,
    ];
    reply: Array<number | string>;
  };
  pkEnd: { args: [pk: string, ver: string, stream: string, roundId: string, now: number, maxStream: number, ttl: number, channel: string, scope: string, by: number, trace?: string]; reply: Array<number | string> };
  readScores: { args: [head: string, what: 'room' | 'lesson' | 'node' | 'student' | 'pk', id: string, n: string | number]; reply: Array<number | string> };
  iaCreate: {
    args: [
      head: string, roomId: string, kind: string, capacity: number, channelId: string, invitee: string, creator: string, admin: Flag, tutor: Flag, service: Flag,
      masks: string, now: number, inviteMs: number, connectMs: number, maxStream: number, ttl: number, maxSessionsPerRoom: number, maxPending: number, channelPrefix: string,
      templateId: string, seatSpec: string, trace?: string,
    ];
    reply: unknown[];
  };
  iaLink: {
    args: [
      head: string, op: string, sessionId: string, uid: string, caller: string, admin: Flag, tutor: Flag, service: Flag, masks: string,
      now: number, inviteMs: number, connectMs: number, maxStream: number, ttl: number, maxPending: number, trace?: string,
    ];
    reply: unknown[];
  };
  iaEnd: { args: [head: string, sessionId: string, caller: string, admin: Flag, tutor: Flag, service: Flag, masks: string, now: number, maxStream: number, ttl: number, trace?: string]; reply: unknown[] };
  iaRtc: {
    args: [head: string, channelId: string, uid: string, event: string, eventId: string, at: number, now: number, connectMs: number, maxStream: number, ttl: number, maxEvents: number, trace?: string];
    reply: unknown[];
  };
  iaExpire: { args: [head: string, now: number, limit: number, maxStream: number, ttl: number]; reply: unknown[] };
  iaRtcCheck: { args: [head: string, now: number, graceMs: number, limit: number, maxStream: number, ttl: number]; reply: unknown[] };
  iaInfo: { args: [head: string, roomId: string]; reply: unknown[] };
  iaAdmin: { args: [head: string, roomId: string, uid: string, on: Flag, now: number, maxStream: number, ttl: number, trace?: string]; reply: unknown[] };
  iaRejournal: { args: [head: string, now: number, maxStream: number, ttl: number, ...sessionIds: string[]]; reply: unknown[] };
  iaSeat: {
    args: [
      head: string, op: string, sessionId: string, uid: string, seat: string, second: string, caller: string, admin: Flag, tutor: Flag, service: Flag, masks: string,
      now: number, maxStream: number, ttl: number, templateId: string, kind: string, seatSpec: string, trace?: string,
    ];
    reply: unknown[];
  };
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

/**
 * An `-- @inline` helper (lua/_keys.lua): `local function name(params)` whose
 * body is one `return <expression>` line.
 */
const INLINE_DEF = /^-- @inline\nlocal function (\w+)\(([^)]*)\)\n\s*return (.+)\nend\n/gm;

/**
 * A top-level helper with the comment lines right above it: `local function
 * name(` at column 0 through the first `end` at column 0 (how the includes are
 * written).
 */
const TOP_FUNCTION = /^(?:--.*\n)*local function (\w+)\(.*\n(?:.*\n)*?end\n/gm;

/**
 * The first index from `from` on, outside a Lua string literal, at which
 * `found` holds; -1 when none does. The one scanner the three below share.
 */
function scan(code: string, from: number, found: (i: number) => boolean): number {
  let quote = '';
  for (let i = from; i < code.length; i++) {
    const c = code[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === "'" || c === '"') quote = c;
    else if (found(i)) return i;
  }
  return -1;
}

/** Index of the first '--' outside a string literal in a line of Lua, or -1. */
function commentStart(line: string): number {
  return scan(line, 0, (i) => line[i] === '-' && line[i + 1] === '-');
}

/** The first call `name(` outside a string literal of one of `names` in a line of code, or null. */
function nextCall(code: string, names: ReadonlyMap<string, unknown>): { name: string; index: number } | null {
  let name = '';
  const index = scan(code, 0, (i) => {
    if (!/[A-Za-z_]/.test(code[i]!) || /[\w.:]/.test(code[i - 1] ?? '')) return false;
    name = /^\w+/.exec(code.slice(i))![0];
    return names.has(name) && code[i + name.length] === '(';
  });
  return index < 0 ? null : { name, index };
}

/**
 * The arguments of the call whose '(' is at `open`, split at top-level commas,
 * and the index just past its ')'; null when the line ends first.
 */
function callArgs(code: string, open: number): { args: string[]; end: number } | null {
  const args: string[] = [];
  let depth = 0;
  let from = open + 1;
  const close = scan(code, open, (i) => {
    const c = code[i]!;
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') return --depth === 0;
    else if (c === ',' && depth === 1) {
      args.push(code.slice(from, i).trim());
      from = i + 1;
    }
    return false;
  });
  if (close < 0) return null;
  const last = code.slice(from, close).trim();
  if (last !== '' || args.length > 0) args.push(last);
  return { args, end: close + 1 };
}

/** `expr` with each parameter name outside string literals replaced by its argument, parenthesised. */
function substitute(expr: string, params: readonly string[], args: readonly string[]): string {
  return expr.replace(/'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|\b[A-Za-z_]\w*\b/g, (tok) => {
    const i = params.indexOf(tok);
    return i < 0 ? tok : `(${args[i]})`;
  });
}

/**
 * Expands every call of an `-- @inline` helper into its expression, so key
 * names cost a script no function call and no closure per run (Redis runs a
 * script's whole body on every call, and Lua 5.1 makes a new closure for each
 * `local function` each time). Calls must close on their line.
 */
function expandInline(src: string): string {
  const defs = new Map<string, { params: string[]; expr: string }>();
  for (const m of src.matchAll(INLINE_DEF)) {
    defs.set(m[1]!, { params: m[2]!.split(',').map((x) => x.trim()).filter(Boolean), expr: m[3]!.trim() });
  }
  if (defs.size === 0) return src;
  return src
    .split('\n')
    .map((line) => {
      if (line.startsWith('local function ')) return line;
      const cut = commentStart(line);
      let code = cut < 0 ? line : line.slice(0, cut);
      for (let m = nextCall(code, defs); m; m = nextCall(code, defs)) {
        const def = defs.get(m.name)!;
        const c = callArgs(code, m.index + m.name.length);
        if (!c) throw new Error(`Lua: a call of ${m.name} must close on its line: ${line.trim()}`);
        if (c.args.length !== def.params.length) throw new Error(`Lua: ${m.name} takes ${def.params.length} argument(s): ${line.trim()}`);
        code = `${code.slice(0, m.index)}(${substitute(def.expr, def.params, c.args)})${code.slice(c.end)}`;
      }
      return cut < 0 ? code : code + line.slice(cut);
    })
    .join('\n');
}

/**
 * Drops the helpers a script never calls (each `local function` costs a
 * closure per run, see expandInline). Repeats until nothing more goes: a helper
 * may only have been used by one that went.
 */
function withoutUnusedHelpers(src: string): string {
  for (let removed = true; removed; ) {
    removed = false;
    const code = src.replace(/--.*$/gm, '').replace(/'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"/g, "''");
    src = src.replace(TOP_FUNCTION, (block, name: string) => {
      // Its own definition names it once; any other mention in code (not in a comment or string) is a use.
      if ((code.match(new RegExp(`\\b${name}\\b`, 'g'))?.length ?? 0) > 1) return block;
      removed = true;
      return '';
    });
  }
  return src;
}

/** `text` with its `-- @include` lines replaced by those files (each with its own includes). */
function withIncludes(text: string, file: string): string {
  let s = text;
  for (let m = INCLUDE.exec(s); m; m = INCLUDE.exec(s)) {
    const inc = m[1]!;
    if (inc === file) throw new Error(`${file} includes itself`);
    // Splice at the matched line: a plain string replace would hit the first
    // mention of the same text, which may sit in an already inlined comment.
    s = s.slice(0, m.index) + scriptSource(inc) + s.slice(m.index + m[0].length);
  }
  return s;
}

/**
 * The Lua Redis runs for a script's text: includes inlined, `-- @inline`
 * helpers expanded where they are called, helpers the script does not use left out.
 */
export function compileScript(text: string, file = '<script>'): string {
  return withoutUnusedHelpers(expandInline(withIncludes(text, file)));
}

/**
 * The text of a file in lua/ as Redis gets it (cached): compileScript for a
 * script; for an include (its name starts with '_'), just its includes inlined.
 */
export function scriptSource(file: string): string {
  let s = sources.get(file);
  if (s === undefined) {
    const text = readFileSync(new URL(file, luaDir), 'utf8');
    s = file.startsWith('_') ? withIncludes(text, file) : compileScript(text, file);
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
