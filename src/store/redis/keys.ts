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
  /** Hash {status, version, runId, updatedAt}: which version readers use. */
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

  /** In-class state: uid -> picked group node id. */
  get stateGroup(): string {
    return `${this.base}st:group`;
  }

  /** In-class state: muted uids of a room. */
  stateMuted(roomId: string): string {
    return `${this.base}st:mute:${roomId}`;
  }

  /** In-class state: uid -> sign-in time (ms). */
  get stateSignIn(): string {
    return `${this.base}st:signin`;
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

/** Position bucket of a uid. Lua readers compute the same (uid % buckets). */
export function positionBucket(uid: number, buckets: number): number {
  return uid % buckets;
}

/** Builds LessonKeys for a configured prefix. */
export function lessonKeys(prefix: string, lessonId: number): LessonKeys {
  return new LessonKeys(prefix, lessonId);
}
