// Every Redis key name orgengine uses is built here. All keys of one lesson
// share the hash tag {L<lessonId>}, so every script and pipeline touching a
// lesson is single-slot and runs unchanged on Redis Cluster.
//
// Preloaded data lives under a version (v<n>); the head hash names the version
// readers use, and a preload switches it in one step, so a reader never sees a
// half-written lesson. In-class state (st:*) is not versioned: a re-run of the
// preload never touches it.

/** Key names for one lesson. */
export class LessonKeys {
  /** The hash tag shared by every key of the lesson. */
  readonly tag: string;
  /** Common prefix of every key of the lesson (ends with ':'). */
  readonly base: string;
  /**
   * Hash {status, version, runId, updatedAt}: which version readers use; also
   * pendingVersion (a preload in flight), job (the preload job that wrote it) and
   * changeSeq (bumped by every change, so a preload compiled before it never switches).
   */
  readonly head: string;
  /** Counter handing out preload versions. */
  readonly versionSeq: string;
  /** Preload lock (SET NX PX with a token). */
  readonly lock: string;
  /** Shard channel announcing changes to this lesson (version switch, mutations). */
  readonly channel: string;

  constructor(
    readonly prefix: string,
    readonly lessonId: number,
  ) {
    this.tag = `{L${lessonId}}`;
    this.base = `${prefix}${this.tag}:`;
    this.head = `${this.base}head`;
    this.versionSeq = `${this.base}vseq`;
    this.lock = `${this.base}lock`;
    this.channel = `${this.base}chan`;
  }

  /** Keys of one preloaded version. */
  version(v: number): VersionKeys {
    return new VersionKeys(`${this.base}v${v}:`);
  }

  // ---- In-class state (never versioned, never touched by a preload) ----

  /** Hash uid -> picked group node id. */
  get stateGroup(): string {
    return `${this.base}st:group`;
  }

  /** Hash group node id -> seats taken (group picks keep it <= capacity). */
  get stateSeats(): string {
    return `${this.base}st:seats`;
  }

  /** Hash node id -> msgpack OrgNode of group nodes created in class (dynamic expansion). */
  get stateDynamicNodes(): string {
    return `${this.base}st:dyn`;
  }

  /**
   * Hash team node id -> msgpack array of the group ids created in class under
   * it, in creation order. A reader lists a team's children as the preloaded
   * node's childIds followed by these.
   */
  get stateDynamicChildren(): string {
    return `${this.base}st:dynkids`;
  }

  /** Hash tutor node id -> number of groups created in class under it (names new groups). */
  get stateDynamicSeq(): string {
    return `${this.base}st:dynseq`;
  }

  /**
   * Hash of token revocations: field `u<uid>` (that user's tokens) or `all`
   * (every token of the lesson) -> epoch ms; tokens issued at or before it are refused.
   */
  get revocations(): string {
    return `${this.base}revoked`;
  }

  /** Last write-behind version handed out (strictly increasing per lesson). */
  get stateVersion(): string {
    return `${this.base}st:ver`;
  }

  /** Set of muted uids in a room. */
  stateMuted(roomId: string): string {
    return `${this.base}st:mute:${roomId}`;
  }

  /** Set of muted org node ids in a room (a muted node mutes every student under it). */
  stateMutedNodes(roomId: string): string {
    return `${this.base}st:mutenode:${roomId}`;
  }

  /** Hash uid -> first sign-in time (ms). */
  get stateSignIn(): string {
    return `${this.base}st:signin`;
  }

  /** Zset uid by last heartbeat (ms): who is online in a room's partition. */
  stateOnline(roomId: string, partition: number): string {
    return `${this.base}st:on:${roomId}:${partition}`;
  }

  // ---- Scores (in-class, never versioned; `scope` is `s:<sessionId>` or `r:<roomId>`) ----

  /** Hash idempotency key -> the award's reply (`|`-joined), so a replayed key returns the original result. */
  get scoreIdem(): string {
    return `${this.base}sc:idem`;
  }

