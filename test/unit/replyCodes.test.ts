// The one rule for backend failures, and the Lua reply codes checked against
// the TypeScript table that decodes them.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { backendError, ERROR_TABLE, OrgError } from '../../src/errors.js';
import { HEAD_CODES, MUTATION_CODES, REPLY_CODES, replyError, type CodedScript } from '../../src/store/redis/replyCodes.js';
import { SCRIPTS, scriptSource } from '../../src/store/redis/scripts.js';

const lua = (file: string) => readFileSync(new URL(`../../src/store/redis/lua/${file}`, import.meta.url), 'utf8');

/** The return-code constants a script declares (its own and its includes'), as `local OK = 0` / `local E_NAME = n` lines. */
function luaCodes(source: string): Array<[string, number]> {
  return [...source.matchAll(/^local (OK|E_[A-Z_]+) = (\d+)\b/gm)].map((m) => [m[1]!.replace(/^E_/, ''), Number(m[2])]);
}

/** An error shaped like ioredis' ReplyError (name from its class), without a client. */
class ReplyError extends Error {
  override get name(): string {
    return 'ReplyError';
  }
}

describe('backendError', () => {
  it('passes an OrgError through unchanged', () => {
    const e = new OrgError('GROUP_FULL', 'full');
    expect(backendError(e)).toBe(e);
  });

  it('makes a script or command error reply INTERNAL, our bug', () => {
    const e = backendError(new ReplyError('ERR user_script:12: Script attempted to access nonexistent global variable'));
    expect([e.code, e.httpStatus, e.temporary]).toEqual(['INTERNAL', 500, false]);
    expect(backendError(new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value')).code).toBe('INTERNAL');
    expect(backendError(new TypeError("Cannot read properties of undefined (reading 'n')")).code).toBe('INTERNAL');
  });

  it('makes connection loss, timeouts and a busy server the retryable 503 BACKEND_UNAVAILABLE', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' });
    for (const cause of [refused, new Error('Connection is closed.'), new Error('Command timed out'), 'socket hang up', new ReplyError('LOADING Redis is loading the dataset in memory'), new ReplyError('BUSY Redis is busy running a script')]) {
      const e = backendError(cause);
      expect([e.code, e.httpStatus, e.temporary], String(cause)).toEqual(['BACKEND_UNAVAILABLE', 503, true]);
    }
  });
});

describe('script reply codes', () => {
  const coded = Object.keys(REPLY_CODES) as CodedScript[];

  it('each script declares exactly the codes replyCodes.ts gives it, once each', () => {
    for (const name of Object.keys(SCRIPTS) as Array<keyof typeof SCRIPTS>) {
      const found = luaCodes(scriptSource(SCRIPTS[name].file));
      const names = found.map(([n]) => n);
      expect(new Set(names).size, `${name}: a code name declared twice`).toBe(names.length);
      if (name in REPLY_CODES) expect(Object.fromEntries(found), name).toEqual(REPLY_CODES[name as CodedScript]);
      else expect(found, `${name} declares codes but replyCodes.ts does not know them`).toEqual([]);
    }
  });

  it('the shared includes declare the shared tables', () => {
    expect(Object.fromEntries(luaCodes(lua('_head.lua')))).toEqual(HEAD_CODES);
    expect(Object.fromEntries(luaCodes(scriptSource('_mutation.lua')))).toEqual(MUTATION_CODES);
  });

  it('scripts return their codes by name, never as a bare number', () => {
    for (const name of coded) {
      const own = lua(SCRIPTS[name].file);
      expect(own.match(/return \{\s*-?\d/g), `${name} returns a literal code`).toBeNull();
    }
  });

  it('turns every code but OK into an error with a code from the error table, and an unknown one into INTERNAL', () => {
    for (const name of coded) {
      for (const [reason, code] of Object.entries(REPLY_CODES[name])) {
        if (reason === 'OK') continue;
        const e = replyError(name, [code, '3', '6'], { lessonId: 1, uid: 2, roomId: 'main', nodeId: 't9.g1', version: 4 });
        expect(Object.keys(ERROR_TABLE), `${name}.${reason}`).toContain(e.code);
        // Where the reason is an error code, the error carries it; NO_POSITIONS is an outcome, not an error.
        if (reason in ERROR_TABLE) expect(e.code, `${name}.${reason}`).toBe(reason);
      }
      expect(replyError(name, [99], { lessonId: 1 }).code).toBe('INTERNAL');
    }
    expect(replyError('switchVersion', [REPLY_CODES.switchVersion.SOURCE_CHANGED, 3], { lessonId: 1, version: 4 }).code).toBe('SOURCE_CHANGED');
    expect(replyError('beginPreload', [REPLY_CODES.beginPreload.LOCKED], { lessonId: 1 }).code).toBe('PRELOAD_IN_PROGRESS');
  });

  it('the same number means what its script says: 3 and 4 differ between scripts', () => {
    const ctx = { lessonId: 1, uid: 2, roomId: 'main', nodeId: 'n' };
    expect(replyError('enter', [3, '1'], ctx).code).toBe('STUDENT_NOT_FOUND');
    expect(replyError('publishSignal', [3], ctx).code).toBe('ROOM_NOT_FOUND');
    expect(replyError('pickGroup', [4], ctx).code).toBe('NODE_NOT_FOUND');
    expect(replyError('moveStudents', [4, '2'], ctx).code).toBe('STUDENT_NOT_FOUND');
    expect(replyError('publishSignal', [4, 70000], ctx).code).toBe('PAYLOAD_TOO_LARGE');
  });
});
