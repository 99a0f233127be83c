// TLS files of both transports (HTTP on uWS, gRPC on grpc-js): what they are and
// the one check that they are usable, run at start and on every reload.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

/** Certificate chain and key files (PEM). */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** Reads and checks a certificate and key; returns them. A clear error rather than a listener that cannot handshake. */
export function readTlsFiles(tls: TlsFiles): { cert: Buffer; key: Buffer } {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(tls.certFile);
    key = readFileSync(tls.keyFile);
  } catch (e) {
    throw new Error(`TLS: cannot read the certificate or key: ${(e as Error).message}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    throw new Error(`TLS: the certificate and key are not usable together: ${(e as Error).message}`);
  }
  return { cert, key };
}
