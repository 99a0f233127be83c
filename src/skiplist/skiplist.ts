// An in-process sorted set with Redis zset semantics (src/t_zset.c), so a local
// cache can answer ZRANGEBYSCORE-style reads exactly as Redis would. Nodes live
// in preallocated typed arrays indexed by slot, with freed slots reused, so the
// hot path neither allocates per entry nor leaves garbage for the GC to chase.

/** Highest level a node can reach; 32 as in Redis, enough for 4^32 entries. */
export const SKIPLIST_MAX_LEVEL = 32;

/** Chance of promoting a node one more level; 1/4 as in Redis. */
export const SKIPLIST_P = 0.25;

// Slot 0 is the header. No link ever points at the header (the first node's
// backward link is "none" in Redis too), so 0 can double as the nil link and
// freshly zeroed typed arrays start out all-nil.
const HEAD = 0;
const NIL = 0;

const DEFAULT_CAPACITY = 16;
// Rough V8 cost of one Map entry (key, value, chain link plus bucket share).
const DICT_ENTRY_BYTES = 32;
// Two JS arrays (members, values) hold one pointer per slot each.
const POINTER_BYTES = 8;

/** One end of a score range; `exclusive` is Redis's "(" prefix. */
export interface ScoreBound {
  value: number;
  exclusive?: boolean;
}

/** An entry as returned by the range reads. */
export interface SkipListEntry<V> {
  member: string;
  score: number;
  value: V;
}

/** The LIMIT clause of ZRANGEBYSCORE: negative count = all, negative offset = nothing. */
export interface RangeLimit {
  offset?: number;
  count?: number;
}

/** Construction options for SkipList. */
export interface SkipListOptions<V> {
  /** Slots to preallocate; the arrays double when they run out. */
  initialCapacity?: number;
  /**
   * Upper bound on entries. Adding a new member to a full list behaves like
   * ZADD followed by ZREMRANGEBYRANK 0 -(maxEntries+1): the lowest-ranked entry
   * is dropped, which is the newcomer itself if it sorts lowest.
   */
  maxEntries?: number;
  /** Uniform [0, 1) source for node levels; inject a seeded one for reproducible tests. */
  random?: () => number;
  /** Byte estimate of one value, for approxBytes(); taken when the value is stored. */
  sizeOf?: (value: V) => number;
}

/** What add() did: inserted a new member or changed an existing one. */
export type AddResult = 'added' | 'updated';

/**
 * Orders members the way Redis's sdscmp does: memcmp over the UTF-8 bytes,
 * then shorter first. Meaningful for well-formed strings only, since a lone
 * surrogate has no UTF-8 form (it reaches Redis as U+FFFD).
 */
export function compareMembers(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    let ca = a.charCodeAt(i);
    let cb = b.charCodeAt(i);
    if (ca !== cb) {
      // UTF-16 unit order equals code point (hence UTF-8 byte) order except
      // that surrogates, which encode code points >= 0x10000, must sort above
      // U+E000..U+FFFF; shifting both ranges restores that.
      if (ca >= 0xd800 && cb >= 0xd800) {
        ca += ca >= 0xe000 ? -0x800 : 0x2000;
        cb += cb >= 0xe000 ? -0x800 : 0x2000;
      }
      return ca - cb;
    }
  }
  return a.length - b.length;
}

function checkBound(b: ScoreBound, name: string): void {
  if (Number.isNaN(b.value)) throw new RangeError(`skiplist: ${name} bound is NaN`);
}

function checkInt(n: number, name: string): void {
  if (!Number.isInteger(n)) throw new RangeError(`skiplist: ${name} must be an integer, got ${n}`);
}

// Redis zslIsInRange's first test: such ranges are empty whatever the content.
function rangeIsEmpty(min: ScoreBound, max: ScoreBound): boolean {
  return min.value > max.value || (min.value === max.value && (min.exclusive === true || max.exclusive === true));
}

function gteMin(v: number, min: ScoreBound): boolean {
  return min.exclusive ? v > min.value : v >= min.value;
}

function lteMax(v: number, max: ScoreBound): boolean {
  return max.exclusive ? v < max.value : v <= max.value;
}

/** A Redis-zset-compatible ordered map from member to (score, value). */
export class SkipList<V = unknown> {
  private cap: number; // slots including the header
  private readonly maxEntries: number | undefined;
  private readonly random: () => number;
  private readonly sizeOf: ((value: V) => number) | undefined;

