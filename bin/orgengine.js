#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx's loader: one code path for
// the CLI, the server and the tests, and no build step to forget.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/cli/index.ts');
process.exitCode = await runCli(process.argv.slice(2));
