// Compact signed tokens: base64url(JSON claims) "." base64url(HMAC-SHA256(key, first part)).
// Clients get one per lesson (student, teacher, tutor); platform services get a
// service token, usually scoped to every lesson ('*'). Verification results are
// kept in a bounded LRU keyed by the token string; expiry is checked on every use.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { OrgError } from '../errors.js';
import { ROLES, type Caller } from './caller.js';

/** What a token asserts: the caller it speaks for (handed to the services as is) and its expiry. */
export interface Claims extends Caller {
  /** Expiry, epoch seconds. */
  exp: number;
}

/** Longest token accepted; longer input is rejected before any hashing. */
export const MAX_TOKEN_LENGTH = 512;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** Options of a TokenVerifier. */
export interface TokenOptions {
  secret: string;
  /** Verified tokens kept. */
  cacheEntries: number;
  /** Clock in ms (injected by tests). */
  now?: () => number;
}

/** Checks claims for minting and after decoding; returns a message or null. */
export function checkClaims(c: Claims): string | null {
  if (!Number.isSafeInteger(c.uid) || c.uid < 1) return `uid must be a positive integer, got ${JSON.stringify(c.uid)}`;
  if (!(ROLES as readonly string[]).includes(c.role)) return `role must be one of ${ROLES.join('|')}, got ${JSON.stringify(c.role)}`;
  if (c.lesson === '*') {
    if (c.role !== 'service' && c.role !== 'operator') return `only service and operator tokens may cover every lesson ('*'); a ${c.role} token names one lesson`;
  } else if (c.role === 'operator') {
    return `an operator token covers every lesson: lesson must be '*', got ${JSON.stringify(c.lesson)}`;
  } else if (!Number.isSafeInteger(c.lesson) || c.lesson < 1) {
    return `lesson must be a positive integer or '*', got ${JSON.stringify(c.lesson)}`;
  }
  if (!Number.isSafeInteger(c.exp) || c.exp < 1) return `exp must be epoch seconds, got ${JSON.stringify(c.exp)}`;
  return null;
}

/** Mints and verifies tokens with one secret. */
export class TokenVerifier {
  private readonly key: Buffer;
  private readonly cache: LRUCache<string, Claims>;
  private readonly now: () => number;

  constructor(opts: TokenOptions) {
    if (typeof opts.secret !== 'string' || Buffer.byteLength(opts.secret) < 32) throw new RangeError('token secret must be at least 32 bytes');
    if (!Number.isInteger(opts.cacheEntries) || opts.cacheEntries < 1) throw new RangeError(`cacheEntries must be a positive integer, got ${opts.cacheEntries}`);
    this.key = Buffer.from(opts.secret, 'utf8');
    this.cache = new LRUCache({ max: opts.cacheEntries });
    this.now = opts.now ?? Date.now;
  }

  private sign(body: string): Buffer {
    return createHmac('sha256', this.key).update(body).digest();
  }

  /** A token for `claims`. */
  mint(claims: Claims): string {
    const bad = checkClaims(claims);
    if (bad) throw new OrgError('BAD_REQUEST', bad);
    const body = Buffer.from(JSON.stringify({ u: claims.uid, r: claims.role, l: claims.lesson, e: claims.exp })).toString('base64url');
    return `${body}.${this.sign(body).toString('base64url')}`;
  }

  /** The claims of a valid, unexpired token; UNAUTHENTICATED otherwise. */
  verify(token: string): Claims {
    let c = this.cache.get(token);
    if (c === undefined) {
      c = this.decode(token);
      this.cache.set(token, c);
    }
    if (c.exp * 1000 <= this.now()) throw new OrgError('UNAUTHENTICATED', 'token expired');
    return c;
  }

  private decode(token: string): Claims {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new OrgError('UNAUTHENTICATED', 'malformed token');
    const dot = token.indexOf('.');
    const body = token.slice(0, dot);
    const sig = token.slice(dot + 1);
    if (dot < 1 || !B64URL.test(body) || !B64URL.test(sig)) throw new OrgError('UNAUTHENTICATED', 'malformed token');
    const given = Buffer.from(sig, 'base64url');
    const want = this.sign(body);
    if (given.length !== want.length || !timingSafeEqual(given, want)) throw new OrgError('UNAUTHENTICATED', 'bad token signature');
    let raw: { u?: unknown; r?: unknown; l?: unknown; e?: unknown };
    try {
      raw = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as typeof raw;
    } catch {
      throw new OrgError('UNAUTHENTICATED', 'malformed token');
    }
    const claims = { uid: raw?.u, role: raw?.r, lesson: raw?.l, exp: raw?.e } as Claims;
    if (checkClaims(claims)) throw new OrgError('UNAUTHENTICATED', 'malformed token claims');
    return claims;
  }
}

/** The token of an `Authorization: Bearer <token>` value; UNAUTHENTICATED when absent or not a bearer. */
export function bearerToken(header: string | undefined): string {
  if (!header) throw new OrgError('UNAUTHENTICATED', 'missing Authorization: Bearer token');
  const m = /^Bearer +(\S+) *$/i.exec(header);
  if (!m) throw new OrgError('UNAUTHENTICATED', 'Authorization must be "Bearer <token>"');
  return m[1]!;
}
