// The HTTP scenarios of `npm run bench`. Each names the gateway variant it
// measures, the requests (a list wrk cycles through, or an autocannon profile
// with per-request logic), which baselines it is compared with, and its targets.
// Adding a scenario is adding an entry to SCENARIOS; a scenario whose route is
// not served yet (404 "no route") is skipped with a message, not failed.
import type { Topology } from '../src/model/topology.js';
import type { ProfileOp, ReqSpec } from './lib/generators.js';

/** The bench lesson as the scenarios see it. */
export interface BenchLesson {
  lessonId: number;
  topo: Topology;
  /** Every student with its own student token, in position order. */
  students: Array<{ uid: number; token: string; nodeId: string; firstRoom: string }>;
  /** Students the warm scenarios cycle through (their entries stay in the local cache). */
  warmStudents: number;
  teacherUid: number;
  teacherToken: string;
  /** Head key of the lesson (for redis-benchmark of the scripts). */
  headKey: string;
  /** SHA1 of enter.lua as loaded on the bench's Redis. */
  enterSha: string;
  /** Readable version and change sequence of the lesson (what a gateway holding its shared part sends). */
  version: number;
  changeSeq: number;
  /** Position bucket count of that version (sent with them). */
  posBuckets: number;
  /** Room the signal publisher writes to and the signal scenario reads. */
  hotRoom: string;
}

/** How a gateway of a scenario is configured (extra environment over the bench's). */
export const GATEWAY_VARIANTS = {
  /** Local cache on (the configured default TTL), autopipelining as configured. */
  warm: {},
  /** Local cache off: every read is one Redis round trip. */
  cold: { ORGENGINE_CACHE_TTL_MS: '0' },
  /** Cache off, autopipelining off / on, for the A/B that decides its default. */
  'cold-pipelining-off': { ORGENGINE_CACHE_TTL_MS: '0', ORGENGINE_REDIS_AUTOPIPELINING: 'false' },
  'cold-pipelining-on': { ORGENGINE_CACHE_TTL_MS: '0', ORGENGINE_REDIS_AUTOPIPELINING: 'true' },
  /** Cache off, Redis writes coalesced as configured (ORGENGINE_REDIS_WRITE_BATCH, default 4) / one write per command, for the A/B that decides the default. */
  'cold-coalesce-on': { ORGENGINE_CACHE_TTL_MS: '0' },
  'cold-coalesce-off': { ORGENGINE_CACHE_TTL_MS: '0', ORGENGINE_REDIS_WRITE_BATCH: '1' },
  /** Local cache on, per-uid rate limits on with rates no bench caller reaches: the cost of the check alone. */
  'warm-limits': { ORGENGINE_RATE_LIMITS: 'true', ORGENGINE_RATE_READ_PER_SECOND: '1000000', ORGENGINE_RATE_READ_BURST: '10000000' },
  /** One TTL of 2 s and no soft stage: every entry read after its TTL is a miss the request waits on (the cache before soft TTLs). */
  'ttl-only': { ORGENGINE_CACHE_TTL_MS: '2000', ORGENGINE_CACHE_SOFT_TTL_MS: '2000' },
  /** `serve --workers 1` / `--workers 2` (arguments in GATEWAY_ARGS), cache as configured. */
  'workers-1': {},
  'workers-2': {},
  /** The gateway of another checkout (ORGENGINE_BENCH_VERSUS_DIR, with its own node_modules), cache as configured: an earlier revision, same run. */
  checkout: {},
  /** The same checkout with the local cache off. */
  'checkout-cold': { ORGENGINE_CACHE_TTL_MS: '0' },
} satisfies Record<string, Record<string, string>>;
/** A key of GATEWAY_VARIANTS. */
export type GatewayVariant = keyof typeof GATEWAY_VARIANTS;
/** Extra `serve` arguments of a variant. */
export const GATEWAY_ARGS: Partial<Record<GatewayVariant, string[]>> = { 'workers-1': ['--workers', '1'], 'workers-2': ['--workers', '2'] };

/** A goal checked on a scenario's summary. */
export interface Target {
  what: string;
  field: 'ratioToCeiling' | 'ratioToFastify' | 'ratioToWebdis' | 'latencyP99Ms' | 'latencyP99MsFixedRate' | 'ratioToVersus';
  atLeast?: number;
  atMost?: number;
}

