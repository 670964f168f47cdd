// src/ is layered (DESIGN.md "Layers"): dependency-cruiser checks the rules of
// .dependency-cruiser.cjs (each folder imports only the folders below it, only sys/ loads native
// code, no module cycle), and this test also folds the module graph into a folder graph and
// checks that it has no cycle, naming one if it does.
import test from 'ava';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult } from 'dependency-cruiser';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(import.meta.url);

let cruised: Promise<ICruiseResult> | undefined;

/** One cruise for both tests (paths in the config are relative to the repository). */
function cruiseSrc(): Promise<ICruiseResult> {
  cruised ??= (async () => {
    const config = require(path.join(repo, '.dependency-cruiser.cjs'));
    const cwd = process.cwd();
    process.chdir(repo);
    try {
      const r = await cruise(['src'], { ruleSet: config, validate: true, ...config.options });
      if (typeof r.output === 'string') throw new Error('dependency-cruiser returned text, not a result');
      return r.output;
    } finally {
      process.chdir(cwd);
    }
  })();
  return cruised;
}

function folderOf(source: string): string | null {
  const m = /^src\/([^/]+)\//.exec(source);
  return m ? m[1] : null;
}

/** A cycle in the graph as a list of nodes, or null. */
export function findCycle(edges: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
      if (state.get(m) === 'open') return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of edges.keys()) {
    if (!state.has(n)) {
      const c = visit(n);
      if (c) return c;
    }
  }
  return null;
}

test('findCycle finds a cycle and accepts a DAG', (t) => {
  const g = (pairs: [string, string][]) => {
    const m = new Map<string, Set<string>>();
    for (const [a, b] of pairs) m.set(a, new Set([...(m.get(a) ?? []), b]));
    return m;
  };
  t.is(
    findCycle(
      g([
        ['a', 'b'],
        ['b', 'c'],
        ['a', 'c'],
      ]),
    ),
    null,
  );
  t.deepEqual(
    findCycle(
      g([
        ['a', 'b'],
        ['b', 'c'],
        ['c', 'a'],
      ]),
    ),
    ['a', 'b', 'c', 'a'],
  );
});

test('src/ keeps the layering rules (.dependency-cruiser.cjs)', async (t) => {
  const r = await cruiseSrc();
  const violations = r.summary.violations.map(
    (v) => `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' → ')})` : ''}`,
  );
  t.deepEqual(violations, []);
  t.true(r.summary.totalCruised > 100, `only ${r.summary.totalCruised} modules were read`);
});

test('the folder-level import graph of src/ has no cycle', async (t) => {
  const r = await cruiseSrc();
  const edges = new Map<string, Set<string>>();
  for (const m of r.modules) {
    const from = folderOf(m.source);
    if (!from) continue;
    for (const d of m.dependencies) {
      const to = folderOf(d.resolved);
      if (!to || to === from) continue;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)!.add(to);
    }
  }
  t.true(edges.size >= 8, `only ${edges.size} folders import others`);
  t.is(findCycle(edges)?.join(' → ') ?? null, null);
});
