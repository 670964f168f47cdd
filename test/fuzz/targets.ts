// Fuzz targets for the parsers that read hostile input (issue 13, "Fuzzing"): the tar reader, the
// image reference parser, manifest/index/config parsing and config.json validation. Each target
// is a fast-check property: any input must end in a result or a TsrunError, never another
// exception, and within a time bound (a hang or a blow-up shows as a slow run). Inputs are both
// blind (random bytes, random JSON) and structure-aware (well-formed archives, references and
// documents with random fields and random mutations), so the checks past the first byte run too.
//
// Shared by the seed-fixed short pass in test/unit/fuzz-*.test.ts (npm test) and the timed run
// of test/fuzz/run.ts (npm run fuzz).

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { TsrunError } from '../../src/errors.js';
import { formatReference, parseReference } from '../../src/image/reference.js';
import { checkConfig } from '../../src/image/pull.js';
import { OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST, OCI_LAYER_GZIP, parseManifest } from '../../src/image/registry/media-types.js';
import { selectManifest } from '../../src/image/registry/platform.js';
import { readTar } from '../../src/image/tar.js';
import { parseJson } from '../../src/spec/load.js';
import { defaultSpec } from '../../src/spec/defaults.js';
import { validateSpec } from '../../src/spec/validate.js';
import { header, paxRecords, tarball, type RawEntry } from '../helpers/tar-writer.js';

/** The slowest a single input may take before it counts as a hang (ms). */
export const SLOW_MS = 2000;

/** Thrown when an input ends in anything but a result or a TsrunError. */
export class FuzzFinding extends Error {}

function expectTsrunError(e: unknown, what: string): void {
  if (e instanceof TsrunError) return;
  throw new FuzzFinding(`${what}: not a TsrunError: ${e instanceof Error ? `${e.name}: ${e.message.slice(0, 300)}` : String(e)}`, { cause: e });
}

function timed<T>(what: string, fn: () => T): T {
  const t0 = performance.now();
  const r = fn();
  const ms = performance.now() - t0;
  if (ms > SLOW_MS) throw new FuzzFinding(`${what}: took ${Math.round(ms)} ms`);
  return r;
}

async function timedAsync<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await fn();
  const ms = performance.now() - t0;
  if (ms > SLOW_MS) throw new FuzzFinding(`${what}: took ${Math.round(ms)} ms`);
  return r;
}

const sha = (s: string | Buffer) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

// ---------- tar ----------

const PAX_KEYS = [
  'path',
  'linkpath',
  'size',
  'uid',
  'gid',
  'mtime',
  'atime',
  'uname',
  'gname',
  'comment',
  'SCHILY.xattr.user.x',
  'SCHILY.xattr.security.capability',
  'LIBARCHIVE.xattr.user.%41',
  'LIBARCHIVE.xattr.%zz',
  'GNU.sparse.size',
  '',
];
const NUMBERS = [
  '0',
  '1',
  '-1',
  '1.5',
  '1e20',
  '100000000000000000000',
  '9007199254740993',
  '-99999999999999999999.5',
  '0x10',
  ' 7',
  '',
  '00000000000000000000777',
];

const paxValue = fc.oneof(
  fc.constantFrom(...NUMBERS),
  fc.string({ maxLength: 40 }),
  fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
);
const paxMap = fc.dictionary(fc.constantFrom(...PAX_KEYS), paxValue, { maxKeys: 6 });

