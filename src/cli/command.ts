// What a command is (name, usage, options, example, run), how its arguments
// are parsed and checked, its --help text, and the connections commands share
// (an App, and the preload queues), opened for one command and closed after it.
import { parseArgs } from 'node:util';
import type { Config } from '../config.js';
import { OrgError } from '../errors.js';
import { createApp, type App } from '../main.js';
import { createQueueConnection, Jobs } from '../preload/jobs.js';
import type { Output } from './output.js';

/** One option of a command. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  /** The value's placeholder in help (`ID`, `YYYY-MM-DD`); string options only. */
  value?: string;
  /** May be given more than once (the values come as an array). */
  multiple?: boolean;
  help: string;
}

/** Parsed option values. */
export type Values = Record<string, string | boolean | string[] | undefined>;

/** What a command runs with. */
export interface CommandContext {
  config: Config;
  /** The environment `config` was read from, when not process.env (`orgengine config` lists its variables). */
  env: Record<string, string | undefined> | undefined;
  values: Values;
  /** Arguments after the command name that are not options (e.g. `put` of `policy put`). */
  positionals: string[];
  out: Output;
}

/** One `orgengine` command: its help and its behaviour. */
export interface Command {
  name: string;
  /** One line for `orgengine --help`. */
  summary: string;
  /** Usage lines, each after `orgengine `. */
  usage: string[];
  options: Record<string, OptionSpec>;
  /** The words accepted after the command name (`policy put`); none when absent. */
  subcommands?: string[];
  /** The command also runs without a subcommand (`token` mints, `token revoke` revokes). */
  subcommandOptional?: boolean;
  /** A complete command line, shown in --help. */
  example: string;
  /**
   * Logs at info by default, like a server. Other commands print their own
   * results, so their logs default to warn (ORGENGINE_LOG_LEVEL overrides).
   */
  verboseLogs?: boolean;
  /** Runs the command; resolves to the exit code. */
  run(ctx: CommandContext): Promise<number>;
}

/** Options every command takes. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec & { short?: string }> = {
  json: { type: 'boolean', help: 'machine-readable output (one JSON document per result)' },
  help: { type: 'boolean', short: 'h', help: "this command's usage, options and an example" },
};

/** Options several commands share, so they read and help alike. */
export const LESSON: OptionSpec = { type: 'string', value: 'ID', help: 'lesson id' };
/** See LESSON. */
export const DATE: OptionSpec = { type: 'string', value: 'YYYY-MM-DD', help: 'day of the lessons (their start time, UTC)' };

/** Parses `args` (after the command name) against the command's options; a usage error is a BAD_REQUEST. */
export function parseCommandArgs(cmd: Command, args: string[]): { values: Values; positionals: string[] } {
  const options = Object.fromEntries(
    Object.entries({ ...cmd.options, ...GLOBAL_OPTIONS }).map(([name, o]) => [
      name,
      { type: o.type, ...(o.multiple ? { multiple: true } : {}), ...('short' in o && o.short ? { short: o.short } : {}) },
    ]),
  );
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new OrgError('BAD_REQUEST', (e as Error).message);
  }
  const values = parsed.values as Values;
  if (values.help) return { values, positionals: parsed.positionals };
  const [first, ...rest] = parsed.positionals;
  if (cmd.subcommands && !(first === undefined && cmd.subcommandOptional) && (first === undefined || !cmd.subcommands.includes(first))) {
    throw new OrgError('BAD_REQUEST', `${cmd.name} needs one of: ${cmd.subcommands.join(', ')}`);
  }
  const extra = cmd.subcommands ? rest : parsed.positionals;
  if (extra.length > 0) throw new OrgError('BAD_REQUEST', `unexpected argument ${JSON.stringify(extra[0])}`);
  return { values, positionals: parsed.positionals };
}

const column = (left: string, right: string, width: number): string => (left.length < width ? `${left.padEnd(width)}${right}` : `${left}\n${' '.repeat(width)}${right}`);

/** The usage lines of a command, as shown on a usage error. */
export function usageText(cmd: Command): string {
  return cmd.usage.map((u, i) => `${i === 0 ? 'usage: ' : '       '}orgengine ${u}`).join('\n');
}

/** `orgengine <command> --help`: usage, what it does, every option, an example. */
export function helpText(cmd: Command): string {
  const opts = Object.entries({ ...cmd.options, ...GLOBAL_OPTIONS }).map(([name, o]) => {
    const flag = `${'short' in o && o.short ? `-${o.short}, ` : ''}--${name}${o.value ? ` ${o.value}` : ''}`;
    return column(`  ${flag}`, `${o.help}${o.multiple ? ' (repeat for more)' : ''}`, 28);
  });
  return [usageText(cmd), '', cmd.summary, '', 'options:', ...opts, '', 'example:', `  ${cmd.example}`].join('\n');
}

/** `orgengine --help`: every command with its usage and one line on what it does. */
export function commandList(commands: readonly Command[]): string {
  const lines = commands.flatMap((c) => {
    const usage = c.usage.map((u) => `  ${u}`);
    return [...usage.slice(0, -1), column(usage.at(-1)!, c.summary, 35)];
  });
  return [
    'orgengine <command> [options]',
    '',
    'commands:',
    ...lines,
    "options: --json (machine-readable output), --help (with a command: that command's options and an example)",
  ].join('\n');
}

/** An integer option; required unless `def` is given. */
export function intOpt(v: Values, name: string, def?: number): number {
  const raw = v[name];
  if (raw === undefined) {
    if (def === undefined) throw new OrgError('BAD_REQUEST', `--${name} is required`);
    return def;
  }
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isSafeInteger(n)) throw new OrgError('BAD_REQUEST', `--${name} must be an integer, got ${JSON.stringify(raw)}`);
  return n;
}

/** An integer option within [min, max], or undefined when absent. */
export function boundedIntOpt(v: Values, name: string, min: number, max: number): number | undefined {
  if (v[name] === undefined) return undefined;
  const n = intOpt(v, name);
  if (n < min || n > max) throw new OrgError('BAD_REQUEST', `--${name} must be from ${min} to ${max}, got ${n}`);
  return n;
}

/** A required port option: 0 (any free port) to 65535. */
export function portOpt(v: Values, name: string): number {
  const p = intOpt(v, name);
  if (p < 0 || p > 65535) throw new OrgError('BAD_REQUEST', `--${name} must be 0-65535, got ${p}`);
  return p;
}

/** A string option; required unless `def` is given. */
export function strOpt(v: Values, name: string, def?: string): string {
  const raw = v[name];
  if (typeof raw !== 'string' || raw === '') {
    if (def === undefined) throw new OrgError('BAD_REQUEST', `--${name} is required`);
    return def;
  }
  return raw;
}

/** Runs `fn` with connections to MySQL and Redis, closed afterwards. */
export async function withApp<T>(config: Config, fn: (app: App) => Promise<T>): Promise<T> {
  const app = createApp(config);
  try {
    return await fn(app);
  } finally {
    await app.close();
  }
}

/** Runs `fn` with an App and the preload queues, all closed afterwards. */
export async function withJobs<T>(config: Config, fn: (app: App, jobs: Jobs) => Promise<T>): Promise<T> {
  return withApp(config, async (app) => {
    const conn = createQueueConnection(config.jobs.redis, 'orgengine-cli');
    const jobs = new Jobs(conn, config.jobs);
    try {
      return await fn(app, jobs);
    } finally {
      await jobs.close();
      await conn.quit().catch(() => undefined);
    }
  });
}