  private scores: Float64Array;
  private back: Int32Array;
  private lvl: Uint8Array;
  private vbytes: Float64Array; // per-slot value estimate, so removal subtracts exactly what was added
  // Per-level link and span arrays, allocated only up to the highest level
  // ever used: most lists need ~log4(n) levels, not 32.
  private fwd: Int32Array[] = [];
  private span: Int32Array[] = [];
  private members: (string | undefined)[];
  private values: (V | undefined)[];
  private freeSlots: Int32Array;
  private freeTop = 0;
  private fresh = 1; // next never-used slot

  private tail = NIL;
  private level = 1;
  private len = 0;
  private readonly dict = new Map<string, number>();
  private memberChars = 0;
  private valueBytes = 0;

  // Scratch for insert/delete paths; reused so updates do not allocate.
  private readonly update = new Int32Array(SKIPLIST_MAX_LEVEL);
  private readonly rankAt = new Int32Array(SKIPLIST_MAX_LEVEL);
  private seekRank = 0; // 1-based rank of the node seekMin() returned

  constructor(options: SkipListOptions<V> = {}) {
    const { maxEntries, initialCapacity = DEFAULT_CAPACITY } = options;
    if (maxEntries !== undefined && (!Number.isInteger(maxEntries) || maxEntries < 1)) {
      throw new RangeError(`skiplist: maxEntries must be a positive integer, got ${maxEntries}`);
    }
    if (!Number.isInteger(initialCapacity) || initialCapacity < 1) {
      throw new RangeError(`skiplist: initialCapacity must be a positive integer, got ${initialCapacity}`);
    }
    this.maxEntries = maxEntries;
    this.random = options.random ?? Math.random;
    this.sizeOf = options.sizeOf;
    const cap = (maxEntries !== undefined ? Math.min(initialCapacity, maxEntries) : initialCapacity) + 1;
    this.cap = cap;
    this.scores = new Float64Array(cap);
    this.back = new Int32Array(cap);
    this.lvl = new Uint8Array(cap);
    this.vbytes = new Float64Array(this.sizeOf ? cap : 0);
    this.members = new Array<string | undefined>(cap).fill(undefined);
    this.values = new Array<V | undefined>(cap).fill(undefined);
    this.freeSlots = new Int32Array(cap);
    this.ensureLevels(1);
  }

  /** Number of entries (ZCARD). */
  get size(): number {
    return this.len;
  }

  /** Same as size, for array-like callers. */
  get length(): number {
    return this.len;
  }

  /** Entries the current arrays hold without growing; lets callers and tests see slot reuse. */
  get capacity(): number {
    return this.cap - 1;
  }

  /**
   * Inserts member or updates it in place (ZADD). A changed score moves the
   * entry like zslUpdateScore; the value is always replaced by the one given.
   */
  add(member: string, score: number, ...value: undefined extends V ? [value?: V] : [value: V]): AddResult {
    if (Number.isNaN(score)) throw new RangeError(`skiplist: score for ${JSON.stringify(member)} is NaN`);
    const v = value[0] as V;
    const x = this.dict.get(member);
    if (x !== undefined) {
      this.values[x] = v;
      this.accountValue(x, v);
      const cur = this.scores[x]!;
      // === so that -0 over 0 is "unchanged", matching Redis's `score != curscore`.
      if (cur !== score) this.moveNode(x, member, cur, score);
      return 'updated';
    }
    if (this.maxEntries !== undefined && this.len >= this.maxEntries) {
      const first = this.fwd[0]![HEAD]!;
      if (this.sortsBefore(score, member, first)) return 'added'; // it would be trimmed at once
      this.deleteFirst();
    }
    const slot = this.allocSlot();
    this.members[slot] = member;
    this.values[slot] = v;
    this.memberChars += member.length;
    if (this.sizeOf) this.vbytes[slot] = 0;
    this.accountValue(slot, v);
    this.dict.set(member, slot);
    this.insertNode(slot, score, member);
    return 'added';
  }

  /** Deletes member (ZREM); false if it was absent. */
  remove(member: string): boolean {
    const x = this.dict.get(member);
    if (x === undefined) return false;
    this.findUpdate(this.scores[x]!, member);
    this.unlink(x, this.update);
    this.freeSlot(x);
    return true;
  }

