import { describe, expect, it } from 'vitest';
import {
  authorizeHeartbeat,
  authorizeLessonRead,
  authorizeMute,
  authorizePickGroup,
  authorizePublish,
  authorizeSignIn,
  authorizeStudentRead,
  enterUid,
  requireService,
} from '../../src/auth/access.js';
import { assertLessonScope, assertRole } from '../../src/auth/caller.js';
import { bearerToken, TokenVerifier } from '../../src/auth/tokens.js';
import { isOrgError } from '../../src/errors.js';
import { loadConfig, requireTokenKeys } from '../../src/config.js';

const secret = 'unit-secret-0123456789-abcdefghijklmn';

describe('tokens', () => {
  it('round-trips claims and rejects tampering, other keys and expiry', () => {
    let now = 1_000_000_000_000;
    const t = new TokenVerifier({ secret, cacheEntries: 10, now: () => now });
    const claims = { uid: 42, role: 'student' as const, lesson: 7, exp: now / 1000 + 60 };
    const tok = t.mint(claims);
    expect(t.verify(tok)).toEqual({ ...claims, iat: now });
    const [body, sig] = tok.split('.') as [string, string];
    const forgedBody = Buffer.from(JSON.stringify({ u: 43, r: 'student', l: 7, e: claims.exp })).toString('base64url');
    for (const bad of [`${forgedBody}.${sig}`, `${body}.${sig.slice(0, -2)}AA`, `${body}`, '', 'a.b.c', 'x'.repeat(600)]) {
      expect(() => t.verify(bad), bad.slice(0, 20)).toThrow();
    }
    expect(() => new TokenVerifier({ secret: `${secret}x`, cacheEntries: 10 }).verify(tok)).toThrow(/signature/);
    now += 61_000;
    // Cached verification still checks expiry.
    expect(() => t.verify(tok)).toThrow(/expired/);
  });

  it('refuses to mint students for every lesson and short secrets', () => {
    const t = new TokenVerifier({ secret, cacheEntries: 10 });
    expect(() => t.mint({ uid: 1, role: 'student', lesson: '*', exp: 9e9 })).toThrow(/only service/);
    expect(() => t.mint({ uid: 0, role: 'service', lesson: '*', exp: 9e9 })).toThrow(/uid/);
    expect(() => new TokenVerifier({ secret: 'short', cacheEntries: 10 })).toThrow(/32 bytes/);
  });

  it('parses bearer headers', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer  abc')).toBe('abc');
    for (const h of [undefined, '', 'Basic x', 'Bearer']) {
      try {
        bearerToken(h);
        expect.unreachable();
      } catch (e) {
        expect(isOrgError(e, 'UNAUTHENTICATED')).toBe(true);
      }
    }
  });
});

