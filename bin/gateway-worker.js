#!/usr/bin/env node
// Entry of a gateway worker process forked by `orgengine serve --workers N`:
// registers tsx's loader, then runs the worker (src/serveWorker.ts).
import { register } from 'tsx/esm/api';

register();
await import('../src/serveWorker.ts');