  /** The member's score (ZSCORE), or undefined if absent. */
  score(member: string): number | undefined {
    const x = this.dict.get(member);
    return x === undefined ? undefined : this.scores[x];
  }

  /** The member's payload, or undefined if absent. */
  get(member: string): V | undefined {
    const x = this.dict.get(member);
    return x === undefined ? undefined : this.values[x];
  }

  /** Whether member is present. */
  has(member: string): boolean {
    return this.dict.has(member);
  }

  /** 0-based position in ascending order (ZRANK), or undefined if absent; O(log n). */
  rank(member: string): number | undefined {
    const x = this.dict.get(member);
    if (x === undefined) return undefined;
    const score = this.scores[x]!;
    const scores = this.scores;
    const members = this.members;
    let h = HEAD;
    let rank = 0;
    for (let i = this.level - 1; i >= 0; i--) {
      const f = this.fwd[i]!;
      const s = this.span[i]!;
      for (let n = f[h]!; n !== NIL; n = f[h]!) {
        const ns = scores[n]!;
        if (ns < score || (ns === score && compareMembers(members[n]!, member) <= 0)) {
          rank += s[h]!;
          h = n;
        } else break;
      }
      if (h === x) return rank - 1;
    }
    throw new Error('skiplist: member in dict but not in list'); // unreachable unless corrupted
  }

  /** ZRANGEBYSCORE min max [LIMIT offset count], as entry objects. */
  rangeByScore(min: ScoreBound, max: ScoreBound, opts: RangeLimit = {}): SkipListEntry<V>[] {
    const out: SkipListEntry<V>[] = [];
    this.forEachByScore(min, max, opts.offset ?? 0, opts.count ?? -1, (member, score, value) => {
      out.push({ member, score, value });
    });
    return out;
  }

  /**
   * ZRANGEBYSCORE without building entry objects, for hot paths; returns how
   * many entries were visited. fn must not modify the list. The offset is
   * skipped through the spans in O(log n) rather than walked.
   */
  forEachByScore(
    min: ScoreBound,
    max: ScoreBound,
    offset: number,
    count: number,
    fn: (member: string, score: number, value: V) => void,
  ): number {
    checkBound(min, 'min');
    checkBound(max, 'max');
    checkInt(offset, 'offset');
    checkInt(count, 'count');
    if (offset < 0 || count === 0 || this.len === 0 || rangeIsEmpty(min, max)) return 0;
    let x = this.seekMin(min);
    if (x === NIL) return 0;
    if (offset > 0) {
      const target = this.seekRank + offset;
      if (target > this.len) return 0;
      x = this.nodeAtRank(target);
    }
    const f0 = this.fwd[0]!;
    const scores = this.scores;
    let visited = 0;
    while (x !== NIL && (count < 0 || visited < count)) {
      const sc = scores[x]!;
      if (!lteMax(sc, max)) break;
      fn(this.members[x]!, sc, this.values[x] as V);
      visited++;
      x = f0[x]!;
    }
    return visited;
  }

  /** ZRANGE start stop by index: negative indices count from the end, both inclusive. */
  rangeByRank(start: number, stop: number): SkipListEntry<V>[] {
    checkInt(start, 'start');
    checkInt(stop, 'stop');
    const len = this.len;
    if (start < 0) start += len;
    if (stop < 0) stop += len;
    if (start < 0) start = 0;
    if (start > stop || start >= len) return [];
    if (stop >= len) stop = len - 1;
    const out: SkipListEntry<V>[] = [];
    const f0 = this.fwd[0]!;
    let x = this.nodeAtRank(start + 1);
    for (let i = start; i <= stop && x !== NIL; i++) {
      out.push(this.entryAt(x));
      x = f0[x]!;
    }
    return out;
  }

  /** Drops the lowest-ranked entries until at most n remain (ZREMRANGEBYRANK 0 -(n+1)); returns how many went. */
  trimToMaxLength(n: number): number {
    checkInt(n, 'n');
    if (n < 0) throw new RangeError(`skiplist: trimToMaxLength needs n >= 0, got ${n}`);
    let removed = 0;
    while (this.len > n) {
      this.deleteFirst();
      removed++;
    }
    return removed;
  }

