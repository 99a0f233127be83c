// Compact signed tokens: base64url(JSON claims) "." base64url(HMAC-SHA256(key, first part)).
// Clients get one per lesson (student, teacher, tutor); platform services get a
// service token, usually scoped to every lesson ('*'). Verification results are
// kept in a bounded LRU keyed by the token string; expiry is checked on every use.
//
// Keys rotate: a verifier holds a set of named keys and signs with one. A token
// names its key (claim `k`); a token without one was signed by the legacy
// unnamed key (ORGENGINE_TOKEN_SECRET). Rotating is: add the new key to every
// gateway, switch signing to it, drop the old key once the longest-lived token
// it signed has expired. Tokens also carry their issue time (claim `i`, epoch
// ms) so a revocation can refuse every token of a user or lesson issued up to a
// moment (auth/revocation.ts); a token without one counts as issued at 0.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { OrgError } from '../errors.js';
import { ROLES, type Caller } from './caller.js';
import type { Revocations } from './revocation.js';

/** What a token asserts: the caller it speaks for (handed to the services as is) and its expiry. */
export interface Claims extends Caller {
  /** Expiry, epoch seconds. */
  exp: number;
  /** Issue time, epoch ms (absent in tokens minted before it was carried: 0 for revocation). */
  iat?: number;
}

/** Longest token lifetime `orgengine token` mints; a revocation is kept at least this long. */
export const MAX_TOKEN_TTL_SECONDS = 366 * 86400;

/** Longest token accepted; longer input is rejected before any hashing. */
export const MAX_TOKEN_LENGTH = 512;
const B64URL = /^[A-Za-z0-9_-]+$/;

/** Options of a TokenVerifier. */
export interface TokenOptions {
  /** One unnamed key (the legacy single secret); same as keys: [{ kid: '', secret }]. */
  secret?: string;
  /** Every key accepted, by key id ('' is the unnamed legacy key). */
  keys?: ReadonlyArray<{ kid: string; secret: string }>;
  /** Key id mint() signs with (default: the first key). */
  signing?: string;
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
  if (c.iat !== undefined && (!Number.isSafeInteger(c.iat) || c.iat < 0)) return `iat must be epoch ms, got ${JSON.stringify(c.iat)}`;
  return null;
}

/** Mints and verifies tokens with a set of named keys. */
export class TokenVerifier {
  private readonly keys = new Map<string, Buffer>();
  private readonly signing: string;
  private readonly cache: LRUCache<string, Claims>;
  private readonly now: () => number;
  private revocations: Revocations | null = null;

  constructor(opts: TokenOptions) {
    const keys = opts.keys ?? (opts.secret === undefined ? [] : [{ kid: '', secret: opts.secret }]);
    if (keys.length === 0) throw new RangeError('a token verifier needs at least one key');
    for (const k of keys) {
      if (typeof k.secret !== 'string' || Buffer.byteLength(k.secret) < 32) throw new RangeError('token secret must be at least 32 bytes');
      if (this.keys.has(k.kid)) throw new RangeError(`token key ${JSON.stringify(k.kid)} given twice`);
      this.keys.set(k.kid, Buffer.from(k.secret, 'utf8'));
    }
    this.signing = opts.signing ?? keys[0]!.kid;
    if (!this.keys.has(this.signing)) throw new RangeError(`signing key ${JSON.stringify(this.signing)} is not one of the keys`);
    if (!Number.isInteger(opts.cacheEntries) || opts.cacheEntries < 1) throw new RangeError(`cacheEntries must be a positive integer, got ${opts.cacheEntries}`);
    this.cache = new LRUCache({ max: opts.cacheEntries });
    this.now = opts.now ?? Date.now;
  }

  /** The key id mint() signs with ('' for the unnamed legacy key). */
  get signingKid(): string {
    return this.signing;
  }

  private sign(key: Buffer, body: string): Buffer {
    return createHmac('sha256', key).update(body).digest();
  }

  /** A token for `claims`, signed with the signing key; `iat` defaults to now. */
  mint(claims: Claims): string {
    const iat = claims.iat ?? this.now();
    const bad = checkClaims({ ...claims, iat });
    if (bad) throw new OrgError('BAD_REQUEST', bad);
    const kid = this.signing;
    const json = { u: claims.uid, r: claims.role, l: claims.lesson, e: claims.exp, i: iat, ...(kid === '' ? {} : { k: kid }) };
    const body = Buffer.from(JSON.stringify(json)).toString('base64url');
    return `${body}.${this.sign(this.keys.get(kid)!, body).toString('base64url')}`;
  }

  /** Checks every verified token against these revocation lists from now on (authenticate()). */
  useRevocations(r: Revocations): void {
    this.revocations = r;
  }

  /**
   * The claims of a valid, unexpired, unrevoked token (at hand, or a promise
   * when the lesson's revocation list is first loaded); UNAUTHENTICATED
   * otherwise. `now`: the request's monotonic clock reading, if at hand. What
   * the transports call.
   */
  authenticate(token: string, now?: number): Claims | Promise<Claims> {
    const c = this.verify(token);
    if (this.revocations === null) return c;
    const pending = this.revocations.check(c, now);
    return pending === undefined ? c : pending.then(() => c);
  }

  /** The claims of a valid, unexpired token (revocation not checked); UNAUTHENTICATED otherwise. */
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
    // The body names the key, so it is parsed before the signature is checked (it is at most MAX_TOKEN_LENGTH).
    let raw: { u?: unknown; r?: unknown; l?: unknown; e?: unknown; i?: unknown; k?: unknown };
    try {
      raw = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as typeof raw;
    } catch {
      throw new OrgError('UNAUTHENTICATED', 'malformed token');
    }
    const kid = raw?.k === undefined ? '' : raw.k;
    const key = typeof kid === 'string' ? this.keys.get(kid) : undefined;
    if (key === undefined) throw new OrgError('UNAUTHENTICATED', kid === '' ? 'token without a key id, and no unnamed key is configured' : 'token signed with an unknown key');
    const given = Buffer.from(sig, 'base64url');
    const want = this.sign(key, body);
    if (given.length !== want.length || !timingSafeEqual(given, want)) throw new OrgError('UNAUTHENTICATED', 'bad token signature');
    const claims = { uid: raw.u, role: raw.r, lesson: raw.l, exp: raw.e, ...(raw.i === undefined ? {} : { iat: raw.i }) } as Claims;
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
