// The one rule for backend failures, and the Lua reply codes checked against
// the TypeScript table that decodes them.
import { describe, expect, it } from 'vitest';
import { backendError, OrgError } from '../../src/errors.js';

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