const rawEntry: fc.Arbitrary<RawEntry> = fc.record(
  {
    name: fc.oneof(fc.constantFrom('a', 'dir/', './b', '../x', '/abs', 'a/b/c', ''), fc.string({ maxLength: 120 })),
    type: fc.oneof(fc.constantFrom('0', '\0', '1', '2', '3', '4', '5', '6', '7', 'D', 'S', 'x', 'g', 'L', 'K'), fc.string({ minLength: 1, maxLength: 1 })),
    body: fc.oneof(fc.constant(''), fc.string({ maxLength: 600 })),
    mode: fc.integer({ min: 0, max: 0o7777 }),
    uid: fc.integer({ min: 0, max: 0o7777777 }),
    gid: fc.integer({ min: 0, max: 0o7777777 }),
    mtime: fc.integer({ min: 0, max: 0o77777777777 }),
    linkname: fc.string({ maxLength: 100 }),
    devmajor: fc.integer({ min: 0, max: 0o7777777 }),
    devminor: fc.integer({ min: 0, max: 0o7777777 }),
    pax: paxMap,
    gnuLongName: fc.boolean(),
    base256Size: fc.boolean(),
    badChecksum: fc.boolean(),
  },
  { requiredKeys: ['name'] },
);

/** A raw extended header (any flag) with arbitrary PAX records: the reader's global/long-name paths. */
const extHeader = fc
  .tuple(
    fc.constantFrom('g', 'x', 'L', 'K'),
    fc.oneof(
      paxMap.map((m) => paxRecords(m)),
      fc.uint8Array({ maxLength: 700 }).map((a) => Buffer.from(a)),
    ),
  )
  .map(([flag, data]) => Buffer.concat([header({ name: 'ext', type: flag }, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512)]));

/** Byte-level mutations of a buffer: flips, truncation, insertion, a copied block. */
function mutate(base: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 64 }) }),
    fc.record({ kind: fc.constant('dup' as const), at: fc.nat(), from: fc.nat() }),
  );
  return fc.tuple(base, fc.array(edit, { maxLength: 6 })).map(([b, edits]) => {
    let out = Buffer.from(b);
    for (const e of edits) {
      if (out.length === 0) break;
      const at = e.at % out.length;
      if (e.kind === 'flip') out[at] = e.v;
      else if (e.kind === 'cut') out = out.subarray(0, at);
      else if (e.kind === 'insert') out = Buffer.concat([out.subarray(0, at), Buffer.from(e.bytes), out.subarray(at)]);
      else {
        const from = (e.from % Math.ceil(out.length / 512)) * 512;
        out = Buffer.concat([out.subarray(0, at), out.subarray(from, from + 512), out.subarray(at)]);
      }
    }
    return out;
  });
}

const wellFormedTar = fc
  .tuple(
    fc.array(
      fc.oneof(
        rawEntry.map((e) => ({ e })),
        extHeader.map((x) => ({ x })),
      ),
      { maxLength: 6 },
    ),
    fc.boolean(),
  )
  .map(([items, end]) => {
    const parts: Buffer[] = [];
    for (const it of items) parts.push('x' in it ? it.x : tarball([it.e], { end: false }));
    if (end) parts.push(Buffer.alloc(1024));
    return Buffer.concat(parts);
  });

export const tarInput: fc.Arbitrary<{ data: Buffer; chunk: number }> = fc.record({
  data: fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)) },
    { weight: 3, arbitrary: wellFormedTar },
    { weight: 3, arbitrary: mutate(wellFormedTar) },
  ),
  chunk: fc.oneof(fc.constant(1 << 20), fc.integer({ min: 1, max: 1024 })),
});

async function* chunks(b: Buffer, n: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
}

/** Read every entry and body; any outcome but done or a TsrunError is a finding. */
export async function tarProperty({ data, chunk }: { data: Buffer; chunk: number }): Promise<void> {
  await timedAsync('readTar', async () => {
    try {
      let n = 0;
      for await (const e of readTar(chunks(data, chunk))) {
        if (typeof e.path !== 'string' || !Number.isSafeInteger(e.size) || e.size < 0) throw new FuzzFinding(`bad entry fields for ${JSON.stringify(e.path)}`);
        if (!Number.isSafeInteger(e.mtime.sec)) throw new FuzzFinding(`mtime ${e.mtime.sec} is not a safe integer`);
        if (n++ % 2 === 0) await e.skip();
        else for await (const _ of e.body()) void _;
      }
    } catch (err) {
      if (err instanceof FuzzFinding) throw err;
      expectTsrunError(err, 'readTar');
    }
  });
}

