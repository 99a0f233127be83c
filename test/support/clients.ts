// HTTP and gRPC clients for API tests: each response decoded back into the JSON
// shape whatever the encoding, so encodings can be compared with deep equality.
import * as grpc from '@grpc/grpc-js';
import { unpack } from 'msgpackr';
import { HEALTH_SERVICE, INTERACTION_SERVICE, MUTATION_SERVICE, PUSH_SERVICE, READ_SERVICE, SCORE_SERVICE, SIGNAL_SERVICE, TOKEN_SERVICE, serviceDefinition } from '../../src/api/grpc/server.js';
import { decodeProto } from '../../src/api/proto.js';

/** A decoded HTTP response. */
export interface HttpReply {
  status: number;
  contentType: string;
  body: any;
  headers: Headers;
}

/** Encodings a client may ask for, with the Accept header of each. */
export const ACCEPTS = { json: 'application/json', msgpack: 'application/x-msgpack', proto: 'application/x-protobuf' } as const;

/** GET/POST and decode the body by its content type (`proto` names the message for protobuf). */
export async function call(
  base: string,
  path: string,
  o: { token?: string; accept?: keyof typeof ACCEPTS; proto?: string; method?: string; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<HttpReply> {
  const headers: Record<string, string> = { accept: ACCEPTS[o.accept ?? 'json'], ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  const r = await fetch(base + path, { method: o.method ?? 'GET', headers, body: o.body });
  const buf = Buffer.from(await r.arrayBuffer());
  const ct = r.headers.get('content-type') ?? '';
  let body: any;
  if (ct === ACCEPTS.msgpack) body = unpack(buf);
  else if (ct === ACCEPTS.proto) body = decodeProto(r.status === 200 ? o.proto! : 'orgengine.v1.ErrorBody', buf);
  else if (ct.startsWith('application/json')) body = JSON.parse(buf.toString('utf8'));
  else body = buf.toString('utf8');
  return { status: r.status, contentType: ct, body, headers: r.headers };
}

/** gRPC clients of the read, signal, mutation, score, push, token and health services (plaintext unless `credentials` say otherwise). */
export function grpcClients(
  port: number,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): { read: any; signals: any; mutations: any; scores: any; push: any; tokens: any; interaction: any; health: any; close(): void } {
  const client = (name: string, short: string): any => {
    const C = grpc.makeGenericClientConstructor(serviceDefinition(name), short);
    return new C(`127.0.0.1:${port}`, credentials);
  };
  const read = client(READ_SERVICE, 'ReadService');
  const signals = client(SIGNAL_SERVICE, 'SignalService');
  const mutations = client(MUTATION_SERVICE, 'MutationService');
  const push = client(PUSH_SERVICE, 'PushService');
  const scores = client(SCORE_SERVICE, 'ScoreService');
  const tokens = client(TOKEN_SERVICE, 'TokenService');
  const health = client(HEALTH_SERVICE, 'Health');
  const interaction = client(INTERACTION_SERVICE, 'InteractionService');
  return {
    read,
    signals,
    mutations,
    scores,
    push,
    tokens,
    interaction,
    health,
    close() {
      for (const c of [read, signals, mutations, scores, push, tokens, interaction, health]) c.close();
    },
  };
}

/** Calls a unary method; resolves {value} or {error: {code, details, orgCode, retryAfter}}. */
export function rpc(
  client: any,
  method: string,
  req: object,
  token?: string,
): Promise<{ value?: any; error?: { code: number; details: string; orgCode: string | undefined; retryAfter?: string } }> {
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  return new Promise((resolve) => {
    client[method](req, md, (err: grpc.ServiceError | null, value: any) => {
      if (err) {
        const retryAfter = err.metadata?.get('retry-after')[0] as string | undefined;
        resolve({ error: { code: err.code, details: err.details, orgCode: err.metadata?.get('orgengine-code')[0] as string | undefined, ...(retryAfter ? { retryAfter } : {}) } });
      } else resolve({ value });
    });
  });
}
