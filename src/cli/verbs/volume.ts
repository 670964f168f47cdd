// `tsrun volume create|ls|inspect|rm|prune`, Docker's grammar and words. The store is
// src/volume/store.ts; which containers use a volume is the front's to know (a volume in use is
// never removed, whatever the state of the container: data is lost only by an explicit rm).
import { describeError, InvalidArgumentError } from '../../errors.js';
import { VOLUME_COMMANDS } from '../../front/commands.js';
import { volumeInUseError, volumesInUse } from '../../front/containers.js';
import { parseLabels } from '../../front/options.js';
import type { FrontParsed } from '../../front/grammar.js';
import { VolumeStore } from '../../volume/store.js';
import { diskUsage } from '../../front/store.js';
import { formatBytes } from '../../image/progress.js';
import type { VerbContext } from '../main.js';
import { writeOut } from '../output.js';
import { confirm, runGroup } from './container.js';

export default async function volume(ctx: VerbContext): Promise<number> {
  return runGroup(ctx, 'volume', 'Manage volumes', VOLUME_COMMANDS, async (_ctx, sub, p: FrontParsed, roots) => {
    const store = new VolumeStore(roots.imageRoot);
    const f = p.flags;
    switch (sub) {
      case 'create': {
        if (f.driver !== 'local') throw new InvalidArgumentError(`volume driver ${String(f.driver)}: only "local" is available`);
        const given = typeof f.name === 'string' ? f.name : p.args[0];
        if (typeof f.name === 'string' && p.args[0] && p.args[0] !== f.name)
          throw new InvalidArgumentError(`conflicting options: either specify --name or provide positional arg, not both`);
        const labels = parseLabels(Array.isArray(f.label) ? f.label : []);
        const v = given ? store.ensure(given, { labels }).volume : store.createAnonymous();
        writeOut(`${v.Name}\n`);
        return 0;
      }
      case 'ls': {
        const all = store.list();
        if (f.quiet === true) writeOut(all.map((v) => `${v.Name}\n`).join(''));
        else if (f.format === 'json')
          writeOut(
            all.map((v) => `${JSON.stringify({ Driver: v.Driver, Labels: v.Labels, Mountpoint: v.Mountpoint, Name: v.Name, Scope: v.Scope })}\n`).join(''),
          );
        else if (f.format === 'table') {
          const w = Math.max(15, ...all.map((v) => v.Driver.length + 10));
          writeOut(`${'DRIVER'.padEnd(w)}VOLUME NAME\n${all.map((v) => `${v.Driver.padEnd(w)}${v.Name}\n`).join('')}`);
        } else throw new InvalidArgumentError(`--format ${String(f.format)}: want table or json`);
        return 0;
      }
      case 'inspect': {
        const out: unknown[] = [];
        let code = 0;
        for (const n of p.args) {
          try {
            const v = store.inspect(n);
            out.push({ CreatedAt: v.CreatedAt, Driver: v.Driver, Labels: v.Labels, Mountpoint: v.Mountpoint, Name: v.Name, Options: null, Scope: v.Scope });
          } catch (err) {
            process.stderr.write(`tsrun: Error response: ${describeError(err)}\n`);
            code = 1;
          }
        }
        writeOut(`${JSON.stringify(out, null, 4)}\n`);
        return code;
      }
      case 'rm': {
        const used = volumesInUse(roots.imageRoot);
        let code = 0;
        for (const n of p.args) {
          try {
            const users = used.get(n);
            if (users?.length) throw volumeInUseError(n, users);
            try {
              store.remove(n);
            } catch (err) {
              if (f.force === true && (err as { code?: string }).code === 'TSRUN_NOT_FOUND') continue;
              throw err;
            }
            writeOut(`${n}\n`);
          } catch (err) {
            process.stderr.write(`tsrun: Error response: ${describeError(err)}\n`);
            code = 1;
          }
        }
        return code;
      }
      case 'prune': {
        const all = f.all === true;
        if (
          f.force !== true &&
          !(await confirm(
            `WARNING! This will remove ${all ? 'all' : 'anonymous'} local volumes not used by at least one container.\nAre you sure you want to continue?`,
          ))
        )
          return 0;
        const used = volumesInUse(roots.imageRoot);
        const gone: string[] = [];
        let bytes = 0;
        for (const v of store.list()) {
          if (used.get(v.Name)?.length) continue;
          if (!all && !v.Anonymous) continue;
          bytes += diskUsage(v.Mountpoint);
          store.remove(v.Name);
          gone.push(v.Name);
        }
        writeOut(gone.length ? `Deleted Volumes:\n${gone.map((g) => `${g}\n`).join('')}\n` : '');
        writeOut(`Total reclaimed space: ${formatBytes(bytes)}\n`);
        return 0;
      }
      default:
        throw new InvalidArgumentError(`volume ${sub}: unknown`);
    }
  });
}