  /** ZREMRANGEBYSCORE min max; returns how many entries went. */
  removeRangeByScore(min: ScoreBound, max: ScoreBound): number {
    checkBound(min, 'min');
    checkBound(max, 'max');
    if (this.len === 0 || rangeIsEmpty(min, max)) return 0;
    const update = this.update;
    const scores = this.scores;
    let h = HEAD;
    for (let i = this.level - 1; i >= 0; i--) {
      const f = this.fwd[i]!;
      for (let n = f[h]!; n !== NIL && !gteMin(scores[n]!, min); n = f[h]!) h = n;
      update[i] = h;
    }
    const f0 = this.fwd[0]!;
    let x = f0[h]!;
    let removed = 0;
    // update[] stays valid throughout: every removed node lies after all of it.
    while (x !== NIL && lteMax(scores[x]!, max)) {
      const next = f0[x]!;
      this.unlink(x, update);
      this.freeSlot(x);
      removed++;
      x = next;
    }
    return removed;
  }

  /** Lowest entry, or undefined when empty. */
  first(): SkipListEntry<V> | undefined {
    const x = this.fwd[0]![HEAD]!;
    return x === NIL ? undefined : this.entryAt(x);
  }

  /** Highest entry, or undefined when empty. */
  last(): SkipListEntry<V> | undefined {
    return this.tail === NIL ? undefined : this.entryAt(this.tail);
  }

  /** Removes everything but keeps the allocated capacity for reuse. */
  clear(): void {
    for (let i = 0; i < this.fwd.length; i++) {
      this.fwd[i]![HEAD] = NIL;
      this.span[i]![HEAD] = 0;
    }
    this.members.fill(undefined);
    this.values.fill(undefined);
    this.dict.clear();
    this.freeTop = 0;
    this.fresh = 1;
    this.tail = NIL;
    this.level = 1;
    this.len = 0;
    this.memberChars = 0;
    this.valueBytes = 0;
  }

  /** Rough heap footprint in bytes, for byte-bounded caches. */
  approxBytes(): number {
    let bytes =
      this.scores.byteLength +
      this.back.byteLength +
      this.lvl.byteLength +
      this.vbytes.byteLength +
      this.freeSlots.byteLength;
    for (let i = 0; i < this.fwd.length; i++) bytes += this.fwd[i]!.byteLength + this.span[i]!.byteLength;
    return bytes + this.cap * 2 * POINTER_BYTES + this.len * DICT_ENTRY_BYTES + this.memberChars * 2 + this.valueBytes;
  }

  /**
   * Walks the whole structure and throws if order, links, spans, levels or the
   * dict disagree; O(n * levels), meant for tests.
   */
  checkIntegrity(): void {
    const fail = (msg: string): never => {
      throw new Error(`skiplist integrity: ${msg}`);
    };
    const f0 = this.fwd[0]!;
    // 1-based rank of every slot, from level 0.
    const rankOf = new Map<number, number>();
    let prev = NIL;
    let r = 0;
    for (let x = f0[HEAD]!; x !== NIL; x = f0[x]!) {
      r++;
      if (r > this.len) fail('more nodes than length');
      rankOf.set(x, r);
      const m = this.members[x];
      if (m === undefined || this.dict.get(m) !== x) fail(`slot ${x} not in dict`);
      if (this.back[x] !== prev) fail(`bad backward link at rank ${r}`);
      if (prev !== NIL) {
        const ps = this.scores[prev]!;
        const xs = this.scores[x]!;
        if (ps > xs || (ps === xs && compareMembers(this.members[prev]!, m!) >= 0)) fail(`order broken at rank ${r}`);
      }
      const l = this.lvl[x]!;
      if (l < 1 || l > this.level) fail(`slot ${x} has level ${l} with list level ${this.level}`);
      prev = x;
    }
    if (r !== this.len) fail(`walked ${r} nodes, length ${this.len}`);
    if (this.dict.size !== this.len) fail(`dict has ${this.dict.size}, length ${this.len}`);
    if (this.tail !== prev) fail('bad tail');
    for (let i = 0; i < this.level; i++) {
      const f = this.fwd[i]!;
      const s = this.span[i]!;
      let at = 0;
      let linked = 0;
      for (let x = HEAD; ; ) {
        const n = f[x]!;
        // A span into nil is never read, but Redis keeps it at length - rank and so do we.
        const expect = n === NIL ? this.len - at : rankOf.get(n)! - at;
        if (n !== NIL && this.lvl[n]! <= i) fail(`level ${i} links to a level-${this.lvl[n]} node`);
        if (s[x] !== expect) fail(`span at level ${i} from rank ${at} is ${s[x]}, want ${expect}`);
        if (n === NIL) break;
        at = rankOf.get(n)!;
        linked++;
        x = n;
      }
      let tall = 0;
      for (const x of rankOf.keys()) if (this.lvl[x]! > i) tall++;
      if (linked !== tall) fail(`level ${i} links ${linked} nodes, ${tall} reach it`);
    }
    if (this.level > 1 && this.fwd[this.level - 1]![HEAD] === NIL) fail('top level is empty');
    const inUse = this.fresh - 1 - this.freeTop;
    if (inUse !== this.len) fail(`slots in use ${inUse}, length ${this.len}`);
  }

