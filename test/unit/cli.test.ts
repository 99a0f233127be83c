// The command line's dispatcher, in-process with its own streams: the command
// list, each command's own --help (whose example must parse), unknown commands
// and options, option checks, and config errors. Nothing here connects anywhere:
// every case fails or answers before a command opens a connection.
import { describe, expect, it } from 'vitest';
import { COMMANDS, runCli } from '../../src/cli/index.js';
import { parseCommandArgs } from '../../src/cli/command.js';

async function cli(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } };
  const code = await runCli(argv, io, env);
  return { code, stdout, stderr };
}

/** The arguments of an example command line, after `orgengine` (variables before it and quotes dropped). */
function exampleArgs(example: string): string[] {
  const words = (example.match(/"[^"]*"|'[^']*'|\S+/g) ?? []).map((w) => w.replace(/^["']|["']$/g, ''));
  return words.slice(words.indexOf('orgengine') + 1);
}

describe('orgengine CLI', () => {
  it('lists every command on --help, and exits 2 without a command', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const c of COMMANDS) expect(help.stdout).toContain(`  ${c.name}`);
    expect((await cli([])).code).toBe(2);
  });

  it.each(COMMANDS.map((c) => c.name))('%s --help prints its own usage, options and a working example', async (name) => {
    const cmd = COMMANDS.find((c) => c.name === name)!;
    const r = await cli([name, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith(`usage: orgengine ${name}`)).toBe(true);
    for (const o of Object.keys(cmd.options)) expect(r.stdout).toContain(`--${o}`);
    expect(r.stdout).toContain('example:\n');
    const args = exampleArgs(cmd.example);
    expect(args[0]).toBe(name);
    expect(() => parseCommandArgs(cmd, args.slice(1))).not.toThrow();
    // No other command's options leak into the help.
    expect(r.stdout).not.toContain('commands:');
  });

  it('exits 2 on an unknown command, with or without --help', async () => {
    for (const argv of [['nosuchcmd'], ['nosuchcmd', '--help'], ['nosuchcmd', '--json']]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toContain('error BAD_REQUEST: unknown command "nosuchcmd"');
    }
  });

  it("refuses options and arguments a command does not take, showing that command's usage", async () => {
    const bogus = await cli(['show', '--lesson', '1', '--bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/^error BAD_REQUEST: Unknown option '--bogus'/);
    expect(bogus.stderr).toContain('usage: orgengine show --lesson ID');
    expect((await cli(['show', '5'])).stderr).toContain('unexpected argument "5"');
    expect((await cli(['policy', '--name', 'x', '--file', 'y'])).stderr).toContain('policy needs one of: put');
    // Options of another command are not accepted either.
    expect((await cli(['token', '--uid', '1', '--role', 'student', '--lesson', '1', '--port', '80'])).code).toBe(2);
  });

  it('checks option values before connecting anywhere and names the option', async () => {
    const role = await cli(['token', '--uid', '1', '--role', 'nobody', '--lesson', '1']);
    expect([role.code, role.stderr]).toEqual([2, 'error BAD_REQUEST: --role must be one of student|teacher|tutor|service|operator, got "nobody"\n']);
    expect((await cli(['serve', '--port', '70000'])).stderr).toContain('--port must be 0-65535, got 70000');
    expect((await cli(['serve'])).stderr).toContain('--port is required');
    expect((await cli(['schedule', '--date', '2026-03-02', '--sweep-minutes', '0'])).stderr).toContain('--sweep-minutes must be from 1 to 1440');
    const json = await cli(['token', '--uid', 'x', '--role', 'student', '--lesson', '1', '--json'], { ORGENGINE_TOKEN_SECRET: 's'.repeat(32) });
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'BAD_REQUEST', message: '--uid must be an integer, got "x"' } });
  });

  it('reports a bad variable as CONFIG_INVALID with exit 2, and mints a token through config', async () => {
    const bad = await cli(['config'], { ORGENGINE_TTL_DAYS: 'soon' });
    expect([bad.code, bad.stderr]).toEqual([2, 'error CONFIG_INVALID: ORGENGINE_TTL_DAYS: expected a number, got "soon"\n']);
    const noSecret = await cli(['token', '--uid', '1', '--role', 'service', '--lesson', '*']);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toContain('error CONFIG_INVALID: ORGENGINE_TOKEN_SECRET');
    const minted = await cli(['token', '--uid', '1', '--role', 'service', '--lesson', '*', '--json'], { ORGENGINE_TOKEN_SECRET: 's'.repeat(32) });
    expect(minted.code).toBe(0);
    expect(JSON.parse(minted.stdout).claims).toMatchObject({ uid: 1, role: 'service', lesson: '*' });
  });

  it('lists the variables with the values set (orgengine config)', async () => {
    const text = await cli(['config'], { ORGENGINE_KEY_PREFIX: 'demo:' });
    expect(text.stdout).toContain('ORGENGINE_KEY_PREFIX=demo:  # prefix of every Redis key (1-32 chars of [A-Za-z0-9:_.-])\n');
    expect(text.stdout).toContain('ORGENGINE_MYSQL_POOL_SIZE=(default 8)  # MySQL connection pool size (1-256)\n');
    const rows = JSON.parse((await cli(['config', '--json'], { ORGENGINE_KEY_PREFIX: 'demo:' })).stdout) as Array<{ name: string; value: string | null }>;
    expect(rows.find((r) => r.name === 'ORGENGINE_KEY_PREFIX')!.value).toBe('demo:');
  });
});
