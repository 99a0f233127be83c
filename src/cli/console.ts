// The operations console's command: a web app and its API for operators, in a
// process of its own beside the gateways and workers.
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTokenKeys } from '../config.js';
import { createLogger, stopSignal } from '../main.js';
import { portOpt, strOpt, type Command } from './command.js';

/** `orgengine console`. */
const consoleCommand: Command = {
  name: 'console',
  summary: 'run the operations console on port P: web app + API for operator tokens (orgengine token --role operator), alarms to webhooks',
  usage: ['console --port P [--host H]'],
  options: {
    port: { type: 'string', value: 'P', help: 'HTTP port (0: any free port, printed once listening)' },
    host: { type: 'string', value: 'H', help: 'address to listen on (default 127.0.0.1: put it behind your operators\' network)' },
  },
  example: 'ORGENGINE_ALARM_WEBHOOKS=http://127.0.0.1:9000/hook orgengine console --port 8090',
  verboseLogs: true,
  async run({ config, values: v, out }) {
    const port = portOpt(v, 'port');
    const host = strOpt(v, 'host', '127.0.0.1');
    requireTokenKeys(config);
    const stop = stopSignal();
    const { startConsole } = await import('../console/index.js');
    const log = createLogger(config, { part: 'console' });
    const dir = config.console.staticDir;
    const pkg = fileURLToPath(new URL('../..', import.meta.url));
    const c = await startConsole({ ...config, console: { ...config.console, staticDir: isAbsolute(dir) ? dir : resolve(pkg, dir) } }, { port, host, log });
    out.result({ port: c.port }, `console listening on http://${host}:${c.port}/`);
    await stop;
    log.info('console stopping');
    await c.close();
    return 0;
  },
};

/** The console's commands. */
export const CONSOLE_COMMANDS: readonly Command[] = [consoleCommand];