  // --- internals ---

  private entryAt(x: number): SkipListEntry<V> {
    return { member: this.members[x]!, score: this.scores[x]!, value: this.values[x] as V };
  }

  private accountValue(x: number, v: V): void {
    if (!this.sizeOf) return;
    const b = this.sizeOf(v);
    this.valueBytes += b - this.vbytes[x]!;
    this.vbytes[x] = b;
  }

  // Whether (score, member) sorts before node x; a newcomer never equals x.
  private sortsBefore(score: number, member: string, x: number): boolean {
    const xs = this.scores[x]!;
    return score < xs || (score === xs && compareMembers(member, this.members[x]!) < 0);
  }

  private randomLevel(): number {
    let level = 1;
    while (level < SKIPLIST_MAX_LEVEL && this.random() < SKIPLIST_P) level++;
    return level;
  }

  private ensureLevels(n: number): void {
    while (this.fwd.length < n) {
      this.fwd.push(new Int32Array(this.cap));
      this.span.push(new Int32Array(this.cap));
    }
  }

  private allocSlot(): number {
    if (this.freeTop > 0) return this.freeSlots[--this.freeTop]!;
    if (this.fresh === this.cap) this.grow();
    return this.fresh++;
  }

  private freeSlot(x: number): void {
    this.dict.delete(this.members[x]!);
    this.memberChars -= this.members[x]!.length;
    if (this.sizeOf) {
      this.valueBytes -= this.vbytes[x]!;
      this.vbytes[x] = 0;
    }
    // Drop references so the GC can reclaim them while the slot waits for reuse.
    this.members[x] = undefined;
    this.values[x] = undefined;
    this.freeSlots[this.freeTop++] = x;
  }

