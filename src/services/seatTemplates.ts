// Mic seat layout templates: the built-in ones (model/seats.ts) and the stored
// ones (MySQL seat_template, their home; cached in one Redis hash shared by
// every gateway, and for ORGENGINE_SEAT_TEMPLATE_CACHE_MS in each gateway's
// memory). A create or switch names a template; resolving a built-in or a
// warm one costs no Redis round trip.
import type { Pool } from '../store/mysql/pool.js';
import { backendError, OrgError } from '../errors.js';
import { BUILTIN_TEMPLATES, encodeSpec, parseTemplate, parseTemplateId, type SeatTemplate } from '../model/seats.js';
import type { RedisClient } from '../store/redis/client.js';
import { seatTemplatesKey } from '../store/redis/keys.js';
import { getSeatTemplate, listSeatTemplates, putSeatTemplate } from '../store/mysql/seatTemplates.js';

/** A template with its compact spec (what a session keeps). */
export interface ResolvedTemplate {
  template: SeatTemplate;
  spec: string;
  builtin: boolean;
}

/** What the templates need. */
export interface SeatTemplatesOptions {
  redis: RedisClient;
  keyPrefix: string;
  /** MySQL, for reads Redis misses and for listing and storing; null: Redis only. */
  pool: Pool | null;
  maxSeats: number;
  cacheMs: number;
  now?: () => number;
}

/** Local cache entries at most; past it the cache starts over. */
const MAX_CACHED = 1000;

const resolved = (t: SeatTemplate, builtin: boolean): ResolvedTemplate => ({ template: t, spec: encodeSpec(t), builtin });
const BUILTINS = new Map([...BUILTIN_TEMPLATES].map(([id, t]) => [id, resolved(t, true)]));

/** Built-in and stored layout templates. */
export class SeatTemplates {
  private readonly cache = new Map<string, { value: ResolvedTemplate; at: number }>();
  private readonly now: () => number;

  constructor(private readonly o: SeatTemplatesOptions) {
    this.now = o.now ?? Date.now;
  }

  /** A template by id: built-in, cached, Redis, then MySQL (which refills Redis). 404 TEMPLATE_NOT_FOUND. */
  get(id: string): ResolvedTemplate | Promise<ResolvedTemplate> {
    const b = BUILTINS.get(id);
    if (b) return b;
    parseTemplateId(id);
    const hit = this.cache.get(id);
    if (hit && this.now() - hit.at < this.o.cacheMs) return hit.value;
    return this.load(id);
  }

  /** Built-in templates, then the stored ones by id. */
  async list(): Promise<ResolvedTemplate[]> {
    const stored = await this.stored();
    return [...BUILTINS.values(), ...stored.map((t) => resolved(t, false))];
  }

  /** Validates and stores a template (MySQL, then the Redis cache). */
  async put(doc: unknown): Promise<ResolvedTemplate> {
    if (!this.o.pool) throw new OrgError('INTERNAL', 'storing a template needs MySQL');
    const t = await putSeatTemplate(this.o.pool, doc, this.o.maxSeats, this.now());
    await this.o.redis.hset(seatTemplatesKey(this.o.keyPrefix), t.id, JSON.stringify(t));
    this.cache.delete(t.id);
    return resolved(t, false);
  }

  /** Copies every stored template from MySQL into the Redis cache; returns how many. */
  async sync(): Promise<number> {
    if (!this.o.pool) throw new OrgError('INTERNAL', 'sync needs MySQL');
    const all = await listSeatTemplates(this.o.pool, 1000);
    if (all.length > 0) await this.o.redis.hset(seatTemplatesKey(this.o.keyPrefix), Object.fromEntries(all.map((t) => [t.id, JSON.stringify(t)])));
    this.cache.clear();
    return all.length;
  }

  private async stored(): Promise<SeatTemplate[]> {
    if (this.o.pool) return listSeatTemplates(this.o.pool, 1000);
    const all = await this.o.redis.hgetall(seatTemplatesKey(this.o.keyPrefix));
    return Object.keys(all)
      .sort()
      .map((id) => parseTemplate(JSON.parse(all[id]!), 1000));
  }

  private async load(id: string): Promise<ResolvedTemplate> {
    let t: SeatTemplate | undefined;
    try {
      const raw = await this.o.redis.hget(seatTemplatesKey(this.o.keyPrefix), id);
      if (raw !== null) t = parseTemplate(JSON.parse(raw), 1000);
      else if (this.o.pool) {
        t = await getSeatTemplate(this.o.pool, id, 1000);
        if (t) await this.o.redis.hset(seatTemplatesKey(this.o.keyPrefix), id, JSON.stringify(t));
      }
    } catch (e) {
      throw backendError(e);
    }
    if (!t) throw new OrgError('TEMPLATE_NOT_FOUND', `no layout template ${JSON.stringify(id)} (built in: ${[...BUILTINS.keys()].join(', ')}; stored ones: \`orgengine template list\`)`, { templateId: id });
    const value = resolved(t, false);
    if (this.o.cacheMs > 0) {
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      this.cache.set(id, { value, at: this.now() });
    }
    return value;
  }
}

/** A template as the API answers it (proto SeatTemplateInfo). */
export function templateView(r: ResolvedTemplate): SeatTemplate & { builtin: boolean } {
  return { ...r.template, builtin: r.builtin };
}
