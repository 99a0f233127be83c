// The gRPC transport: orgengine.v1.ReadService, orgengine.v1.SignalService,
// orgengine.v1.MutationService and orgengine.v1.PushService (the same reads,
// signals, in-class mutations and org-node broadcasts as HTTP, for platform services, authenticated by
// a service token in the `authorization` metadata; the services authorise
// each call as they do HTTP's) and the standard
// grpc.health.v1.Health service. Messages are (de)serialised with the
// protobufjs types loaded from proto/, the same ones HTTP uses for
// application/x-protobuf.
import * as grpc from '@grpc/grpc-js';
import { requireService } from '../../auth/access.js';
import { bearerToken, type Claims } from '../../auth/tokens.js';
import type { ApiConfig } from '../../config.js';
import { GrpcStatus, OrgError, toOrgError } from '../../errors.js';
import { parseEntityId, parseLimit } from '../../model/input.js';
import { parseHeartbeat, parseMute, parsePickGroup, parseSignIn } from '../../services/mutationInputs.js';
import { parseAward, parseBoardLimit, parsePkEnd, parsePkScope, parsePkStart } from '../../services/scoreInputs.js';
import { parseAdmin, parseCreate, parseEnd, parseHandle, parseKick, parseLink, parseRtcEvent, parseSeat, parseSwitch } from '../../services/interactionInputs.js';
import { templateView } from '../../services/seatTemplates.js';
import { checkId, parseCursor, parsePartition } from '../params.js';
import { decodeProto, encodeProto, protoRoot } from '../proto.js';
import type { TransportDeps } from '../transport.js';
import { retryAfterOf, type LimitClass, type RateLimiter } from '../limits.js';
import type { RevocationService } from '../../services/revocation.js';
import { readTlsFiles, type TlsFiles } from '../tls.js';
import { formatTraceparent, inTrace, parseTraceparent } from '../../model/trace.js';
import type { Span } from '../../tracing.js';

/** What the gRPC server needs. */
export interface GrpcServerDeps extends TransportDeps {
  api: Pick<ApiConfig, 'maxInFlight' | 'membersPageDefault' | 'membersPageMax' | 'retryAfterSeconds'>;
  /** Whether the gateway can serve (Redis reachable). */
  ready(): Promise<boolean>;
  /** Per-caller rate limits, or null (off). */
  limits: RateLimiter | null;
  /** Token revocation for services. */
  revocation: RevocationService;
  /** TLS with these files (reloadTls() reads them again), or null: plaintext. */
  tls: TlsFiles | null;
}

/** A running gRPC server. */
export interface GrpcServer {
  listen(port: number, host?: string): Promise<number>;
  /** Reads the TLS files again; new connections use them. Throws (serving on) when they are unusable. */
  reloadTls(): void;
  /** Health turns NOT_SERVING, then waits for running calls (up to `graceMs`) and closes. */
  shutdown(graceMs: number): Promise<void>;
}

/** Full name of the read service. */
export const READ_SERVICE = 'orgengine.v1.ReadService';
/** Full name of the signal service. */
export const SIGNAL_SERVICE = 'orgengine.v1.SignalService';
/** Full name of the mutation service. */
export const MUTATION_SERVICE = 'orgengine.v1.MutationService';
/** Full name of the score service. */
export const SCORE_SERVICE = 'orgengine.v1.ScoreService';
/** Full name of the push service (org-node broadcasts). */
export const PUSH_SERVICE = 'orgengine.v1.PushService';
/** Full name of the interaction service. */
export const INTERACTION_SERVICE = 'orgengine.v1.InteractionService';
/** Full name of the token service (revocation). */
export const TOKEN_SERVICE = 'orgengine.v1.TokenService';
/** Full name of the health service. */
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

type Req = Record<string, unknown>;
type Handler = (req: Req, c: Claims) => object | Promise<object>;