  private grow(): void {
    let cap = (this.cap - 1) * 2 + 1;
    if (this.maxEntries !== undefined) cap = Math.min(cap, this.maxEntries + 1);
    if (cap <= this.cap) throw new Error('skiplist: cannot grow past maxEntries'); // add() trims first, so unreachable
    const copy = <T extends Float64Array | Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(a.length === 0 ? 0 : cap);
      b.set(a);
      return b;
    };
    this.scores = copy(this.scores, (n) => new Float64Array(n));
    this.back = copy(this.back, (n) => new Int32Array(n));
    this.lvl = copy(this.lvl, (n) => new Uint8Array(n));
    this.vbytes = copy(this.vbytes, (n) => new Float64Array(n));
    this.freeSlots = copy(this.freeSlots, (n) => new Int32Array(n));
    for (let i = 0; i < this.fwd.length; i++) {
      this.fwd[i] = copy(this.fwd[i]!, (n) => new Int32Array(n));
      this.span[i] = copy(this.span[i]!, (n) => new Int32Array(n));
    }
    for (let i = this.cap; i < cap; i++) {
      this.members.push(undefined);
      this.values.push(undefined);
    }
    this.cap = cap;
  }

  // Fills this.update with the last node before (score, member) on each level.
  private findUpdate(score: number, member: string): void {
    const update = this.update;
    const scores = this.scores;
    const members = this.members;
    let h = HEAD;
    for (let i = this.level - 1; i >= 0; i--) {
      const f = this.fwd[i]!;
      for (let n = f[h]!; n !== NIL; n = f[h]!) {
        const ns = scores[n]!;
        if (ns < score || (ns === score && compareMembers(members[n]!, member) < 0)) h = n;
        else break;
      }
      update[i] = h;
    }
  }

  // zslInsert: links slot x (member already stored) at its sorted position.
  private insertNode(x: number, score: number, member: string): void {
    const update = this.update;
    const rank = this.rankAt;
    const scores = this.scores;
    const members = this.members;
    let h = HEAD;
    for (let i = this.level - 1; i >= 0; i--) {
      rank[i] = i === this.level - 1 ? 0 : rank[i + 1]!;
      const f = this.fwd[i]!;
      const s = this.span[i]!;
      for (let n = f[h]!; n !== NIL; n = f[h]!) {
        const ns = scores[n]!;
        if (ns < score || (ns === score && compareMembers(members[n]!, member) < 0)) {
          rank[i] = rank[i]! + s[h]!;
          h = n;
        } else break;
      }
      update[i] = h;
    }
    const level = this.randomLevel();
    if (level > this.level) {
      this.ensureLevels(level);
      for (let i = this.level; i < level; i++) {
        rank[i] = 0;
        update[i] = HEAD;
        this.span[i]![HEAD] = this.len;
      }
      this.level = level;
    }
    scores[x] = score;
    this.lvl[x] = level;
    const r0 = rank[0]!;
    for (let i = 0; i < level; i++) {
      const f = this.fwd[i]!;
      const s = this.span[i]!;
      const u = update[i]!;
      const ri = rank[i]!;
      f[x] = f[u]!;
      f[u] = x;
      s[x] = s[u]! - (r0 - ri);
      s[u] = r0 - ri + 1;
    }
    for (let i = level; i < this.level; i++) {
      const s = this.span[i]!;
      const u = update[i]!;
      s[u] = s[u]! + 1;
    }
    const f0 = this.fwd[0]!;
    this.back[x] = update[0]!; // HEAD === NIL, so the first node gets "none"
    const next = f0[x]!;
    if (next !== NIL) this.back[next] = x;
    else this.tail = x;
    this.len++;
  }

  // zslDeleteNode: unlinks x given its predecessors; the slot stays allocated.
  private unlink(x: number, update: Int32Array): void {
    for (let i = 0; i < this.level; i++) {
      const f = this.fwd[i]!;
      const s = this.span[i]!;
      const u = update[i]!;
      if (f[u] === x) {
        s[u] = s[u]! + s[x]! - 1;
        f[u] = f[x]!;
      } else {
        s[u] = s[u]! - 1;
      }
    }
    const next = this.fwd[0]![x]!;
    if (next !== NIL) this.back[next] = this.back[x]!;
    else this.tail = this.back[x]!;
    while (this.level > 1 && this.fwd[this.level - 1]![HEAD] === NIL) this.level--;
    this.len--;
  }

  private deleteFirst(): void {
    const x = this.fwd[0]![HEAD]!;
    this.update.fill(HEAD, 0, this.level);
    this.unlink(x, this.update);
    this.freeSlot(x);
  }

  // zslUpdateScore: keep the node where it is if the order allows, else relink it.
  private moveNode(x: number, member: string, cur: number, score: number): void {
    const b = this.back[x]!;
    const n = this.fwd[0]![x]!;
    if ((b === NIL || this.scores[b]! < score) && (n === NIL || this.scores[n]! > score)) {
      this.scores[x] = score;
      return;
    }
    this.findUpdate(cur, member);
    this.unlink(x, this.update);
    this.insertNode(x, score, member);
  }

  // First node >= min (zslNthInRange's seek); leaves its 1-based rank in seekRank.
  private seekMin(min: ScoreBound): number {
    const scores = this.scores;
    let h = HEAD;
    let rank = 0;
    for (let i = this.level - 1; i >= 0; i--) {
      const f = this.fwd[i]!;
      const s = this.span[i]!;
      for (let n = f[h]!; n !== NIL && !gteMin(scores[n]!, min); n = f[h]!) {
        rank += s[h]!;
        h = n;
      }
    }
    this.seekRank = rank + 1;
    return this.fwd[0]![h]!;
  }

  // zslGetElementByRank with a 1-based rank; NIL if out of range.
  private nodeAtRank(rank: number): number {
    let h = HEAD;
    let traversed = 0;
    for (let i = this.level - 1; i >= 0; i--) {
      const f = this.fwd[i]!;
      const s = this.span[i]!;
      for (let n = f[h]!; n !== NIL && traversed + s[h]! <= rank; n = f[h]!) {
        traversed += s[h]!;
        h = n;
      }
      if (traversed === rank) return h;
    }
    return NIL;
  }
}
