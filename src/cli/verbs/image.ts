// `tsrun image pull|import|ls|inspect|rm|prune` (tsrun addition). The image root is the global
// --image-root, else $TSRUN_IMAGE_ROOT, else /var/lib/tsrun. Progress goes to stderr; stdout
// carries only results (names, IDs, JSON), so scripts can read it.
import { describeError, InvalidArgumentError } from '../../errors.js';
import { truncateId, type ImageRecord } from '../../image/image-store.js';
import { createProgressRenderer, formatBytes, type ProgressMode } from '../../image/progress.js';
import { familiarReference, parseReference } from '../../image/reference.js';
import type { VerbContext } from '../main.js';
import type { ParsedCommandLine } from '../parse.js';
import { str } from './flags.js';

export const DEFAULT_IMAGE_ROOT = '/var/lib/tsrun';

export function imageRootOf(cl: ParsedCommandLine, env: NodeJS.ProcessEnv = process.env): string {
  return cl.global.imageRoot ?? (env.TSRUN_IMAGE_ROOT || DEFAULT_IMAGE_ROOT);
}

export function progressMode(cl: ParsedCommandLine): ProgressMode {
  const m = str(cl, 'progress') ?? 'auto';
  if (m !== 'auto' && m !== 'json' && m !== 'none' && m !== 'tty') throw new InvalidArgumentError(`--progress ${m}: want auto, json or none`);
  return m;
}

function ago(iso: string | undefined, now = Date.now()): string {
  if (!iso) return 'N/A';
  const s = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return 'N/A';
  const units: [number, string][] = [
    [365 * 86400, 'year'],
    [30 * 86400, 'month'],
    [7 * 86400, 'week'],
    [86400, 'day'],
    [3600, 'hour'],
    [60, 'minute'],
  ];
  for (const [n, u] of units) if (s >= n) return `${Math.floor(s / n)} ${u}${Math.floor(s / n) > 1 ? 's' : ''} ago`;
  return 'Less than a minute ago';
}

/** `busybox:latest` for `docker.io/library/busybox:latest`, as Docker prints it. */
function familiarName(name: string): string {
  try {
    return familiarReference(parseReference(name));
  } catch {
    return name;
  }
}

/** REPOSITORY and TAG as `docker images` shows them. */
function repoTag(name: string): [string, string] {
  const fam = familiarReference(parseReference(name));
  const colon = fam.lastIndexOf(':');
  return colon > fam.lastIndexOf('/') ? [fam.slice(0, colon), fam.slice(colon + 1)] : [fam, '<none>'];
}

export function imageTable(records: ImageRecord[]): string {
  const rows: string[][] = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
  for (const r of records) {
    const names = r.names.length ? r.names : [''];
    for (const n of names) {
      const [repo, tag] = n ? repoTag(n) : ['<none>', '<none>'];
      rows.push([repo, tag, truncateId(r.id), ago(r.created), formatBytes(r.size)]);
    }
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return (
    rows
      .map((row) =>
        row
          .map((c, i) => (i === row.length - 1 ? c : c.padEnd(w[i] + 3)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

export default async function image({ cl }: VerbContext): Promise<number> {
  const imageRoot = imageRootOf(cl);
  const out = (s: string) => process.stdout.write(s);
  switch (cl.subcommand) {
    case 'pull': {
      const { pull } = await import('../../image/pull.js');
      const renderer = createProgressRenderer(process.stderr, progressMode(cl));
      const ctl = new AbortController();
      const stop = () => ctl.abort(new Error('interrupted'));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        const rec = await pull(cl.args[0], {
          imageRoot,
          onProgress: renderer.onProgress,
          signal: ctl.signal,
          creds: str(cl, 'creds'),
          insecure: cl.flags.insecure === true,
          platform: str(cl, 'platform'),
        });
        renderer.end();
        out(`${rec.names[0] ?? rec.repoDigests[0] ?? rec.id}\n`);
      } finally {
        renderer.end();
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
      return 0;
    }
    case 'import': {
      const { importImage } = await import('../../image/import.js');
      // docker load [-i FILE] reads stdin without -i; `import -` too.
      const input = str(cl, 'input');
      if (input !== undefined && cl.args[0] !== undefined) throw new InvalidArgumentError(`give the archive once: --input ${input} or ${cl.args[0]}`);
      const path = input ?? cl.args[0] ?? '-';
      if (path === '-' && process.stdin.isTTY) throw new InvalidArgumentError('requested load from stdin, but stdin is empty');
      const source = path === '-' ? { stream: process.stdin, name: 'stdin' } : path;
      const recs = await importImage(source, { imageRoot, name: str(cl, 'name'), platform: str(cl, 'platform') });
      for (const r of recs) out(r.names.length ? r.names.map((n) => `Loaded image: ${n}\n`).join('') : `Loaded image ID: ${r.id}\n`);
      return 0;
    }
    case 'ls': {
      const { ImageStore } = await import('../../image/image-store.js');
      const records = await new ImageStore(imageRoot).list();
      records.sort((a, b) => (b.created ?? '').localeCompare(a.created ?? ''));
      const format = str(cl, 'format') ?? 'table';
      if (cl.flags.quiet === true) out([...new Set(records.map((r) => truncateId(r.id)))].map((x) => `${x}\n`).join(''));
      else if (format === 'json') out(`${JSON.stringify(records, null, 2)}\n`);
      else if (format === 'table') out(imageTable(records));
      else throw new InvalidArgumentError(`--format ${format}: want table or json`);
      return 0;
    }
    case 'inspect': {
      const { ImageStore } = await import('../../image/image-store.js');
      const { readImageConfig } = await import('../../container/image-run.js');
      const { chainIDs, getLayer } = await import('../../image/layers.js');
      const store = new ImageStore(imageRoot);
      const rec = await store.get(cl.args[0]);
      const config = await readImageConfig(store, rec);
      const unpacked = chainIDs(rec.diffIds).map((c) => ({ chainID: c, unpacked: getLayer(imageRoot, c) !== undefined }));
      out(`${JSON.stringify([{ ...rec, config, layersUnpacked: unpacked }], null, 2)}\n`);
      return 0;
    }
    case 'rm': {
      const { removeImages } = await import('../../image/gc.js');
      const { imageUsers } = await import('../../front/image-users.js');
      const users = await imageUsers(imageRoot, cl.global.root);
      const opts = { force: cl.flags.force === true, usersOf: (id: string) => users.get(id) ?? [] };
      // As docker rmi: each reference on its own; a refused or missing one does not stop the rest.
      let failed = 0;
      for (const ref of cl.args) {
        try {
          const r = await removeImages(imageRoot, [ref], opts);
          for (const n of r.untagged) out(`Untagged: ${familiarName(n)}\n`);
          for (const id of r.images) out(`Deleted: ${id}\n`);
        } catch (err) {
          if (cl.args.length === 1) throw err;
          process.stderr.write(`Error: ${describeError(err)}\n`);
          failed++;
        }
      }
      return failed ? 1 : 0;
    }
    case 'prune': {
      const { pruneImages } = await import('../../image/gc.js');
      const r = await pruneImages(imageRoot);
      for (const id of r.images) out(`Deleted image: ${id}\n`);
      for (const c of r.containers) out(`Deleted container layer: ${c}\n`);
      for (const l of r.layers) out(`Deleted layer: ${l}\n`);
      out(`Total reclaimed space: ${formatBytes(r.bytes)}\n`);
      return 0;
    }
    default:
      throw new InvalidArgumentError(`unknown image subcommand ${JSON.stringify(cl.subcommand)}`);
  }
}
