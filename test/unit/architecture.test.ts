// The layering rules of STYLE.md, checked on the source: dependencies point one
// way (api -> services/preload -> store, localcache, skiplist, writebehind ->
// model), nothing imports api, localcache imports nothing of ours but types,
// model does no I/O, only the store talks to Redis scripts and MySQL, and there
// are no import cycles.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

interface Import {
  target: string;
  typeOnly: boolean;
}

/** Relative imports of a file, resolved to src-relative paths (.js -> .ts). */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+'(\.[^']+)'/gm)) {
    out.push({ target: relative(SRC, resolve(dirname(file), m[3]!.replace(/\.js$/, '.ts'))), typeOnly: Boolean(m[2]) });
  }
  for (const m of text.matchAll(/import\('(\.[^']+)'\)/g)) {
    out.push({ target: relative(SRC, resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'))), typeOnly: false });
  }
  return out;
}

const graph = new Map(files(SRC).map((f) => [relative(SRC, f), importsOf(f)]));
const layer = (path: string) => path.split('/')[0]!.replace(/\.ts$/, '');
/** Composition roots: the only files that wire transports, services and stores together. */
const WIRING = ['cli', 'main', 'gateway', 'serve', 'serveWorker'];

describe('architecture', () => {
  it('finds the source files', () => {
    expect(graph.size).toBeGreaterThan(10);
    expect(graph.has('model/compile.ts')).toBe(true);
  });

  it('model imports only model and errors, and no node I/O modules', () => {
    for (const [file, imps] of graph) {
      if (layer(file) !== 'model') continue;
      for (const i of imps) expect(['model', 'errors'], `${file} -> ${i.target}`).toContain(layer(i.target));
      expect(readFileSync(join(SRC, file), 'utf8'), file).not.toMatch(/from 'node:(fs|net|http|child_process)'/);
    }
  });

  it('nothing below the transport imports api', () => {
    for (const [file, imps] of graph) {
      if (layer(file) === 'api' || WIRING.includes(layer(file))) continue;
      for (const i of imps) expect(layer(i.target), `${file} -> ${i.target}`).not.toBe('api');
    }
  });

  it('store, localcache, skiplist and writebehind do not import services, preload or api', () => {
    for (const [file, imps] of graph) {
      if (!['store', 'localcache', 'skiplist', 'writebehind'].includes(layer(file))) continue;
      for (const i of imps) expect(['services', 'preload', 'api', ...WIRING], `${file} -> ${i.target}`).not.toContain(layer(i.target));
    }
  });

  it('localcache imports nothing of ours but types', () => {
    for (const [file, imps] of graph) {
      if (layer(file) !== 'localcache') continue;
      for (const i of imps) if (layer(i.target) !== 'localcache') expect(i.typeOnly, `${file} -> ${i.target}`).toBe(true);
    }
  });

  it('config imports nothing of ours but errors', () => {
    for (const i of graph.get('config.ts')!) expect(i.target, `config.ts -> ${i.target}`).toBe('errors.ts');
  });

  it('transports import services, auth, model and errors (config, metrics and tracing as types), never the store', () => {
    const allowed = ['api', 'services', 'auth', 'model', 'errors'];
    const typesOnly = ['config', 'metrics', 'tracing'];
    for (const [file, imps] of graph) {
      if (layer(file) === 'auth') for (const i of imps) expect(['auth', 'errors'], `${file} -> ${i.target}`).toContain(layer(i.target));
      if (layer(file) !== 'api') continue;
      for (const i of imps) {
        const l = layer(i.target);
        if (typesOnly.includes(l)) expect(i.typeOnly, `${file} -> ${i.target}`).toBe(true);
        else expect(allowed, `${file} -> ${i.target}`).toContain(l);
      }
    }
  });

  it('only the store talks to Redis scripts and MySQL: no ioredis or mysql2 import, script or SQL elsewhere', () => {
    // Rule: outside src/store/**, no file imports ioredis or mysql2 (not even a type:
    // the store exports Pool, PoolConnection and RedisClient), defines or calls a Lua
    // script (defineCommand, scriptCommand, eval/evalsha, an oe<Name><n> command), or
    // runs SQL (query/execute/getConnection/beginTransaction, or a string that starts
    // a SQL statement). The wiring files may import the client libraries to create
    // clients and pools, but run no script or SQL either.
    const clientImport = /(from\s+|import\(\s*)'(ioredis|mysql2)(\/[^']*)?'/;
    const scriptOrSql = [
      /\bdefineCommand\(|\bscriptCommand\(|\.eval(sha)?(_ro)?\(|\.oe[A-Z]\w*\d+(Buffer)?\b/,
      /\.(query|execute)\s*[<(]|\bgetConnection\(|\bbeginTransaction\(/,
      /['"`]\s*(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM|REPLACE INTO|(CREATE|DROP|ALTER) (TABLE|DATABASE)|TRUNCATE)\b/,
    ];
    const wiring = (file: string) => WIRING.includes(layer(file)) && (!file.includes('/') || file.startsWith('cli/'));
    for (const file of graph.keys()) {
      if (layer(file) === 'store') continue;
      const code = readFileSync(join(SRC, file), 'utf8').replace(/^\s*\/\/.*$|\/\*[\s\S]*?\*\//gm, '');
      if (!wiring(file)) expect(code, `${file} imports a client library`).not.toMatch(clientImport);
      for (const re of scriptOrSql) expect(code, `${file} runs a script or SQL`).not.toMatch(re);
    }
  });

  it('has no import cycles', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
        return;
      }
      state.set(f, 'visiting');
      for (const i of graph.get(f) ?? []) if (!i.typeOnly && graph.has(i.target)) visit(i.target, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of graph.keys()) visit(f, []);
    expect(cycles).toEqual([]);
  });
});