/** A grpc-js service definition built from a service in the loaded proto root. */
export function serviceDefinition(fullName: string): grpc.ServiceDefinition {
  const svc = protoRoot().lookupService(fullName);
  const def: Record<string, grpc.MethodDefinition<object, object>> = {};
  for (const m of svc.methodsArray) {
    m.resolve();
    const reqName = m.resolvedRequestType!.fullName.replace(/^\./, '');
    const resName = m.resolvedResponseType!.fullName.replace(/^\./, '');
    def[m.name] = {
      path: `/${fullName}/${m.name}`,
      requestStream: !!m.requestStream,
      responseStream: !!m.responseStream,
      requestSerialize: (v: object) => Buffer.from(encodeProto(reqName, v)),
      requestDeserialize: (b: Buffer) => decodeProto(reqName, b),
      responseSerialize: (v: object) => Buffer.from(encodeProto(resName, v)),
      responseDeserialize: (b: Buffer) => decodeProto(resName, b),
      originalName: m.name,
    };
  }
  return def as grpc.ServiceDefinition;
}

// grpc.health.v1.HealthCheckResponse.ServingStatus values.
const SERVING = 1;
const NOT_SERVING = 2;
const SERVICE_UNKNOWN = 3;

/** The address of a grpc-js peer ('ipv4:1.2.3.4:5678', 'ipv6:[::1]:5678'). */
const peerAddress = (peer: string): string => {
  const colon = peer.lastIndexOf(':');
  return (colon > 0 ? peer.slice(0, colon) : peer).replace(/^ipv[46]:/, '').replace(/^\[|\]$/g, '');
};

/**
 * Server credentials whose certificate can be replaced while serving: grpc-js
 * applies an identity update to its listeners' secure context, so new
 * connections handshake with the new certificate and the port stays bound.
 */
function reloadableTls(files: TlsFiles): { credentials: grpc.ServerCredentials; reload(): void } {
  const listeners = new Set<(u: { certificate: Buffer; privateKey: Buffer } | null) => void>();
  let latest: { certificate: Buffer; privateKey: Buffer } | null = null;
  const reload = (): void => {
    const { cert, key } = readTlsFiles(files);
    latest = { certificate: cert, privateKey: key };
    for (const l of listeners) l(latest);
  };
  reload();
  const provider: grpc.experimental.CertificateProvider = {
    addCaCertificateListener: () => undefined,
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (l) => {
      listeners.add(l);
      // Later, not now: grpc-js subscribes before it registers the listener's
      // watcher, so an update delivered at once would never reach the listener.
      setImmediate(() => {
        if (listeners.has(l)) l(latest);
      });
    },
    removeIdentityCertificateListener: (l) => {
      listeners.delete(l);
    },
  };
  // grpc-js hands its first argument to the identity slot (its parameter names are swapped); no client certificates.
  return { credentials: grpc.experimental.createCertificateProviderServerCredentials(provider, null, false), reload };
}

