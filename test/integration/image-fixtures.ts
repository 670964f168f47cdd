// Fixtures for the image integration tests (not a test file itself): a private image root and
// state root per test with a teardown that deletes every container, checks that no mount is
// left below them and removes them; the shipped busybox image; OCI layouts with extra layers.
import type { ExecutionContext } from 'ava';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildBusyboxImage } from '../../images/build-busybox.mjs';
import { mountsUnder, runCommand, runTsrun, uniqueId, type RunOptions, type TsrunResult } from '../helpers/bundle.js';
import { tarball, type RawEntry } from '../helpers/tar-writer.js';

export const SHIPPED = 'localhost/tsrun-busybox:latest';

export interface ImageEnv {
  dir: string;
  imageRoot: string;
  root: string;
  tsrun(args: readonly string[], o?: RunOptions): Promise<TsrunResult>;
  /** The shipped image's OCI layout (built once per env). */
  layout(): string;
  id(tag?: string): string;
}

export async function imageEnv(t: ExecutionContext): Promise<ImageEnv> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-imgtest-'));
  const imageRoot = path.join(dir, 'images');
  const root = path.join(dir, 'state');
  const io = path.join(dir, 'io');
  fs.mkdirSync(io);
  let layout: string | undefined;
  const env: ImageEnv = {
    dir,
    imageRoot,
    root,
    tsrun: (args, o = {}) => runTsrun(['--root', root, '--image-root', imageRoot, ...args], { ioDir: io, timeoutMs: 60_000, ...o }),
    layout: () => (layout ??= buildBusyboxImage(path.join(dir, 'busybox-layout'))),
    id: (tag = 'img') => uniqueId(tag),
  };
  t.teardown(async () => {
    const leaks: string[] = [];
    const ids = new Set<string>();
    for (const d of [root, path.join(imageRoot, 'containers')]) {
      try {
        for (const n of fs.readdirSync(d)) if (!n.startsWith('.')) ids.add(n);
      } catch {
        /* never made */
      }
    }
    for (const id of ids) {
      const r = await env.tsrun(['delete', '--force', id]);
      if (r.code !== 0 && !/does not exist/.test(r.stderr)) leaks.push(`delete --force ${id}: ${r.stderr.trim()}`);
    }
    for (const mp of mountsUnder([dir])) {
      leaks.push(`host mount left at ${mp}`);
      await runCommand('umount', ['-l', mp]);
    }
    if (mountsUnder([dir]).length) throw new Error(`mounts remain under ${dir}; not removing it`);
    fs.rmSync(dir, { recursive: true, force: true });
    if (leaks.length) throw new Error(`the test leaked: ${leaks.join('; ')}`);
  });
  return env;
}

export const sha256 = (b: Buffer | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface LayerBlob {
  data: Buffer;
  diffId: string;
  mediaType: string;
}

/** The shipped image's one layer (busybox) as stored in its layout. */
export function busyboxLayer(layoutDir: string): LayerBlob {
  const index = JSON.parse(fs.readFileSync(path.join(layoutDir, 'index.json'), 'utf8'));
  const blob = (d: string) => fs.readFileSync(path.join(layoutDir, 'blobs', 'sha256', d.slice(7)));
  const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
  const config = JSON.parse(blob(manifest.config.digest).toString());
  return { data: blob(manifest.layers[0].digest), diffId: config.rootfs.diff_ids[0], mediaType: manifest.layers[0].mediaType };
}

/** A layer from raw tar entries (directories first, as image builders write them). */
export function layerOf(entries: RawEntry[], gzip = true): LayerBlob {
  const raw = tarball(entries.map((e) => ({ mtime: 1704067200, ...e })));
  return gzip
    ? { data: gzipSync(raw), diffId: sha256(raw), mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }
    : { data: raw, diffId: sha256(raw), mediaType: 'application/vnd.oci.image.layer.v1.tar' };
}

/** Writes an OCI image layout holding one image; returns its dir. */
export function writeLayout(dir: string, o: { name: string; layers: LayerBlob[]; config?: Record<string, unknown> }): string {
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer) => {
    fs.writeFileSync(path.join(dir, 'blobs', 'sha256', sha256(b).slice(7)), b);
    return { digest: sha256(b), size: b.length };
  };
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const config = Buffer.from(
    JSON.stringify({
      created: '2024-01-01T00:00:00Z',
      architecture: arch,
      os: 'linux',
      config: { Cmd: ['sh'], Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], ...(o.config ?? {}) },
      rootfs: { type: 'layers', diff_ids: o.layers.map((l) => l.diffId) },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...put(config) },
      layers: o.layers.map((l) => ({ mediaType: l.mediaType, ...put(l.data) })),
    }),
  );
  const m = put(manifest);
  fs.writeFileSync(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  fs.writeFileSync(
    path.join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': o.name } }],
    }),
  );
  return dir;
}

/** Progress/unpack JSON lines a `--progress json` call wrote to stderr. */
export function events(r: TsrunResult): Record<string, unknown>[] {
  return r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function overlayMountsUnder(dir: string): string[] {
  return mountsUnder([dir]);
}
