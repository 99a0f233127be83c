// The operations console's command: a web app and its API for operators, in a
// process of its own beside the gateways and workers.
import { requireTokenSecret } from '../config.js';
import { OrgError } from '../errors.js';
import { createLogger, stopSignal } from '../main.js';
import { intOpt, strOpt, type Command } from './command.js';

/** `orgengine console`. */
const consoleCommand: Command = {
  name: 'console',
  summary: 'run the operations console (web app + API for operator tokens; alarms to webhooks) on port P',
  usage: ['console --port P [--host H]'],
  options: {
    port: { type: 'string', value: 'P', help: 'HTTP port (0: any free port, printed once listening)' },
    host: { type: 'string', value: 'H', help: 'address to listen on (default 127.0.0.1: put it behind your operators\' network)' },
  },
  example: "orgengine token --uid 1 --role operator --lesson '*' && orgengine console --port 8090",
  verboseLogs: true,
  async run({ config, values: v, out }) {
    const port = intOpt(v, 'port');
    if (port < 0 || port > 65535) throw new OrgError('BAD_REQUEST', `--port must be 0-65535, got ${port}`);
    requireTokenSecret(config);
    const stop = stopSignal();
    const { startConsole } = await import('../console/index.js');
    const log = createLogger(config, { part: 'console' });
    const c = await startConsole(config, { port, host: strOpt(v, 'host', '127.0.0.1'), log });
    out.result({ port: c.port }, `console listening on http://${strOpt(v, 'host', '127.0.0.1')}:${c.port}/`);
    await stop;
    log.info('console stopping');
    await c.close();
    return 0;
  },
};

/** The console's commands. */
export const CONSOLE_COMMANDS: readonly Command[] = [consoleCommand];
