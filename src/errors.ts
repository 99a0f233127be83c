// Every error orgengine reports to a caller carries a code from this table; the
// table alone decides the HTTP status and the gRPC status code for it.

/** gRPC status codes we use (numbers from grpc/status.h). */
export const GrpcStatus = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

interface CodeSpec {
  http: number;
  grpc: number;
  /** Temporary errors may succeed when retried unchanged. */
  temporary: boolean;
}

/** Error code -> HTTP status -> gRPC status, the single source of truth. */
export const ERROR_TABLE = {
  BAD_REQUEST: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, temporary: false },
  POLICY_INVALID: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, temporary: false },
  UNAUTHENTICATED: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED, temporary: false },
  FORBIDDEN: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED, temporary: false },
  ROOM_NOT_MEMBER: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED, temporary: false },
  LESSON_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, temporary: false },
  POLICY_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, temporary: false },
  ROOM_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, temporary: false },
  NODE_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, temporary: false },
  STUDENT_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, temporary: false },
  NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, temporary: false },
  USER_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, temporary: false },
  SESSION_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, temporary: false },
  LINK_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, temporary: false },
  /** A link state change the one-way state machine does not allow (details: from, to). */
  INVALID_TRANSITION: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  /** The user already has an active link in the lesson (mutual exclusion). */
  USER_BUSY: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  SESSION_FULL: { http: 409, grpc: GrpcStatus.RESOURCE_EXHAUSTED, temporary: false },
  SESSION_ENDED: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  CHANNEL_IN_USE: { http: 409, grpc: GrpcStatus.ALREADY_EXISTS, temporary: false },
  /** A configured bound of the interaction center (sessions per room, pending links, RTC events). */
  LIMIT_REACHED: { http: 409, grpc: GrpcStatus.RESOURCE_EXHAUSTED, temporary: false },
  /** Mic seats (model/seats.ts, lua/ia_seat.lua). */
  SEAT_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, temporary: false },
  TEMPLATE_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, temporary: false },
  /** A layout template document that does not validate (details: field). */
  TEMPLATE_INVALID: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, temporary: false },
  SEAT_TAKEN: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  SEAT_LOCKED: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  SEAT_HOST_ONLY: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  /** Turning on a mic or camera the seat does not carry (an audio-only seat's camera). */
  SEAT_CAPABILITY: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  NO_FREE_SEAT: { http: 409, grpc: GrpcStatus.RESOURCE_EXHAUSTED, temporary: false },
  NO_SEATED_LINK: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  NOT_SEATED: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  SEAT_EMPTY: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  /** A layout switch whose new seats cannot hold every seated user. */
  SEATS_DO_NOT_FIT: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  STUDENT_NOT_IN_ROOM: { http: 404, grpc: GrpcStatus.NOT_FOUND, temporary: false },
  NOT_A_GROUP: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, temporary: false },
  GROUPS_NOT_ENABLED: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  GROUP_NOT_IN_TEAM: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  NODE_NOT_IN_ROOM: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  GROUP_FULL: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  NO_FREE_GROUP: { http: 409, grpc: GrpcStatus.RESOURCE_EXHAUSTED, temporary: false },
  /** One PK round at a time per session or room: another one runs. */
  PK_ROUND_RUNNING: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  /** The PK round named has ended (or not started). */
  PK_ROUND_CLOSED: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  PK_ROUND_NOT_FOUND: { http: 404, grpc: GrpcStatus.NOT_FOUND, temporary: false },
  POLICY_NOT_BOUND: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  LESSON_NOT_READY: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: true },
  PRELOAD_IN_PROGRESS: { http: 409, grpc: GrpcStatus.ABORTED, temporary: true },
  /** A change reached the lesson while a preload was compiling it; the preload retries. */
  SOURCE_CHANGED: { http: 409, grpc: GrpcStatus.ABORTED, temporary: true },
  /** A preload attempt whose worker died; a later attempt of the same job took the lesson over. */
  PRELOAD_STALLED: { http: 409, grpc: GrpcStatus.ABORTED, temporary: true },
  /** Redis or MySQL disagree with the source recompiled. */
  CHECK_FAILED: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  SOURCE_MISSING_TUTOR: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  SOURCE_MISSING_CLASS: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  SOURCE_MISSING_LPC: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  SOURCE_MISSING_WECHAT_GROUP: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  SOURCE_UNASSIGNED_STUDENT: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  SOURCE_INCONSISTENT: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  SOURCE_EMPTY: { http: 422, grpc: GrpcStatus.FAILED_PRECONDITION, temporary: false },
  LIMIT_EXCEEDED: { http: 413, grpc: GrpcStatus.RESOURCE_EXHAUSTED, temporary: false },
  PAYLOAD_TOO_LARGE: { http: 413, grpc: GrpcStatus.RESOURCE_EXHAUSTED, temporary: false },
  /** A caller (token or client address) is over its rate limit; the answer says when to retry (Retry-After). */
  TOO_MANY_REQUESTS: { http: 429, grpc: GrpcStatus.RESOURCE_EXHAUSTED, temporary: true },
  OVERLOADED: { http: 503, grpc: GrpcStatus.UNAVAILABLE, temporary: true },
  /** The write-behind stream is at its bound: nothing was written, retry later. */
  BACKPRESSURE: { http: 503, grpc: GrpcStatus.UNAVAILABLE, temporary: true },
  BACKEND_UNAVAILABLE: { http: 503, grpc: GrpcStatus.UNAVAILABLE, temporary: true },
  INTERNAL: { http: 500, grpc: GrpcStatus.INTERNAL, temporary: false },
  /** The process's own settings are wrong (a bad ORGENGINE_* variable); the CLI exits 2 with it. */
  CONFIG_INVALID: { http: 500, grpc: GrpcStatus.INTERNAL, temporary: false },
} as const satisfies Record<string, CodeSpec>;