describe('token keys and rotation', () => {
  const A = 'key-a-0123456789-abcdefghijklmnopqrstu';
  const B = 'key-b-0123456789-abcdefghijklmnopqrstu';
  const exp = () => Math.floor(Date.now() / 1000) + 600;
  const claims = (uid: number) => ({ uid, role: 'student' as const, lesson: 7, exp: exp() });
  const kidOf = (tok: string) => JSON.parse(Buffer.from(tok.split('.')[0]!, 'base64url').toString()).k;

  it('rotates without refusing a valid token: add the new key, switch signing, drop the old after the longest TTL', () => {
    // Step 0: one key, a.
    const v0 = new TokenVerifier({ keys: [{ kid: 'a', secret: A }], cacheEntries: 10 });
    const t0 = v0.mint(claims(1));
    expect(kidOf(t0)).toBe('a');
    // Step 1: b added everywhere, a still signs; old and new tokens pass.
    const v1 = new TokenVerifier({ keys: [{ kid: 'a', secret: A }, { kid: 'b', secret: B }], signing: 'a', cacheEntries: 10 });
    const t1 = v1.mint(claims(2));
    expect(kidOf(t1)).toBe('a');
    expect(v1.verify(t0).uid).toBe(1);
    expect(v1.verify(t1).uid).toBe(2);
    // A gateway still at step 0 accepts what step 1 signs (why signing switches only after b is everywhere).
    expect(v0.verify(t1).uid).toBe(2);
    // Step 2: b signs; tokens of a are still accepted.
    const v2 = new TokenVerifier({ keys: [{ kid: 'a', secret: A }, { kid: 'b', secret: B }], signing: 'b', cacheEntries: 10 });
    const t2 = v2.mint(claims(3));
    expect(kidOf(t2)).toBe('b');
    for (const [t, uid] of [[t0, 1], [t1, 2], [t2, 3]] as const) expect(v2.verify(t).uid).toBe(uid);
    // Step 3: a dropped once its tokens expired; b's pass, a's are refused as an unknown key.
    const v3 = new TokenVerifier({ keys: [{ kid: 'b', secret: B }], cacheEntries: 10 });
    expect(v3.verify(t2).uid).toBe(3);
    expect(() => v3.verify(t0)).toThrow(/unknown key/);
    // A token naming b but signed by a is a forgery, not a rotation.
    const forged = `${Buffer.from(JSON.stringify({ u: 9, r: 'student', l: 7, e: exp(), i: 1, k: 'b' })).toString('base64url')}.${t0.split('.')[1]}`;
    expect(() => v2.verify(forged)).toThrow(/signature/);
  });

  it('keeps the single secret working as the one unnamed key, beside named keys while migrating', () => {
    const legacy = new TokenVerifier({ secret: A, cacheEntries: 10 });
    const old = legacy.mint(claims(1));
    expect(kidOf(old)).toBeUndefined();
    const both = new TokenVerifier({ keys: [{ kid: '', secret: A }, { kid: 'b', secret: B }], signing: 'b', cacheEntries: 10 });
    expect(both.verify(old).uid).toBe(1);
    expect(kidOf(both.mint(claims(2)))).toBe('b');
    const named = new TokenVerifier({ keys: [{ kid: 'b', secret: B }], cacheEntries: 10 });
    expect(() => named.verify(old)).toThrow(/without a key id/);
    expect(() => new TokenVerifier({ keys: [{ kid: 'a', secret: A }], signing: 'z', cacheEntries: 10 })).toThrow(/not one of the keys/);
  });

  it('reads the key set from the configuration', () => {
    const env = { ORGENGINE_TOKEN_KEYS: `a=${A}, b=${B}` };
    expect(requireTokenKeys(loadConfig(env))).toEqual({ keys: [{ kid: 'a', secret: A }, { kid: 'b', secret: B }], signing: 'a' });
    expect(requireTokenKeys(loadConfig({ ...env, ORGENGINE_TOKEN_SIGNING_KID: 'b' })).signing).toBe('b');
    expect(requireTokenKeys(loadConfig({ ...env, ORGENGINE_TOKEN_SECRET: A })).signing).toBe('');
    expect(requireTokenKeys(loadConfig({ ORGENGINE_TOKEN_SECRET: A }))).toEqual({ keys: [{ kid: '', secret: A }], signing: '' });
    expect(() => loadConfig({ ...env, ORGENGINE_TOKEN_SIGNING_KID: 'c' })).toThrow(/ORGENGINE_TOKEN_SIGNING_KID: must name a key/);
    expect(() => loadConfig({ ORGENGINE_TOKEN_KEYS: 'a=short' })).toThrow(/at least 32 bytes/);
    expect(() => loadConfig({ ORGENGINE_TOKEN_KEYS: `a=${A},a=${B}` })).toThrow(/twice/);
    expect(() => loadConfig({ ORGENGINE_TOKEN_KEYS: `bad kid=${A}` })).toThrow(/kid/);
    expect(() => requireTokenKeys(loadConfig({}))).toThrow(/ORGENGINE_TOKEN_SECRET/);
  });

  it('carries the issue time revocation compares with', () => {
    let now = 1_700_000_000_000;
    const t = new TokenVerifier({ secret: A, cacheEntries: 10, now: () => now });
    expect(t.verify(t.mint({ uid: 1, role: 'student', lesson: 7, exp: 2_000_000_000 })).iat).toBe(now);
    now += 5;
    expect(t.verify(t.mint({ uid: 1, role: 'student', lesson: 7, exp: 2_000_000_000, iat: 42 })).iat).toBe(42);
  });
});

