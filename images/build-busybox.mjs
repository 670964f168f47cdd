#!/usr/bin/env node
// The image tsrun ships: an OCI image layout (image-spec image-layout.md) made offline from
// Debian's static busybox (/bin/busybox, package busybox-static). Nothing binary is committed:
// this script writes images/busybox/ (gitignored) at setup, main-job or test time.
// Deterministic: sorted entries, fixed owners and mtimes, so the same busybox gives the same
// digests. Usage: node images/build-busybox.mjs [OUT_DIR]  (prints the OUT_DIR).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const BUSYBOX = '/bin/busybox';
export const IMAGE_NAME = 'localhost/tsrun-busybox:latest';
export const DEFAULT_OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'busybox');
const MTIME = 1704067200; // 2024-01-01T00:00:00Z
const CREATED = new Date(MTIME * 1000).toISOString();

const sha256 = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function octal(n, width) {
  return `${n.toString(8).padStart(width - 1, '0')}\0`;
}

/** One ustar header block (POSIX.1-2001 ustar; names here are all under 100 bytes). */
function header({ name, type, mode, size = 0, uid = 0, gid = 0, linkname = '' }) {
  const h = Buffer.alloc(512);
  if (Buffer.byteLength(name) > 99 || Buffer.byteLength(linkname) > 99) throw new Error(`tar name too long: ${name}`);
  h.write(name, 0);
  h.write(octal(mode, 8), 100);
  h.write(octal(uid, 8), 108);
  h.write(octal(gid, 8), 116);
  h.write(octal(size, 12), 124);
  h.write(octal(MTIME, 12), 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write(linkname, 157);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write(uid === 0 ? 'root' : 'tsrun', 265);
  h.write(gid === 0 ? 'root' : 'tsrun', 297);
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

function tar(entries) {
  const parts = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    parts.push(header({ ...e, size: data.length }));
    if (data.length) parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function busyboxVersion() {
  const out = execFileSync(BUSYBOX, [], { encoding: 'utf8' }).split('\n')[0];
  return /BusyBox v([^\s]+)/.exec(out)?.[1] ?? 'unknown';
}

function layerEntries() {
  const bin = readFileSync(BUSYBOX);
  const version = busyboxVersion();
  const dirs = { bin: 0o755, dev: 0o755, etc: 0o755, home: 0o755, 'home/tsrun': 0o755, proc: 0o755, root: 0o700, run: 0o755,
    sbin: 0o755, sys: 0o755, tmp: 0o1777, usr: 0o755, 'usr/bin': 0o755, 'usr/sbin': 0o755, var: 0o755, 'var/tmp': 0o1777 };
  const files = {
    'etc/passwd': 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\n'
      + 'tsrun:x:1000:1000:tsrun test user:/home/tsrun:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
    'etc/group': 'root:x:0:\ndaemon:x:1:\nstaff:x:50:tsrun\ntsrun:x:1000:\nnogroup:x:65534:\n',
    'etc/os-release': `NAME="tsrun busybox"\nID=busybox\nVERSION_ID=${version}\nPRETTY_NAME="tsrun busybox ${version} (Debian busybox-static)"\n`,
  };
  const entries = [];
  for (const [name, mode] of Object.entries(dirs)) {
    entries.push({ name: `${name}/`, type: '5', mode, ...(name === 'home/tsrun' ? { uid: 1000, gid: 1000 } : {}) });
  }
  for (const [name, text] of Object.entries(files)) entries.push({ name, type: '0', mode: 0o644, data: Buffer.from(text) });
  entries.push({ name: 'bin/busybox', type: '0', mode: 0o755, data: bin });
  const applets = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) if (a !== 'bin/busybox') entries.push({ name: a, type: '2', mode: 0o777, linkname: '/bin/busybox' });
  entries.sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
  return { entries, version };
}

function goArch() {
  return { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' }[process.arch] ?? process.arch;
}

/** Writes the layout to out (atomically: a sibling temp dir renamed into place). Returns out. */
export function buildBusyboxImage(out = DEFAULT_OUT) {
  const stamp = path.join(out, 'busybox.sha256');
  const binDigest = sha256(readFileSync(BUSYBOX));
  if (existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === binDigest && existsSync(path.join(out, 'index.json'))) return out;
  const { entries, version } = layerEntries();
  const raw = tar(entries);
  const layer = gzipSync(raw, { level: 9 });
  const config = Buffer.from(JSON.stringify({
    created: CREATED, architecture: goArch(), os: 'linux',
    config: {
      Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], WorkingDir: '/',
      Labels: { 'org.opencontainers.image.title': 'tsrun busybox', 'org.opencontainers.image.version': version,
        'org.opencontainers.image.description': 'Debian busybox-static, packed by tsrun images/build-busybox.mjs' },
    },
    rootfs: { type: 'layers', diff_ids: [sha256(raw)] },
    history: [{ created: CREATED, created_by: 'images/build-busybox.mjs' }],
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
  }));
  const index = JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length,
      platform: { architecture: goArch(), os: 'linux' },
      annotations: { 'org.opencontainers.image.ref.name': IMAGE_NAME, 'io.containerd.image.name': IMAGE_NAME },
    }],
  });
  const tmp = `${out}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(path.join(tmp, 'blobs', 'sha256'), { recursive: true });
  for (const b of [layer, config, manifest]) writeFileSync(path.join(tmp, 'blobs', 'sha256', sha256(b).slice(7)), b);
  writeFileSync(path.join(tmp, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(path.join(tmp, 'index.json'), index);
  writeFileSync(path.join(tmp, 'busybox.sha256'), `${binDigest}\n`);
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  return out;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${buildBusyboxImage(process.argv[2] ? path.resolve(process.argv[2]) : DEFAULT_OUT)}\n`);
}
