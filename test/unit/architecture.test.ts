// The tree is the architecture: these rules keep it readable. Producers and consumers meet only in
// the contract (schemas/); product code never reaches development tooling (dev/); no module is
// part of an import circle; no product source file grows past the size a reader takes in at once.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../dev/stack/settings.ts';

const PRODUCT = ['schemas', 'producers', 'consumers', 'pipeline', 'ops', 'cli'];
const ALL = [...PRODUCT, 'dev'];
const MAX_LINES = 420;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return walk(full);
    return /\.(ts|js)$/.test(name) ? [full] : [];
  });
}

const IMPORT_RE =
  /(?:^|[\s;])(?:import|export)\s+(?:[^'";]*?\sfrom\s+)?['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

/** Every source file of the given top-level folders with the files it imports (relative to the root). */
function graph(folders: string[]): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const top of folders)
    for (const file of walk(path.join(PROJECT_ROOT, top))) {
      const text = readFileSync(file, 'utf8').replace(/^\s*\/\/.*$/gm, '');
      const deps = [...text.matchAll(IMPORT_RE)].map((m) =>
        path.relative(PROJECT_ROOT, path.resolve(path.dirname(file), (m[1] ?? m[2])!)),
      );
      g.set(path.relative(PROJECT_ROOT, file), deps);
    }
  return g;
}

const imports = graph(ALL);
const edges = [...imports].flatMap(([from, deps]) => deps.map((to) => ({ from, to })));
const top = (f: string) => f.split('/')[0]!;

describe('architecture', () => {
  it('finds the tree (a check that reads nothing would pass vacuously)', () => {
    expect(imports.size).toBeGreaterThan(80);
    expect(edges.length).toBeGreaterThan(200);
  });

  it('producers and consumers import each other nowhere: they meet in schemas/', () => {
    const crossing = edges.filter(
      (e) =>
        (top(e.from) === 'producers' && top(e.to) === 'consumers') ||
        (top(e.from) === 'consumers' && top(e.to) === 'producers'),
    );
    expect(crossing).toEqual([]);
  });

  it('no product module imports development tooling', () => {
    expect(edges.filter((e) => PRODUCT.includes(top(e.from)) && top(e.to) === 'dev')).toEqual([]);
  });

  it('the contract (schemas/) depends on no stage', () => {
    const fromContract = edges.filter(
      (e) => top(e.from) === 'schemas' && ['producers', 'consumers', 'ops', 'cli', 'dev'].includes(top(e.to)),
    );
    expect(fromContract).toEqual([]);
  });

  it('has no import circles', () => {
    const circles: string[][] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string) => {
      state.set(f, 'open');
      stack.push(f);
      for (const d of imports.get(f) ?? []) {
        if (state.get(d) === 'open') circles.push([...stack.slice(stack.indexOf(d)), d]);
        else if (!state.has(d)) visit(d);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of imports.keys()) if (!state.has(f)) visit(f);
    expect(circles).toEqual([]);
  });

  it(`keeps every source file under ${MAX_LINES} lines`, () => {
    const big = [...imports.keys()]
      .map((f) => ({ f, lines: readFileSync(path.join(PROJECT_ROOT, f), 'utf8').split('\n').length }))
      .filter((x) => x.lines > MAX_LINES);
    expect(big).toEqual([]);
  });
});
