// The rollback rule, pure.
import { describe, expect, it } from 'vitest';
import { isRollback } from '../../src/writebehind/rollback.js';

describe('isRollback', () => {
  it('flags MySQL holding a version Redis never reached, or Redis holding none while MySQL has state', () => {
    expect(isRollback(10, 12)).toBe(true);
    expect(isRollback(null, 3)).toBe(true);
    expect(isRollback(12, 12)).toBe(false);
    expect(isRollback(15, 12)).toBe(false);
    expect(isRollback(null, 0)).toBe(false);
    expect(isRollback(5, 0)).toBe(false);
  });
});