/** Builds the gRPC server with the read, signal and health services. */
export function createGrpcServer(deps: GrpcServerDeps): GrpcServer {
  const { reads, signals, mutations, tokens, metrics, log, api } = deps;
  const tracer = deps.tracing?.exporting ? deps.tracing : null;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 64 * 1024 });
  let inFlight = 0;
  let shuttingDown = false;
  const tls = deps.tls ? reloadableTls(deps.tls) : null;

  const fail = (e: unknown, method: string, span: Span | null = null): Partial<grpc.StatusObject> => {
    const err = toOrgError(e);
    if (err.code === 'INTERNAL') log.error({ method, traceId: span?.context.traceId, err: e instanceof Error ? e.stack : String(e) }, 'rpc failed');
    const md = new grpc.Metadata();
    md.set('orgengine-code', err.code);
    // The HTTP twin's Retry-After, in seconds, for a call worth retrying unchanged.
    const wait = retryAfterOf(err);
    if (wait !== null) md.set('retry-after', String(wait));
    else if (err.temporary && err.grpcStatus === GrpcStatus.UNAVAILABLE) md.set('retry-after', String(api.retryAfterSeconds));
    return { code: err.grpcStatus, details: `${err.code}: ${err.message}`, metadata: md };
  };

  const { limits } = deps;
  const unary = (method: string, run: Handler, cls: LimitClass = 'read'): grpc.handleUnaryCall<Req, object> => {
    const go = (call: grpc.ServerUnaryCall<Req, object>, c: Claims): object | Promise<object> => {
      requireService(c);
      if (limits !== null) limits.admit(cls, c, limits.limitsAddresses ? peerAddress(call.getPeer()) : null, performance.now());
      return run(call.request, c);
    };
    return (call, callback) => {
      const t0 = performance.now();
      // Only while spans are exported: the call continues the caller's traceparent metadata and answers with its own.
      let span: Span | null = null;
      if (tracer) {
        const tp = call.metadata.get('traceparent')[0];
        span = tracer.startSpan(`gRPC ${method}`, parseTraceparent(typeof tp === 'string' ? tp : null), { 'rpc.method': method });
        const md = new grpc.Metadata();
        md.set('traceparent', formatTraceparent(span.context));
        call.sendMetadata(md);
      }
      const done = (err: Partial<grpc.StatusObject> | null, value?: object) => {
        metrics.observe('grpc', method, err ? String(err.code) : '0', (performance.now() - t0) / 1000);
        span?.end(err && err.code === GrpcStatus.INTERNAL ? err.details : undefined);
        if (err) callback(err as grpc.ServiceError);
        else callback(null, value);
      };
      let out: object | Promise<object>;
      try {
        if (inFlight >= api.maxInFlight) throw new OrgError('OVERLOADED', `more than ${api.maxInFlight} calls in flight; retry shortly`);
        const auth = call.metadata.get('authorization')[0];
        const c = tokens.authenticate(bearerToken(typeof auth === 'string' ? auth : undefined), t0);
        // The call runs in its trace scope (write-behind records carry it); only while spans are exported.
        const ctx = span?.context;
        if (c instanceof Promise) out = c.then((caller) => (ctx ? inTrace(ctx, go, call, caller) : go(call, caller)));
        else out = ctx ? inTrace(ctx, go, call, c) : go(call, c);
      } catch (e) {
        done(fail(e, method, span));
        return;
      }
      if (!(out instanceof Promise)) {
        done(null, out);
        return;
      }
      inFlight++;
      metrics.inFlight++;
      out.then(
        (v) => {
          inFlight--;
          metrics.inFlight--;
          done(null, v);
        },
        (e: unknown) => {
          inFlight--;
          metrics.inFlight--;
          done(fail(e, method, span));
        },
      );
    };
  };

  const lessonOf = (req: Req): number => checkId('lessonId', req.lessonId);

  server.addService(serviceDefinition(READ_SERVICE), {
    GetLesson: unary('GetLesson', (req, c) => reads.lessonView(c, lessonOf(req))),
    GetRoom: unary('GetRoom', (req, c) => reads.room(c, lessonOf(req), parseEntityId('roomId', req.roomId))),
    GetNode: unary('GetNode', (req, c) =>
      reads.node(c, lessonOf(req), parseEntityId('nodeId', req.nodeId), { children: req.children === true, parent: req.parent === true, source: req.source === true }),
    ),
    GetPosition: unary('GetPosition', (req, c) => reads.position(c, lessonOf(req), checkId('uid', req.uid))),
    ListMembers: unary('ListMembers', (req, c) => {
      const lessonId = lessonOf(req);
      const partition = parsePartition(req.partition as number | null);
      return reads.members(c, lessonId, parseEntityId('roomId', req.roomId), {
        partition,
        cursor: parseCursor(req.cursor as string, partition),
        limit: parseLimit(req.limit, { def: api.membersPageDefault, max: api.membersPageMax }),
      });
    }),
    GetOnline: unary('GetOnline', (req, c) => reads.online(c, lessonOf(req), parseEntityId('roomId', req.roomId))),
    Enter: unary('Enter', (req, c) => {
      const lessonId = lessonOf(req);
      const uid = req.uid === 0 ? null : checkId('uid', req.uid);
      const room = req.roomId as string;
      return reads.enter(c, lessonId, uid, room === '' ? '' : parseEntityId('roomId', room));
    }),
  });

  server.addService(serviceDefinition(SIGNAL_SERVICE), {
    // after/limit are validated by the service like HTTP's query text (negative, huge, over the maximum: 400).
    ReadSignals: unary('ReadSignals', (req, c) => signals.read(c, checkId('lessonId', req.lessonId), req.roomId as string, req.after, req.limit ?? undefined)),
    PublishSignal: unary(
      'PublishSignal',
      (req, c) => signals.publish(c, checkId('lessonId', req.lessonId), req.roomId as string, req.data).then((s) => ({ seq: s.seq, at: s.at })),
      'publish',
    ),
    ReadSignalLog: unary('ReadSignalLog', (req, c) =>
      deps.playback.read(c, checkId('lessonId', req.lessonId), req.roomId as string, { after: req.after, from: req.from, to: req.to, limit: req.limit ?? undefined }),
    ),
  });

  // Decoded requests carry every field (absent optionals as null): the input
  // parsers validate them exactly as they do HTTP's path and body.
  server.addService(serviceDefinition(MUTATION_SERVICE), {
    PickGroup: unary('PickGroup', (req, c) => mutations.pickGroup(c, parsePickGroup({ lessonId: req.lessonId, uid: req.uid, groupId: req.groupId })), 'mutation'),
    Mute: unary(
      'Mute',
      (req, c) => mutations.mute(c, parseMute({ lessonId: req.lessonId, roomId: req.roomId, uid: req.uid, nodeId: req.nodeId, muted: req.muted })),
      'mutation',
    ),
    SignIn: unary('SignIn', (req, c) => mutations.signIn(c, parseSignIn({ lessonId: req.lessonId, uid: req.uid })), 'mutation'),
    Heartbeat: unary('Heartbeat', (req, c) => mutations.heartbeat(c, parseHeartbeat({ lessonId: req.lessonId, uid: req.uid, roomId: req.roomId })), 'mutation'),
  });

  const { scores } = deps;
  const boardLimit = (v: unknown): number => parseBoardLimit(v, scores.bounds);
  const optRoom = (v: unknown): string | null => (v === null || v === undefined || v === '' ? null : parseEntityId('roomId', v));
  server.addService(serviceDefinition(SCORE_SERVICE), {
    Award: unary('Award', (req, c) => scores.award(c, parseAward(req, scores.bounds)), 'mutation'),
    GetUserBoard: unary('GetUserBoard', (req, c) => scores.userBoard(c, lessonOf(req), optRoom(req.roomId), boardLimit(req.limit))),
    GetNodeScores: unary('GetNodeScores', (req, c) => scores.nodeScores(c, lessonOf(req), parseEntityId('nodeId', req.nodeId), boardLimit(req.limit))),
    GetStudentScores: unary('GetStudentScores', (req, c) => scores.student(c, lessonOf(req), checkId('uid', req.uid), optRoom(req.roomId))),
    StartPk: unary('StartPk', (req, c) => scores.startPk(c, parsePkStart(req, scores.bounds)), 'mutation'),
    EndPk: unary('EndPk', (req, c) => scores.endPk(c, parsePkEnd(req)), 'mutation'),
    GetPk: unary('GetPk', (req, c) => scores.pk(c, parsePkScope(req))),
  });

  server.addService(serviceDefinition(PUSH_SERVICE), {
    Broadcast: unary('Broadcast', (req, c) => deps.push.broadcast(c, checkId('lessonId', req.lessonId), req.nodeId as string, req.data), 'publish'),
  });

  server.addService(serviceDefinition(TOKEN_SERVICE), {
    Revoke: unary(
      'Revoke',
      (req, c) =>
        deps.revocation.revoke(c, checkId('lessonId', req.lessonId), req.uid === null ? null : checkId('uid', req.uid), req.before ?? null),
      'mutation',
    ),
  });

  // Decoded requests carry every field (absent optionals as null): the same parsers as HTTP's path and body.
  const ia = deps.interaction;
  server.addService(serviceDefinition(INTERACTION_SERVICE), {
    FastCreate: unary('FastCreate', (req, c) => ia.fastCreate(c, parseCreate(req))),
    Invite: unary('Invite', (req, c) => ia.invite(c, parseLink(req))),
    Apply: unary('Apply', (req, c) => ia.apply(c, parseLink(req))),
    Handle: unary('Handle', (req, c) => ia.handle(c, parseHandle(req))),
    Cancel: unary('Cancel', (req, c) => ia.cancel(c, parseLink(req))),
    Kick: unary('Kick', (req, c) => ia.kick(c, parseKick(req))),
    Leave: unary('Leave', (req, c) => ia.leave(c, parseLink(req))),
    End: unary('End', (req, c) => ia.end(c, parseEnd(req))),
    RtcEvent: unary('RtcEvent', (req, c) => ia.rtcEvent(c, parseRtcEvent(req))),
    UniversalInfo: unary('UniversalInfo', (req, c) => ia.universalInfo(c, lessonOf(req), parseEntityId('roomId', req.roomId))),
    SetRoomAdmin: unary('SetRoomAdmin', (req, c) => ia.setAdmin(c, parseAdmin(req))),
    TakeSeat: unary('TakeSeat', (req, c) => ia.seat(c, 'take', parseSeat('take', req))),
    LeaveSeat: unary('LeaveSeat', (req, c) => ia.seat(c, 'leave', parseSeat('leave', req))),
    MoveSeat: unary('MoveSeat', (req, c) => ia.seat(c, 'move', parseSeat('move', req))),
    SwapSeats: unary('SwapSeats', (req, c) => ia.seat(c, 'swap', parseSeat('swap', req))),
    LockSeat: unary('LockSeat', (req, c) => ia.seat(c, 'lock', parseSeat('lock', req))),
    UnlockSeat: unary('UnlockSeat', (req, c) => ia.seat(c, 'unlock', parseSeat('unlock', req))),
    MuteSeat: unary('MuteSeat', (req, c) => ia.seat(c, 'mute', parseSeat('mute', req))),
    UnmuteSeat: unary('UnmuteSeat', (req, c) => ia.seat(c, 'unmute', parseSeat('unmute', req))),
    SwitchLayout: unary('SwitchLayout', (req, c) => ia.switchTemplate(c, parseSwitch(req))),
    ListSeatTemplates: unary('ListSeatTemplates', async () => ({ templates: (await ia.templates.list()).map(templateView) })),
    GetSeatTemplate: unary('GetSeatTemplate', async (req) => templateView(await ia.templates.get(String(req.templateId ?? '')))),
  });

  // ---- grpc.health.v1 ----
  const known = new Set(['', READ_SERVICE, SIGNAL_SERVICE, MUTATION_SERVICE, SCORE_SERVICE, PUSH_SERVICE, TOKEN_SERVICE, INTERACTION_SERVICE]);
  const watchers = new Set<grpc.ServerWritableStream<Req, object>>();
  const status = async (): Promise<number> => (!shuttingDown && (await deps.ready().catch(() => false)) ? SERVING : NOT_SERVING);
  server.addService(serviceDefinition(HEALTH_SERVICE), {
    Check: (call: grpc.ServerUnaryCall<Req, object>, callback: grpc.sendUnaryData<object>) => {
      const service = String(call.request.service ?? '');
      if (!known.has(service)) {
        callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${JSON.stringify(service)}` } as grpc.ServiceError);
        return;
      }
      status().then((s) => callback(null, { status: s }));
    },
    Watch: (call: grpc.ServerWritableStream<Req, object>) => {
      const service = String(call.request.service ?? '');
      if (!known.has(service)) {
        call.write({ status: SERVICE_UNKNOWN });
        return;
      }
      watchers.add(call);
      call.on('cancelled', () => watchers.delete(call));
      status().then((s) => call.write({ status: s }));
    },
  });

  return {
    listen(port, host = '0.0.0.0') {
      return new Promise((resolve, reject) => {
        server.bindAsync(`${host}:${port}`, tls?.credentials ?? grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
      });
    },
    reloadTls() {
      if (!tls) throw new Error('TLS is not configured');
      tls.reload();
    },
    async shutdown(graceMs) {
      shuttingDown = true;
      for (const w of watchers) {
        w.write({ status: NOT_SERVING });
        w.end();
      }
      watchers.clear();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