  /** Zset uid -> the student's points in the whole lesson (the lesson's user leaderboard). */
  get scoreUsers(): string {
    return `${this.base}sc:user`;
  }

  /** Zset uid -> the student's points earned in one room (the room's leaderboard). */
  scoreRoom(roomId: string): string {
    return `${this.base}sc:room:${roomId}`;
  }

  /** Hash node id -> points of the node and everything under it (rolled up the tree). */
  get scoreNodes(): string {
    return `${this.base}sc:node`;
  }

  /** Zset child node id -> rolled-up points, one per parent: the leaderboard of one level under it. */
  scoreChildren(parentId: string): string {
    return `${this.base}sc:kids:${parentId}`;
  }

  /** Hash seat id -> points earned on that seat in a scope (a session, or a room). */
  scoreSeats(scope: string): string {
    return `${this.base}sc:seat:${scope}`;
  }

  /** Hash: the scope's current (or last) PK round: id, kind, a, b, room, start, end, status, pa, pb, by. */
  scorePk(scope: string): string {
    return `${this.base}sc:pk:${scope}`;
  }

  /**
   * String with a short expiry: set by the first award in a room within the
   * notice interval, which alone announces `score:<roomId>` on the lesson channel.
   */
  scoreNotice(roomId: string): string {
    return `${this.base}sc:note:${roomId}`;
  }

  /** Counter handing out PK round ids (per lesson). */
  get scorePkSeq(): string {
    return `${this.base}sc:pkseq`;
  }

  /** Set of the scopes that have seat totals or PK rounds (so reconcile finds them without SCAN). */
  get scoreScopes(): string {
    return `${this.base}sc:scopes`;
  }

  /** Stream of write-behind records (same slot as every state key it records). */
  get writeBehind(): string {
    return `${this.base}wb`;
  }

  /** Zset of a room's courseware signals, scored by sequence number. */
  signals(roomId: string): string {
    return `${this.base}sig:${roomId}`;
  }

  /** Counter handing out a room's signal sequence numbers. */
  signalSeq(roomId: string): string {
    return `${this.base}sigseq:${roomId}`;
  }

  // ---- Interaction center (sessions and links; store/redis/interactionStore.ts) ----

  /** Counter handing out the lesson's session ids (s<n>). */
  get iaSeq(): string {
    return `${this.base}ia:seq`;
  }

  /** Hash: one session (room, kind, capacity, channel, creator, status, version, counters). */
  iaSession(sessionId: string): string {
    return `${this.base}ia:s:${sessionId}`;
  }

  /** Hash uid -> link ("state|origin|by|generation|updatedAt") of one session. */
  iaLinks(sessionId: string): string {
    return `${this.base}ia:l:${sessionId}`;
  }

  /** Hash uid -> session id of the user's active link (mutual exclusion across the lesson). */
  get iaBusy(): string {
    return `${this.base}ia:busy`;
  }

  /** Zset of a room's active session ids, by creation time. */
  iaRoom(roomId: string): string {
    return `${this.base}ia:room:${roomId}`;
  }

  /** Zset of the lesson's active session ids, by creation time (reconciliation). */
  get iaActive(): string {
    return `${this.base}ia:act`;
  }

  /** Hash RTC channel id -> the session that last claimed it. */
  get iaChannels(): string {
    return `${this.base}ia:ch`;
  }

  /** Zset "<sessionId>|<uid>" -> deadline (ms) of a pending or connecting link. */
  get iaDeadlines(): string {
    return `${this.base}ia:dl`;
  }

  /** Hash uid -> "<joined|alive|left>:<rtc time ms>": RTC membership of a session's channel as reported. */
  iaRtc(sessionId: string): string {
    return `${this.base}ia:rtc:${sessionId}`;
  }