// ---------- image references ----------

const HEX = '0123456789abcdef';
const hex64 = fc.string({ unit: fc.constantFrom(...HEX), minLength: 64, maxLength: 64 });
const refPiece = fc.oneof(
  fc.constantFrom('docker.io', 'index.docker.io', 'localhost', 'localhost:5000', '127.0.0.1:5000', '[::1]:5000', '[::1', 'Example.com', 'a.b', ':99999', 'x_y'),
  fc.constantFrom('/', '//', ':', '@', '.', '-', '__', '_', 'library', 'busybox', 'A', 'latest', 'sha256:', 'sha512:'),
  hex64.map((h) => `@sha256:${h}`),
  fc.string({ maxLength: 8 }),
  fc.string({ unit: fc.constantFrom(...'abc019.-_/:@'), maxLength: 12 }),
);
export const refInput: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.array(refPiece, { maxLength: 8 }).map((a) => a.join('')),
);

/** parseReference ends in a reference or a TsrunError; a reference formats back to itself. */
export function refProperty(input: string): void {
  timed('parseReference', () => {
    let ref;
    try {
      ref = parseReference(input);
    } catch (err) {
      expectTsrunError(err, `parseReference(${JSON.stringify(input)})`);
      return;
    }
    const again = parseReference(formatReference(ref));
    if (JSON.stringify(again) !== JSON.stringify(ref)) {
      throw new FuzzFinding(`parseReference(${JSON.stringify(input)}) = ${JSON.stringify(ref)} does not round-trip: ${JSON.stringify(again)}`);
    }
  });
}

// ---------- manifests, indexes and image configs ----------

const jsonish = fc.jsonValue({ maxDepth: 4 });
const digest = fc.oneof(
  hex64.map((h) => `sha256:${h}`),
  fc.constantFrom('sha256:', 'md5:abc', ''),
  jsonish,
);
const platform = fc.oneof(
  fc.record(
    {
      os: fc.oneof(fc.constantFrom('linux', 'windows', 'Linux', 'constructor', '__proto__'), jsonish),
      architecture: fc.oneof(fc.constantFrom('amd64', 'arm64', 'arm', 'x86_64', 'aarch64', 'toString', 'hasOwnProperty'), jsonish),
      variant: fc.oneof(fc.constantFrom('v6', 'v7', 'v8', 'v1', ''), jsonish),
      'os.version': jsonish,
      'os.features': fc.oneof(fc.array(fc.string()), jsonish),
    },
    { requiredKeys: [] },
  ),
  jsonish,
);
const descriptor = fc.oneof(
  fc.record(
    {
      mediaType: fc.oneof(
        fc.constantFrom(OCI_MANIFEST, OCI_INDEX, OCI_LAYER_GZIP, DOCKER_MANIFEST, 'constructor', 'application/vnd.oci.image.layer.v1.tar'),
        jsonish,
      ),
      digest,
      size: fc.oneof(fc.nat(), fc.constantFrom(-1, 1.5, 2 ** 60, Number.NaN), jsonish),
      platform,
      urls: fc.oneof(fc.array(fc.string()), jsonish),
      annotations: fc.oneof(fc.dictionary(fc.string(), fc.string()), jsonish),
    },
    { requiredKeys: [] },
  ),
  jsonish,
);
const manifestDoc = fc.record(
  {
    schemaVersion: fc.oneof(fc.constant(2), fc.constant(1), jsonish),
    mediaType: fc.oneof(fc.constantFrom(OCI_MANIFEST, OCI_INDEX, DOCKER_LIST, DOCKER_MANIFEST, 'application/json'), jsonish),
    manifests: fc.oneof(fc.array(descriptor, { maxLength: 4 }), jsonish),
    config: descriptor,
    layers: fc.oneof(fc.array(descriptor, { maxLength: 4 }), jsonish),
    annotations: jsonish,
  },
  { requiredKeys: [] },
);
export const manifestInput = fc.record({
  body: fc.oneof(
    { weight: 4, arbitrary: manifestDoc.map((d) => Buffer.from(JSON.stringify(d))) },
    { weight: 1, arbitrary: jsonish.map((d) => Buffer.from(JSON.stringify(d) ?? 'null')) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((a) => Buffer.from(a)) },
  ),
  contentType: fc.option(fc.constantFrom(OCI_MANIFEST, OCI_INDEX, DOCKER_LIST, DOCKER_MANIFEST, 'application/json; charset=utf-8', 'text/html', ''), {
    nil: undefined,
  }),
  want: fc.record({
    os: fc.constantFrom('linux', 'windows'),
    architecture: fc.constantFrom('amd64', 'arm64', 'arm', 'x86_64'),
    variant: fc.option(fc.constantFrom('v5', 'v6', 'v7', 'v8'), { nil: undefined }),
  }),
  config: fc.oneof(
    fc.record(
      {
        os: fc.oneof(fc.constant('linux'), jsonish),
        architecture: fc.oneof(fc.constant('amd64'), jsonish),
        variant: jsonish,
        created: jsonish,
        rootfs: fc.oneof(fc.record({ type: fc.constant('layers'), diff_ids: fc.oneof(fc.array(digest, { maxLength: 3 }), jsonish) }), jsonish),
      },
      { requiredKeys: [] },
    ),
    jsonish,
  ),
});

