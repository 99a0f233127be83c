import { describe, expect, it } from 'vitest';
import { compileScript, SCRIPTS, scriptSource } from '../../src/store/redis/scripts.js';

describe('Lua script loading', () => {
  it.each(Object.entries(SCRIPTS))('%s inlines its includes once, leaving no include line', (_name, spec) => {
    const src = scriptSource(spec.file);
    expect(src).not.toMatch(/^-- @include /m);
    // Each shared helper appears at most once per script (a second copy means a doubled include).
    expect((src.match(/^local function readable\(/gm) ?? []).length).toBeLessThanOrEqual(1);
    expect(src.length).toBeLessThan(32_000);
  });
});

describe('script compilation', () => {
  const helpers = [
    "-- the helper's doc comment goes with it",
    '-- @inline',
    'local function key_a(base, room)',
    "  return base .. 'a:' .. room",
    'end',
    '',
    '-- @inline',
    'local function bucket(uid, n)',
    '  return tonumber(uid) % n',
    'end',
    '',
    'local function unused(x)',
    '  return x',
    'end',
    '',
  ].join('\n');

  it('expands @inline helpers at their calls (nested, parenthesised) and drops every helper left unused', () => {
    const lua = compileScript(`${helpers}local k = key_a(KEYS[1], bucket(ARGV[1], 3)) -- key_a(x) in a comment stays\nreturn {k, 'key_a(1, 2)'}\n`);
    expect(lua.trimStart()).toBe("local k = ((KEYS[1]) .. 'a:' .. ((tonumber((ARGV[1])) % (3)))) -- key_a(x) in a comment stays\nreturn {k, 'key_a(1, 2)'}\n");
  });

  it('refuses a call with the wrong number of arguments or one that does not close on its line', () => {
    expect(() => compileScript(`${helpers}return key_a(KEYS[1])\n`)).toThrow(/key_a takes 2 argument/);
    expect(() => compileScript(`${helpers}return key_a(KEYS[1],\n  'x')\n`)).toThrow(/must close on its line/);
  });

  it('leaves no unused helper and no @inline one in any script', () => {
    for (const spec of Object.values(SCRIPTS)) {
      const src = scriptSource(spec.file);
      expect(src, spec.file).not.toMatch(/^-- @inline$/m);
      for (const [, name] of src.matchAll(/^local function (\w+)\(/gm)) {
        expect(src.replace(/--.*$/gm, '').match(new RegExp(`\\b${name}\\b`, 'g'))!.length, `${spec.file}: ${name}`).toBeGreaterThan(1);
      }
    }
  });
});
