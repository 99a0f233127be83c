// The `orgengine` command line: the command table and the dispatcher. Each
// command lives in the module of its group, with its own usage, options and
// example; the dispatcher finds it, parses its arguments, reads the config once,
// runs it and turns a failure into `error <CODE>: message` and an exit code.
import { loadConfig } from '../config.js';
import { OrgError } from '../errors.js';
import { commandList, helpText, parseCommandArgs, usageText, type Command } from './command.js';
import { CONFIG_COMMANDS } from './config.js';
import { CONSOLE_COMMANDS } from './console.js';
import { DB_COMMANDS } from './db.js';
import { FLUSH_COMMANDS } from './flush.js';
import { JOBS_COMMANDS } from './jobs.js';
import { EXIT, Output, type Io } from './output.js';
import { PRELOAD_COMMANDS } from './preload.js';
import { SERVE_COMMANDS } from './serve.js';
import { TEMPLATE_COMMANDS } from './template.js';

/** Every command, in the order `orgengine --help` lists them. */
export const COMMANDS: readonly Command[] = [...DB_COMMANDS, ...PRELOAD_COMMANDS, ...JOBS_COMMANDS, ...FLUSH_COMMANDS, ...CONFIG_COMMANDS, ...SERVE_COMMANDS, ...CONSOLE_COMMANDS, ...TEMPLATE_COMMANDS];

/** One-shot commands print their own results; their logs stay quiet unless ORGENGINE_LOG_LEVEL asks. */
const QUIET_DEFAULTS = { ORGENGINE_LOG_LEVEL: 'warn' };

/**
 * Runs the CLI with `argv` (without node and script), writing to `io`, with the
 * variables of `env` (config reads process.env when absent). Returns the exit code.
 */
export async function runCli(argv: string[], io: Io = process, env?: Record<string, string | undefined>): Promise<number> {
  const json = argv.includes('--json');
  const out = new Output(io, json);
  const name = argv.find((a) => !a.startsWith('-'));
  if (name === undefined) {
    // `orgengine --help` asks for the list; a bare `orgengine` is a usage error that shows it.
    const asked = argv.includes('--help') || argv.includes('-h');
    io.stdout.write(`${commandList(COMMANDS)}\n`);
    return asked ? EXIT.ok : EXIT.usage;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) return out.error(new OrgError('BAD_REQUEST', `unknown command ${JSON.stringify(name)}; \`orgengine --help\` lists the commands`));
  let parsed;
  try {
    parsed = parseCommandArgs(cmd, argv.filter((a, i) => i !== argv.indexOf(name)));
  } catch (e) {
    return out.error(e, `${usageText(cmd)}\n(\`orgengine ${cmd.name} --help\` for the options)`);
  }
  if (parsed.values.help) {
    io.stdout.write(`${helpText(cmd)}\n`);
    return EXIT.ok;
  }
  try {
    const config = loadConfig(env, cmd.verboseLogs ? {} : QUIET_DEFAULTS);
    return await cmd.run({ config, env, values: parsed.values, positionals: parsed.positionals, out });
  } catch (e) {
    return out.error(e);
  }
}