/** One of the codes in ERROR_TABLE. */
export type ErrorCode = keyof typeof ERROR_TABLE;

/** The typed error every layer throws; transports map it through ERROR_TABLE. */
export class OrgError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'OrgError';
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return ERROR_TABLE[this.code].http;
  }

  get grpcStatus(): number {
    return ERROR_TABLE[this.code].grpc;
  }

  get temporary(): boolean {
    return ERROR_TABLE[this.code].temporary;
  }

  toJSON(): { code: ErrorCode; message: string; details?: Record<string, unknown> } {
    return this.details ? { code: this.code, message: this.message, details: this.details } : { code: this.code, message: this.message };
  }
}

/** True when `e` is an OrgError (optionally with the given code). */
export function isOrgError(e: unknown, code?: ErrorCode): e is OrgError {
  return e instanceof OrgError && (code === undefined || e.code === code);
}

/** Wraps anything thrown into an OrgError; unknown failures become INTERNAL. */
export function toOrgError(e: unknown): OrgError {
  if (e instanceof OrgError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new OrgError('INTERNAL', message);
}

/**
 * Error replies of a Redis server that is busy or changing state rather than
 * refusing our command: retrying later succeeds, so they count as unavailable.
 */
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|MOVED|ASK)\b/;

/**
 * The one rule for a failure of Redis or MySQL on the way to an answer: an
 * OrgError passes through; an error reply from Redis (a Lua script that failed,
 * a command Redis refused) is our bug, INTERNAL, unless it names a transient
 * server state; so is a JavaScript error of our own code (TypeError, ...).
 * Anything else (connection refused, reset or closed, a timeout, retries or
 * cluster nodes exhausted) is the backend being unreachable: the retryable 503
 * BACKEND_UNAVAILABLE.
 */
export function backendError(e: unknown): OrgError {
  if (e instanceof OrgError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  // By name: redis-errors' ReplyError, without importing a client library here.
  if (err.name === 'ReplyError' && !TRANSIENT_REPLY.test(err.message)) return new OrgError('INTERNAL', `redis: ${err.message}`);
  if (err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError) {
    return new OrgError('INTERNAL', err.message);
  }
  // A plain message: the client library's wording (retry counts, queue
  // options) means nothing to a caller and is not part of the contract.
  return new OrgError('BACKEND_UNAVAILABLE', /timed out/i.test(err.message) ? 'the backend did not answer in time; retry shortly' : 'the backend is unreachable; retry shortly');
}