describe('access', () => {
  const student = { uid: 5, role: 'student' as const, lesson: 7, exp: 9e9 };
  const service = { uid: 1, role: 'service' as const, lesson: '*' as const, exp: 9e9 };
  const tutor = { uid: 9, role: 'tutor' as const, lesson: 7, exp: 9e9 };
  const code = (f: () => unknown) => {
    try {
      f();
      return 'ok';
    } catch (e) {
      return isOrgError(e) ? e.code : 'other';
    }
  };

  it('keeps students to their lesson and their own data', () => {
    expect(code(() => assertLessonScope(student, 7))).toBe('ok');
    expect(code(() => assertLessonScope(student, 8))).toBe('FORBIDDEN');
    expect(code(() => assertLessonScope(service, 8))).toBe('ok');
    expect(code(() => authorizeStudentRead(student, 7, 5))).toBe('ok');
    expect(code(() => authorizeStudentRead(student, 7, 6))).toBe('FORBIDDEN');
    expect(code(() => authorizeStudentRead(tutor, 7, 6))).toBe('ok');
    expect(code(() => authorizeStudentRead(service, 123, 6))).toBe('ok');
    expect(enterUid(student, 7, null)).toBe(5);
    expect(code(() => enterUid(student, 7, 6))).toBe('FORBIDDEN');
    expect(enterUid(tutor, 7, 6)).toBe(6);
    expect(code(() => enterUid(tutor, 7, null))).toBe('BAD_REQUEST');
    expect(code(() => requireService(tutor))).toBe('FORBIDDEN');
    expect(code(() => requireService(service))).toBe('ok');
    expect(code(() => assertRole(student, ['teacher', 'tutor', 'service'], 'publish'))).toBe('FORBIDDEN');
    expect(code(() => assertRole(tutor, ['teacher', 'tutor', 'service'], 'publish'))).toBe('ok');
  });

  it('has one rule per operation, the same whoever transports the call', () => {
    const teacher = { uid: 3, role: 'teacher' as const, lesson: 7, exp: 9e9 };
    const table: Array<[string, (c: typeof student | typeof service | typeof tutor | typeof teacher) => unknown, Record<string, string>]> = [
      ['read the lesson', (c) => authorizeLessonRead(c, 7), { student: 'ok', tutor: 'ok', teacher: 'ok', service: 'ok' }],
      ['read another lesson', (c) => authorizeLessonRead(c, 8), { student: 'FORBIDDEN', tutor: 'FORBIDDEN', teacher: 'FORBIDDEN', service: 'ok' }],
      ['read student 6', (c) => authorizeStudentRead(c, 7, 6), { student: 'FORBIDDEN', tutor: 'ok', teacher: 'ok', service: 'ok' }],
      ['publish', (c) => authorizePublish(c, 7), { student: 'FORBIDDEN', tutor: 'ok', teacher: 'ok', service: 'ok' }],
      ['pick for student 6', (c) => authorizePickGroup(c, 7, 6), { student: 'FORBIDDEN', tutor: 'ok', teacher: 'ok', service: 'ok' }],
      ['pick for itself', (c) => authorizePickGroup(c, 7, c.uid), { student: 'ok', tutor: 'ok', teacher: 'ok', service: 'ok' }],
      ['mute', (c) => authorizeMute(c, 7, true), { student: 'FORBIDDEN', tutor: 'ok', teacher: 'ok', service: 'ok' }],
      ['sign in student 6', (c) => authorizeSignIn(c, 7, 6), { student: 'FORBIDDEN', tutor: 'ok', teacher: 'ok', service: 'ok' }],
      ['heartbeat for itself', (c) => authorizeHeartbeat(c, 7, c.uid), { student: 'ok', tutor: 'FORBIDDEN', teacher: 'FORBIDDEN', service: 'ok' }],
      ['heartbeat for student 6', (c) => authorizeHeartbeat(c, 7, 6), { student: 'FORBIDDEN', tutor: 'FORBIDDEN', teacher: 'FORBIDDEN', service: 'ok' }],
    ];
    for (const [what, rule, want] of table) {
      for (const c of [student, tutor, teacher, service]) expect(code(() => rule(c)), `${c.role} may ${what}`).toBe(want[c.role]);
    }
  });
});
