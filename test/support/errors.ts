// Assertion helper: the code of the OrgError a promise rejects with.
import { isOrgError, type ErrorCode } from '../../src/errors.js';

/** The code `p` rejects with; throws if it resolves or rejects with something else. */
export async function codeOf(p: Promise<unknown>): Promise<ErrorCode> {
  try {
    await p;
  } catch (e) {
    if (isOrgError(e)) return e.code;
    throw e;
  }
  throw new Error('expected an OrgError');
}

/**
 * 'ok' when `p` (a promise, a value, or a function called here so a synchronous
 * throw counts) succeeds, else the code of the OrgError it fails with.
 */
export async function outcomeOf(p: Promise<unknown> | (() => unknown) | unknown): Promise<ErrorCode | 'ok'> {
  try {
    await (typeof p === 'function' ? (p as () => unknown)() : p);
    return 'ok';
  } catch (e) {
    if (isOrgError(e)) return e.code;
    throw e;
  }
}