  /** Set of the RTC event ids a session has applied (duplicates change nothing). */
  iaRtcEvents(sessionId: string): string {
    return `${this.base}ia:rtcev:${sessionId}`;
  }

  /** Hash roomId -> version of the room's interaction state (the newest session version). */
  get iaRoomVersion(): string {
    return `${this.base}ia:rv`;
  }

  /** Set of the uids granted admin of a room (stored in MySQL, cached here). */
  iaAdmins(roomId: string): string {
    return `${this.base}ia:adm:${roomId}`;
  }

  /** Zset checker -> lease expiry (ms): which timeout checker works the lesson (lua/check_slot.lua, one holder). */
  get iaLease(): string {
    return `${this.base}ia:lease`;
  }


  /** String: the cache-aside copy of one playback page of a room (`query` names the page: range and limit). */
  playbackPage(roomId: string, query: string): string {
    return `${this.base}pb:${roomId}:${query}`;
  }
}

/** Key names of one preloaded version of a lesson. */
export class VersionKeys {
  constructor(readonly base: string) {}

  /** Hash: the lesson record plus posBuckets. */
  get lesson(): string {
    return `${this.base}lesson`;
  }
  /** Hash roomId -> msgpack room. */
  get rooms(): string {
    return `${this.base}rooms`;
  }
  /** Hash nodeId -> msgpack node (with child ids). */
  get nodes(): string {
    return `${this.base}nodes`;
  }
  /**
   * Hash nodeId -> the node's path ('/root/t9/t9.m1/t9.g3'): its precomputed
   * ancestors as a plain string, so a score roll-up reads them without decoding the node.
   */
  get paths(): string {
    return `${this.base}paths`;
  }
  /** Hash uid -> msgpack position, bucket = uid mod posBuckets (keeps each hash <= partition size). */
  positions(bucket: number): string {
    return `${this.base}pos:${bucket}`;
  }
  /** Zset uid by join order: members of a room's partition (<= partition size each). */
  members(roomId: string, partition: number): string {
    return `${this.base}m:${roomId}:${partition}`;
  }
  /** Set of every key name of this version, so the version can be dropped without KEYS/SCAN. */
  get index(): string {
    return `${this.base}keys`;
  }
}

/**
 * Sorted set (not of any lesson, so untagged) of lesson ids whose write-behind
 * stream a flusher must watch, scored by the last registration time (ms).
 */
export function writeBehindRegistryKey(prefix: string): string {
  return `${prefix}wb:lessons`;
}

/**
 * Sorted set (untagged) of lesson ids with interaction state, scored by the
 * last registration time (ms): the lessons the timeout checker works.
 */
export function interactionRegistryKey(prefix: string): string {
  return `${prefix}ia:lessons`;
}

/**
 * Hash (untagged) template id -> layout template JSON: the Redis cache of the
 * stored mic seat layouts (MySQL seat_template is their home).
 */
export function seatTemplatesKey(prefix: string): string {
  return `${prefix}seat:tpl`;
}

/**
 * The position hash (bucket) a uid lives in: the one definition in TypeScript.
 * lua/_keys.lua's position_bucket is the one in Lua; a test checks they agree.
 */
export function positionBucket(uid: number, buckets: number): number {
  return uid % buckets;
}

/** Builds LessonKeys for a configured prefix. */
export function lessonKeys(prefix: string, lessonId: number): LessonKeys {
  return new LessonKeys(prefix, lessonId);
}

/** Keys of the distributed preload that live beside the BullMQ queues (same hash tag as the queue prefix). */
export class JobKeys {
  constructor(readonly queuePrefix: string) {}

  /** Zset check holder -> lease expiry: the checks running across every worker. */
  get runningChecks(): string {
    return `${this.queuePrefix}:oe:checks`;
  }

  /** Zset date (YYYY-MM-DD) -> epoch ms of its end: days the sweep keeps an eye on. */
  get sweptDates(): string {
    return `${this.queuePrefix}:oe:dates`;
  }
}