/** One bench scenario. */
export interface Scenario {
  name: string;
  title: string;
  gateway: GatewayVariant;
  /** Requests wrk cycles through (one file line each). */
  requests?(l: BenchLesson): ReqSpec[];
  /** An autocannon profile instead (per-request logic: mutations, weights). */
  profile?(l: BenchLesson): ProfileOp[];
  /** Ops of the profile that must be served; any answering 404 "no route" skips the scenario. */
  requiredOps?: readonly string[];
  /** The Fastify baseline serves the same paths with the same JSON. */
  fastify: boolean;
  /** redis-benchmark command of the one-round-trip equivalent ("webdis-class"). */
  webdis?(l: BenchLesson): string[];
  /** Instead of the baselines: the same requests against another gateway variant, A/B paired. */
  versus?: GatewayVariant;
  /** CPUs the gateway (and its workers) run on instead of --server-cpus, e.g. '0,1' so two workers can use two cores. */
  serverCpus?: string;
  /** Run the teacher's signal publisher (5/s on the hot room) during the scenario. */
  publishSignals?: boolean;
  targets: Target[];
}

const P99_AT_HALF: Target[] = [
  { what: 'p99 <= 2 ms at half of max load (wrk paced, every request of the scenario)', field: 'latencyP99Ms', atMost: 2 },
  { what: 'p99 <= 2 ms at half of max load (hey fixed rate, first request only)', field: 'latencyP99MsFixedRate', atMost: 2 },
];
const warm = (l: BenchLesson) => l.students.slice(0, l.warmStudents);
const enterReq = (l: BenchLesson, s: BenchLesson['students'][number]): ReqSpec => ({ method: 'GET', path: `/v1/lessons/${l.lessonId}/enter`, token: s.token });
const signalsReq = (l: BenchLesson, s: BenchLesson['students'][number], i: number): ReqSpec => ({
  method: 'GET',
  // A poller a few signals behind; the page limit bounds the body while the log grows.
  path: `/v1/lessons/${l.lessonId}/rooms/${l.hotRoom}/signals?after=${40 + (i % 10)}&limit=20`,
  token: s.token,
});

/**
 * In-class mutation routes the mixed profile drives. These are the shapes the
 * HTTP transport is expected to take for the mutation service (POST, student
 * token, ids in the path): adjust here when the routes land.
 */
export const MUTATION_ROUTES = {
  heartbeat: (lessonId: number, roomId: string, uid: number) => `/v1/lessons/${lessonId}/rooms/${roomId}/students/${uid}/heartbeat`,
  pickGroup: (lessonId: number, uid: number) => `/v1/lessons/${lessonId}/students/${uid}/group`,
};

