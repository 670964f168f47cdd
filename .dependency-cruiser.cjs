// The layering of src/ (DESIGN.md "Layers"): an import only points down this list, and peers on
// one line may import each other only where no cycle forms (test/unit/layers.test.ts also checks
// that the folder-level graph is acyclic).
//
//   cli → api → container → process → (image, cgroups, state, seccomp, net, plan) → spec → sys
//   errors.ts and logger.ts sit at the bottom, beside sys/.
//
// Only sys/ loads native code (the addon, koffi); the CLI reaches the core only through api/ and
// container/ (and image/ for the image verbs, net/ for the network verbs, spec/ for spec and features).
const below = {
  cli: ['api', 'front', 'container', 'image', 'net', 'volume', 'spec', 'state'],
  api: ['front', 'container', 'volume', 'process', 'image', 'cgroups', 'state', 'seccomp', 'net', 'plan', 'spec', 'sys'],
  // The Docker-style front (containers with monitors, names, logs) over the core and the volumes.
  front: ['container', 'volume', 'process', 'image', 'cgroups', 'state', 'seccomp', 'net', 'plan', 'spec', 'sys'],
  container: ['process', 'image', 'cgroups', 'state', 'seccomp', 'net', 'plan', 'spec', 'sys'],
  process: ['plan', 'seccomp', 'spec', 'sys'],
  volume: ['image', 'state', 'spec', 'sys'],
  image: ['spec', 'sys'],
  cgroups: ['spec', 'sys'],
  state: ['cgroups', 'spec', 'sys'],
  seccomp: ['spec', 'sys'],
  net: ['spec', 'sys'],
  plan: ['spec', 'sys'],
  spec: ['sys'],
  sys: [],
};
const folders = Object.keys(below);

const layerRules = folders.map((from) => {
  const allowed = new Set([from, ...below[from]]);
  const forbidden = folders.filter((f) => !allowed.has(f));
  return {
    name: `layer-${from}`,
    comment: `src/${from}/ may import only ${[...allowed].map((f) => `src/${f}/`).join(', ')} and the root files`,
    severity: 'error',
    from: { path: `^src/${from}/` },
    to: { path: forbidden.length ? `^src/(${forbidden.join('|')})/` : '^$' },
  };
});

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'root-files-at-the-bottom',
      comment: 'errors.ts and logger.ts import nothing from the folders',
      severity: 'error',
      from: { path: '^src/(errors|logger)\\.ts$' },
      to: { path: '^src/[^/]+/' },
    },
    {
      name: 'native-only-in-sys',
      comment: 'only src/sys/ loads native code: the addon (.node) and koffi',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/sys/' },
      to: { path: '(\\.node$|(^|/)node_modules/koffi/)' },
    },
    {
      name: 'no-circular',
      comment: 'no module-level import cycle (type-only imports vanish at run time and may close one)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|build|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.cjs', '.mjs', '.json', '.node'] },
  },
};
