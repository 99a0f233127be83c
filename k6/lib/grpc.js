// gRPC side of the k6 scripts: calls on orgengine.v1.ReadService with a
// service token in the metadata (gRPC is for platform services). Each script
// creates and loads its own client in its init context, next to the proto path.
import grpc from 'k6/net/grpc';
import { env, mint } from './common.js';

/** Default import path of the .proto files, relative to the k6/ scripts (PROTO_DIR overrides). */
export const PROTO_DIR = __ENV.PROTO_DIR || '../proto';

/**
 * A caller of ReadService methods that connects on first use (connect is not allowed in init).
 * @param {import('k6/net/grpc').Client} client a client whose proto files are loaded
 * @returns {(method: string, request: object) => import('k6/net/grpc').Response}
 */
export function readService(client) {
  let connected = false;
  const params = { metadata: { authorization: `Bearer ${mint(1, 'service', '*')}` }, timeout: '5s' };
  return (method, request) => {
    if (!connected) {
      client.connect(env.grpcAddr, { plaintext: true });
      connected = true;
    }
    return client.invoke(`orgengine.v1.ReadService/${method}`, request, params);
  };
}

/**
 * Whether a gRPC response is OK.
 * @param {import('k6/net/grpc').Response} r
 * @returns {boolean}
 */
export const grpcOk = (r) => r.status === grpc.StatusOK;
