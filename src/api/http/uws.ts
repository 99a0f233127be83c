// Loads uWebSockets.js and refuses to go on if its native binary did not load:
// the package otherwise falls back, with only a console warning, to a pure-JS
// server that is many times slower (or is forced to by UWS_USE_FALLBACK).
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import uWS from 'uWebSockets.js';

/** The uWS module, checked to be the native binary. Throws with a clear message otherwise. */
export function nativeUws(): typeof uWS {
  const require = createRequire(import.meta.url);
  const main = require.resolve('uWebSockets.js');
  const file = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  const bin = join(dirname(main), '..', 'binaries', file);
  let native: unknown;
  try {
    native = require(bin);
  } catch (e) {
    throw new Error(
      `uWebSockets.js native binary ${file} did not load (${(e as Error).message.split('\n')[0]}); ` +
        `refusing to serve on its slow pure-JS fallback. Use a Node.js version the package ships a binary for (ABI ${process.versions.modules} here).`,
    );
  }
  if (native !== uWS) {
    throw new Error('uWebSockets.js loaded its pure-JS fallback (is UWS_USE_FALLBACK set?); refusing to serve on it');
  }
  return uWS;
}

/**
 * A free TCP port. For port 0 where a port must be bound again later: several
 * worker processes share one, and a TLS reload binds a second listener beside
 * the first (uWS binds port 0 without SO_REUSEPORT, so that second bind fails).
 */
export async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}
