// `orgengine serve` as a real child process: started with its --json line read
// for the ports, stopped with SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** A running `orgengine serve` child. */
export interface ServeChild {
  child: ChildProcess;
  httpPort: number;
  grpcPort: number | null;
  internalPort: number | null;
  /** Sends SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `orgengine serve --port 0 --host 127.0.0.1 --json` plus `args`, with `env`; resolves once it listens. */
export async function spawnServe(env: NodeJS.ProcessEnv, args: string[] = []): Promise<ServeChild> {
  const child = spawn(process.execPath, ['bin/orgengine.js', 'serve', '--port', '0', '--host', '127.0.0.1', '--json', ...args], { cwd: root, env });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const ports = await new Promise<{ httpPort: number; grpcPort: number | null; internalPort: number | null }>((resolve, reject) => {
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line) as { httpPort: number; grpcPort: number | null; internalPort: number | null });
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return {
    child,
    httpPort: ports.httpPort,
    grpcPort: ports.grpcPort,
    internalPort: ports.internalPort,
    stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
