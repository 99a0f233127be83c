import { describe, expect, it } from 'vitest';
import { SCRIPTS, scriptSource } from '../../src/store/redis/scripts.js';

describe('Lua script loading', () => {
  it.each(Object.entries(SCRIPTS))('%s inlines its includes once, leaving no include line', (_name, spec) => {
    const src = scriptSource(spec.file);
    expect(src).not.toMatch(/^-- @include /m);
    // Each shared helper appears at most once per script (a second copy means a doubled include).
    expect((src.match(/^local function readable\(/gm) ?? []).length).toBeLessThanOrEqual(1);
    expect(src.length).toBeLessThan(32_000);
  });
});