/** Every scenario, in run order. */
export const SCENARIOS: Scenario[] = [
  {
    name: 'enter-warm',
    title: 'enter, local cache warm (distinct student tokens)',
    gateway: 'warm',
    requests: (l) => warm(l).map((s) => enterReq(l, s)),
    fastify: true,
    targets: [
      { what: '>= 75% of the uWS static ceiling', field: 'ratioToCeiling', atLeast: 0.75 },
      { what: '>= 5x Fastify + ioredis', field: 'ratioToFastify', atLeast: 5 },
      ...P99_AT_HALF,
    ],
  },
  {
    name: 'enter-cold',
    title: 'enter, local cache off (one Redis round trip each)',
    gateway: 'cold',
    requests: (l) => l.students.map((s) => enterReq(l, s)),
    fastify: true,
    // What a cold enter sends once the gateway holds the lesson-level part: the version and change sequence.
    webdis: (l) => ['EVALSHA', l.enterSha, '1', l.headKey, String(l.students[0]!.uid), '', String(l.version), String(l.changeSeq), String(l.posBuckets)],
    targets: [{ what: '>= 1x webdis-class (redis-benchmark EVALSHA enter.lua)', field: 'ratioToWebdis', atLeast: 1 }, ...P99_AT_HALF],
  },
  {
    name: 'position',
    title: "a student's own position, cache warm",
    gateway: 'warm',
    requests: (l) => warm(l).map((s) => ({ method: 'GET', path: `/v1/lessons/${l.lessonId}/students/${s.uid}/position`, token: s.token })),
    fastify: true,
    targets: P99_AT_HALF,
  },
  {
    name: 'node-children',
    title: 'org node with its children, cache warm',
    gateway: 'warm',
    requests: (l) => {
      const nodes = l.topo.nodes.filter((n) => n.childIds.length > 0 && n.parentId !== null);
      return warm(l).map((s, i) => ({ method: 'GET', path: `/v1/lessons/${l.lessonId}/nodes/${nodes[i % nodes.length]!.nodeId}?children=true`, token: s.token }));
    },
    fastify: true,
    targets: P99_AT_HALF,
  },
  {
    name: 'members',
    title: 'first members page (100) of each room partition, teacher token, cache warm',
    gateway: 'warm',
    requests: (l) =>
      l.topo.rooms.flatMap((r) =>
        Array.from({ length: Math.max(1, r.partitions) }, (_, p) => ({ method: 'GET' as const, path: `/v1/lessons/${l.lessonId}/rooms/${r.roomId}/members?partition=${p}&limit=100`, token: l.teacherToken })),
      ),
    fastify: true,
    targets: P99_AT_HALF,
  },
  {
    name: 'hot-signals',
    title: 'hot-room signal polls (every student polls one room; teacher publishes 5/s)',
    gateway: 'warm',
    requests: (l) => warm(l).map((s, i) => signalsReq(l, s, i)),
    fastify: true,
    publishSignals: true,
    targets: P99_AT_HALF,
  },
  {
    name: 'mixed',
    title: 'in-class mix: enter 40%, signal polls 30%, heartbeats 25%, group picks 5%',
    gateway: 'warm',
    profile: (l) => [
      { name: 'enter', weight: 8, request: (n) => enterReq(l, l.students[n % l.students.length]!) },
      { name: 'signals', weight: 6, request: (n) => signalsReq(l, l.students[n % l.students.length]!, n) },
      {
        name: 'heartbeat',
        weight: 5,
        request: (n) => {
          const s = l.students[n % l.students.length]!;
          return { method: 'POST', path: MUTATION_ROUTES.heartbeat(l.lessonId, s.firstRoom, s.uid), token: s.token, body: '{}' };
        },
      },
      {
        name: 'group-pick',
        weight: 1,
        request: (n) => {
          const s = l.students[n % l.students.length]!;
          return { method: 'POST', path: MUTATION_ROUTES.pickGroup(l.lessonId, s.uid), token: s.token, body: '{}' };
        },
      },
    ],
    requiredOps: ['signals', 'heartbeat', 'group-pick'],
    fastify: false,
    publishSignals: true,
    targets: [{ what: 'p99 <= 2 ms at half of max load (autocannon -R, whole milliseconds)', field: 'latencyP99MsFixedRate', atMost: 2 }],
  },
  {
    name: 'enter-warm-limits',
    title: 'enter, local cache warm: rate limits on (A) vs off (B), paired',
    gateway: 'warm-limits',
    versus: 'warm',
    requests: (l) => warm(l).map((s) => enterReq(l, s)),
    fastify: false,
    targets: [{ what: '>= 0.95 of limits off (paired rounds)', field: 'ratioToVersus', atLeast: 0.95 }],
  },
  {
    name: 'enter-warm-versus',
    title: 'warm enter: this checkout (A) vs the gateway of ORGENGINE_BENCH_VERSUS_DIR (B), paired: what a change costs',
    gateway: 'warm',
    versus: 'checkout',
    requests: (l) => warm(l).map((s) => enterReq(l, s)),
    fastify: false,
    targets: [],
  },
  {
    name: 'enter-cold-versus',
    title: 'cold enter: this checkout (A) vs the gateway of ORGENGINE_BENCH_VERSUS_DIR (B), both with the cache off, paired',
    gateway: 'cold',
    versus: 'checkout-cold',
    requests: (l) => l.students.map((s) => enterReq(l, s)),
    fastify: false,
    targets: [],
  },
  {
    name: 'refresh',
    title: 'warm enter: soft TTL with background refresh (A) vs one 2 s TTL whose misses wait (B); Redis commands/s of each',
    gateway: 'warm',
    versus: 'ttl-only',
    requests: (l) => warm(l).map((s) => enterReq(l, s)),
    fastify: false,
    targets: [],
  },
  {
    name: 'workers',
    title: 'warm enter: serve --workers 2 (A) vs --workers 1 (B), both free to use cores 0 and 1 (the generator is on core 1 too)',
    gateway: 'workers-2',
    versus: 'workers-1',
    serverCpus: '0,1',
    requests: (l) => warm(l).map((s) => enterReq(l, s)),
    fastify: false,
    targets: [],
  },
  {
    name: 'autopipelining',
    title: 'enter with cache off: ioredis autopipelining off (A) vs on (B)',
    gateway: 'cold-pipelining-on',
    versus: 'cold-pipelining-off',
    requests: (l) => l.students.map((s) => enterReq(l, s)),
    fastify: false,
    targets: [],
  },
  {
    name: 'coalesce',
    title: 'enter with cache off: Redis commands of one event-loop turn in socket writes of up to ORGENGINE_REDIS_WRITE_BATCH (A) vs one write per command (B)',
    gateway: 'cold-coalesce-on',
    versus: 'cold-coalesce-off',
    requests: (l) => l.students.map((s) => enterReq(l, s)),
    fastify: false,
    targets: [],
  },
];
