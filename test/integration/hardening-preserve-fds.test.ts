// issue 13, a smaller one: `--preserve-fds N` larger than the fds the caller passed would hand the
// container tsrun's own fds (the engine's epoll and eventfds, then the state and cgroup dirs). tsrun
// refuses, naming the first fd it was not given, and makes nothing.
import fs from 'node:fs';
import path from 'node:path';
import { makeBundle } from '../helpers/bundle.js';
import { needs, ROOT } from '../helpers/skip.js';

const rootTest = needs(ROOT);

rootTest('--preserve-fds beyond the fds passed is refused, naming the fd; the passed ones still work', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'fds'];
  });
  const fd = fs.openSync(path.join(b.dir, 'held'), 'w');
  t.teardown(() => fs.closeSync(fd));
  for (const verb of ['run', 'create']) {
    const r = await b.tsrun([verb, '--preserve-fds', '6', '--bundle', b.dir, b.id], { extraFds: [fd] });
    t.not(r.code, 0, `${verb}: ${r.stdout}`);
    t.regex(r.stderr, /--preserve-fds 6: fd 4 was not passed to tsrun/, verb);
    t.false(fs.existsSync(path.join(b.root, b.id)), `${verb}: no state made`);
  }
  const ok = await b.tsrun(['run', '--preserve-fds', '1', '--bundle', b.dir, b.id], { extraFds: [fd] });
  t.is(ok.code, 0, ok.stderr);
  t.is((await b.tsrun(['delete', '--force', b.id])).code, 0);
});
