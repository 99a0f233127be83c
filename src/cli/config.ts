// `orgengine config`: every variable of the config spec with its value here.
import { describeConfig } from '../config.js';
import type { Command } from './command.js';

/** `orgengine config`. */
const configCommand: Command = {
  name: 'config',
  summary: 'list the environment variables, their current values, meanings and ranges',
  usage: ['config'],
  options: {},
  example: 'ORGENGINE_KEY_PREFIX=demo: orgengine config --json',
  async run({ env, out }) {
    const rows = describeConfig(env);
    out.result(rows, rows.map((r) => `${r.name}=${r.value ?? `(default ${r.default})`}  # ${r.meaning} (${r.range})`).join('\n'));
    return 0;
  },
};

/** The configuration command. */
export const CONFIG_COMMANDS: readonly Command[] = [configCommand];
