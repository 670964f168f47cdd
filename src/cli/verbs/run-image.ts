// `tsrun run --image REF [options] [ID] [-- CMD ARGS…]`, docker-run-like (tsrun addition).
// Pull progress (when the image is missing) goes to stderr; the container's output streams
// through; the exit status is the container's. With -d the id is printed and tsrun returns.
import { InvalidArgumentError } from '../../errors.js';
import { runImage, type ImageRunEvent } from '../../container/image-run.js';
import { createProgressRenderer } from '../../image/progress.js';
import type { VerbContext } from '../main.js';
import { finishRun } from '../finish-run.js';
import { writeOut } from '../output.js';
import { str } from './flags.js';
import { imageRootOf, progressMode } from './image.js';

function list(v: unknown): string[] | undefined {
  return Array.isArray(v) ? (v as string[]) : undefined;
}

/**
 * docker run --security-opt: seccomp=unconfined|FILE (also Docker's older "seccomp:" form); the
 * last one wins, as in Docker. Other options (apparmor, label, no-new-privileges) are refused,
 * not silently ignored.
 */
export function seccompOption(opts: readonly string[] | undefined): string | undefined {
  let seccomp: string | undefined;
  for (const o of opts ?? []) {
    const m = /^seccomp[=:](.*)$/s.exec(o);
    if (!m) throw new InvalidArgumentError(`--security-opt ${o}: only seccomp=unconfined or seccomp=FILE is supported`);
    if (!m[1]) throw new InvalidArgumentError(`--security-opt ${o}: want seccomp=unconfined or seccomp=FILE`);
    seccomp = m[1];
  }
  return seccomp;
}

export default async function runFromImage({ cl, log }: VerbContext): Promise<number> {
  const mode = progressMode(cl);
  const renderer = createProgressRenderer(process.stderr, mode);
  const network = str(cl, 'network') ?? 'none';
  if (network !== 'none' && network !== 'host') throw new InvalidArgumentError(`--network ${network}: want none or host`);
  const detach = cl.flags.detach === true;
  const ids = cl.args.length - (cl.rest?.length ?? 0);
  const positional = ids > 0 ? cl.args[0] : undefined;
  const name = str(cl, 'name');
  if (name && positional && name !== positional) throw new InvalidArgumentError(`--name ${name} and the id ${positional} differ: give one`);
  const seccomp = seccompOption(list(cl.flags['security-opt']));
  const onEvent = (e: ImageRunEvent) => {
    if (e.type === 'unpack') {
      if (mode === 'json') process.stderr.write(`${JSON.stringify({ ...e, time: new Date().toISOString() })}\n`);
      return;
    }
    renderer.onProgress(e);
  };
  try {
    const r = await runImage({
      image: str(cl, 'image')!,
      id: name ?? positional,
      root: cl.global.root,
      imageRoot: imageRootOf(cl),
      command: cl.rest,
      entrypoint: typeof cl.flags.entrypoint === 'string' ? cl.flags.entrypoint : undefined,
      env: list(cl.flags.env),
      volumes: list(cl.flags.volume),
      workdir: str(cl, 'workdir'),
      user: str(cl, 'user'),
      tty: cl.flags.tty === true,
      readOnly: cl.flags['read-only'] === true,
      seccomp,
      network,
      hostname: str(cl, 'hostname'),
      rm: cl.flags.rm === true,
      detach,
      subreaper: !detach,
      pidFile: str(cl, 'pid-file'),
      consoleSocket: str(cl, 'console-socket'),
      systemdCgroup: cl.global.systemdCgroup,
      logger: log,
      pull: { creds: str(cl, 'creds'), insecure: cl.flags.insecure === true, platform: str(cl, 'platform') },
      onEvent,
    });
    if (detach) writeOut(`${r.id}\n`);
    return await finishRun(r, { root: cl.global.root, id: r.id, detach, keep: cl.flags.rm !== true, logger: log });
  } finally {
    renderer.end();
  }
}
