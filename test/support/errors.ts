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
