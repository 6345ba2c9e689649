/**
 * The layout's arrows (README "Layout"): every import of the production code, type imports
 * included, read from the sources and checked — no circles; `common/` imports nothing from
 * `collector/`, `api/` or `cli/`; a source's plugin is imported only through the sources'
 * registry (a parser two parts share lives in collector/ or common/, not in a plugin); the API's
 * domain is pure (no repository, service, fastify or InfluxDB client); routes call services, not
 * repositories; the window’s reads do not import the rollup job; no API file over 350 lines.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(new URL('../..', import.meta.url).pathname);
const PARTS = ['common', 'collector', 'api', 'cli', 'dashboards', 'clients/ts', 'bench'];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (name === 'testdata' || name === 'node_modules') return [];
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

/** Each production file's imports (relative ones, resolved to files under the root), type-only imports included. */
function graph(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of PARTS.flatMap((p) => files(join(ROOT, p)))) {
    const text = readFileSync(file, 'utf8');
    const specs = [...text.matchAll(/^(?:import|export)\b[^'"`;]*?from\s+'([^']+)'|^import\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/gm)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
    const deps = specs.filter((s) => s.startsWith('.')).map((s) => relative(ROOT, resolve(dirname(file), s.replace(/\.js$/, '.ts'))));
    out.set(relative(ROOT, file), [...new Set(deps)]);
  }
  return out;
}

/** The strongly connected components of more than one file, or with a self-loop (Tarjan). */
function circles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (g.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

const g = graph();
const edges = [...g].flatMap(([from, deps]) => deps.map((to) => ({ from, to })));

describe('the layout’s arrows', () => {
  it('reads the whole tree', () => {
    expect(g.size).toBeGreaterThan(100);
    expect(g.get('api/app.ts')).toContain('api/services/lifecycle.ts');
  });

  it('has no import circle, type imports included', () => {
    expect(circles(g)).toEqual([]);
  });

  it('points down: common/ imports nothing from the parts above it', () => {
    expect(edges.filter((e) => e.from.startsWith('common/') && /^(collector|api|cli|dashboards|clients|bench)\//.test(e.to))).toEqual([]);
  });

  it('reaches a source’s plugin only through the sources’ registry', () => {
    const plugin = /^collector\/sources\/([^/]+)\//;
    const outside = edges.filter((e) => plugin.test(e.to) && e.from !== 'collector/sources/index.ts' && plugin.exec(e.from)?.[1] !== plugin.exec(e.to)?.[1]);
    expect(outside).toEqual([]);
  });

  it('keeps the API’s domain pure, its routes on services, and the window’s reads off the rollup job', () => {
    const domain = [...g].filter(([f]) => f.startsWith('api/domain/'));
    for (const [file] of domain) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      expect(text, file).not.toMatch(/from '(fastify|@influxdata\/influxdb-client|node:fs|node:http)'/);
    }
    expect(edges.filter((e) => e.from.startsWith('api/domain/') && /^api\/(repo|services|jobs|routes)\//.test(e.to))).toEqual([]);
    // routes call services: no repository, no store
    expect(edges.filter((e) => e.from.startsWith('api/routes/') && /^(api\/repo\/|common\/storage\/)/.test(e.to))).toEqual([]);
    expect(edges.filter((e) => e.from.startsWith('api/repo/') && /^api\/(jobs|services|routes)\//.test(e.to))).toEqual([]);
  });

  it('keeps every production file of the API under 350 lines (issue 22: a file one reads whole)', () => {
    const long = [...g.keys()].filter((f) => f.startsWith('api/')).map((f) => ({ file: f, lines: readFileSync(join(ROOT, f), 'utf8').split('\n').length - 1 })).filter((f) => f.lines > 350);
    expect(long).toEqual([]);
  });
});