/** parseManifest, selectManifest and checkConfig end in a result or a TsrunError. */
export function manifestProperty(input: {
  body: Buffer;
  contentType?: string;
  want: { os: string; architecture: string; variant?: string };
  config: unknown;
}): void {
  timed('parseManifest', () => {
    try {
      const r = parseManifest(input.body, input.contentType, 'fuzz');
      if (r.kind === 'index') {
        const want = { os: input.want.os, architecture: input.want.architecture, ...(input.want.variant ? { variant: input.want.variant } : {}) };
        selectManifest(r.index, want, 'fuzz');
      } else {
        checkConfig(Buffer.from(JSON.stringify(input.config) ?? 'null'), r.manifest, 'fuzz');
      }
    } catch (err) {
      expectTsrunError(err, 'parseManifest/selectManifest/checkConfig');
    }
  });
}

// ---------- config.json ----------

const SPEC_PATHS: string[][] = [
  [],
  ['ociVersion'],
  ['root'],
  ['root', 'path'],
  ['process'],
  ['process', 'args'],
  ['process', 'env'],
  ['process', 'user'],
  ['process', 'user', 'uid'],
  ['process', 'capabilities'],
  ['process', 'capabilities', 'bounding'],
  ['process', 'rlimits'],
  ['process', 'rlimits', '0'],
  ['process', 'consoleSize'],
  ['process', 'scheduler'],
  ['process', 'ioPriority'],
  ['process', 'execCPUAffinity'],
  ['mounts'],
  ['mounts', '0'],
  ['mounts', '0', 'options'],
  ['mounts', '0', 'uidMappings'],
  ['hooks'],
  ['hooks', 'prestart'],
  ['hostname'],
  ['annotations'],
  ['linux'],
  ['linux', 'namespaces'],
  ['linux', 'namespaces', '0'],
  ['linux', 'uidMappings'],
  ['linux', 'resources'],
  ['linux', 'resources', 'devices'],
  ['linux', 'resources', 'memory'],
  ['linux', 'resources', 'cpu'],
  ['linux', 'resources', 'unified'],
  ['linux', 'resources', 'hugepageLimits'],
  ['linux', 'sysctl'],
  ['linux', 'seccomp'],
  ['linux', 'seccomp', 'syscalls'],
  ['linux', 'timeOffsets'],
  ['linux', 'intelRdt'],
  ['linux', 'memoryPolicy'],
  ['linux', 'netDevices'],
  ['linux', 'maskedPaths'],
  ['linux', 'devices'],
];

const specValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, -1, 2 ** 64, 1.5, '', '/', 'a', '..', [], {}, [''], ['a=b'], { type: 'pid' }, { hostID: 0, containerID: 0, size: 1 }),
);

export const specInput = fc.oneof(
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((v) => ({ kind: 'value' as const, v })) },
  {
    weight: 4,
    arbitrary: fc
      .array(fc.tuple(fc.constantFrom(...SPEC_PATHS), specValue), { minLength: 1, maxLength: 5 })
      .map((edits) => ({ kind: 'edits' as const, edits })),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((text) => ({ kind: 'text' as const, text })) },
  // Deep nesting under a field nobody validates: what a recursive walk later (the saved state's
  // JSON.stringify) meets. Built iteratively; up to 200k levels.
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...SPEC_PATHS.filter((p) => p.length > 0)), fc.oneof(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 200_000 })))
      .map(([p, depth]) => {
        let v: unknown = [];
        for (let i = 0; i < depth; i++) v = [v];
        return { kind: 'edits' as const, edits: [[[...p.slice(0, -1), 'x-deep'], v]] as [string[], unknown][] };
      }),
  },
);

function setAt(o: unknown, p: string[], v: unknown): unknown {
  if (p.length === 0) return v;
  const base: Record<string, unknown> = typeof o === 'object' && o !== null ? (o as Record<string, unknown>) : {};
  base[p[0]] = setAt(base[p[0]], p.slice(1), v);
  return base;
}

/** A copy (setAt writes into objects), or the value itself when too deep to copy recursively. */
function cloneOrSelf(v: unknown): unknown {
  try {
    return structuredClone(v);
  } catch {
    return v;
  }
}

/** validateSpec (and parseJson) end in a spec or an InvalidSpecError; a spec always serialises. */
export function specProperty(input: { kind: 'value'; v: unknown } | { kind: 'edits'; edits: [string[], unknown][] } | { kind: 'text'; text: string }): void {
  timed('validateSpec', () => {
    let doc: unknown;
    try {
      if (input.kind === 'text') doc = parseJson('config.json', input.text);
      else if (input.kind === 'value') doc = input.v;
      else {
        doc = structuredClone(defaultSpec()) as unknown;
        for (const [p, v] of input.edits) doc = setAt(doc, p, cloneOrSelf(v));
      }
      const spec = validateSpec(doc);
      JSON.stringify(spec);
    } catch (err) {
      expectTsrunError(err, 'validateSpec');
    }
  });
}

/** The targets by name, for the runner. */
export const TARGETS = {
  tar: { arbitrary: tarInput, async: true, run: tarProperty },
  reference: { arbitrary: refInput, async: false, run: refProperty },
  manifest: { arbitrary: manifestInput, async: false, run: manifestProperty },
  spec: { arbitrary: specInput, async: false, run: specProperty },
} as const;

export type TargetName = keyof typeof TARGETS;

/** A property for fast-check of one target. */
export function propertyOf(name: TargetName): fc.IAsyncPropertyWithHooks<[unknown]> | fc.IPropertyWithHooks<[unknown]> {
  const t = TARGETS[name];
  return t.async
    ? fc.asyncProperty(t.arbitrary as fc.Arbitrary<unknown>, (x) => (t.run as (x: unknown) => Promise<void>)(x))
    : fc.property(t.arbitrary as fc.Arbitrary<unknown>, (x) => (t.run as (x: unknown) => void)(x));
}

export { sha };

/** fast-check's report, or (for a counterexample too deep to print) the seed and path to replay it. */
export function report(details: fc.RunDetails<[unknown]>): string {
  const e = details.errorInstance;
  const finding = `finding: ${e instanceof Error ? e.message : String(e)}`;
  try {
    return `${fc.defaultReportMessage(details) ?? ''}\n${finding}`;
  } catch {
    return `counterexample too deep to print; replay with FUZZ_SEED=${details.seed} (path ${details.counterexamplePath})\n${finding}`;
  }
}
