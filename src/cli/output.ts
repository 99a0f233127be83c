// Everything the CLI writes: a command's result (one line of text, or one JSON
// document with --json), help, and errors as `error <CODE>: message` with the
// exit code they mean. Commands write through here, never to process.stdout,
// so the dispatcher can run in-process (tests) with its own streams.
import { toOrgError } from '../errors.js';

/** Where the CLI writes. */
export interface Io {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

/** Exit codes: 1 for a failure, 2 for bad usage or configuration (fix the command line or the environment). */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A command's output stream, in text or JSON. */
export class Output {
  constructor(
    readonly io: Io,
    readonly json: boolean,
  ) {}

  /** Writes one result: `data` as one JSON line with --json, else `text`. */
  result(data: unknown, text: string): void {
    this.io.stdout.write(this.json ? `${JSON.stringify(data)}\n` : `${text}\n`);
  }

  /** Writes a progress line (text mode only: JSON output is one document per result). */
  progress(text: string): void {
    if (!this.json) this.io.stdout.write(`${text}\n`);
  }

  /** Writes a line to stderr (summaries that are not the result). */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  /** Reports a failure and returns its exit code: 2 for bad usage or configuration, 1 otherwise. */
  error(e: unknown, usage?: string): number {
    const err = toOrgError(e);
    if (this.json) this.io.stdout.write(`${JSON.stringify({ error: err.toJSON() })}\n`);
    // A bad environment variable (CONFIG_INVALID) is fixed in the environment, not the command line: no usage.
    this.io.stderr.write(`error ${err.code}: ${err.message}\n${usage && err.code !== 'CONFIG_INVALID' ? `\n${usage}\n` : ''}`);
    return err.code === 'BAD_REQUEST' || err.code === 'CONFIG_INVALID' ? EXIT.usage : EXIT.failed;
  }
}
