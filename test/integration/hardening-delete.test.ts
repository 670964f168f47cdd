// issue 13 item 2: `delete --force` of a container placed in a cgroup it shares with other
// processes kills the container, not them (runc kills the whole cgroup only when it is the
// container's own, or the container shares the host PID namespace).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { unifiedMount } from '../../src/cgroups/v2.js';
import { makeBundle, waitFor } from '../helpers/bundle.js';
import { need, needs, ROOT } from '../helpers/skip.js';

const unified = unifiedMount();
const hostTest = needs(ROOT, need(unified, 'needs a cgroup2 hierarchy'));

hostTest('delete --force in a shared cgroup kills the container, not the other processes in it', async (t) => {
  const shared = path.join(unified!, `tsrun-hardening-shared-${process.pid}-${Date.now().toString(36)}`);
  fs.mkdirSync(shared);
  const bystander = spawn('sleep', ['300'], { stdio: 'ignore' });
  t.teardown(() => {
    bystander.kill('SIGKILL');
    return waitFor(() => {
      try {
        fs.rmdirSync(shared);
        return true;
      } catch {
        return false;
      }
    }, 10_000);
  });
  await waitFor(() => bystander.pid !== undefined, 5000);
  fs.writeFileSync(path.join(shared, 'cgroup.procs'), String(bystander.pid));
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'sleep', '300'];
    s.linux!.cgroupsPath = `/${path.basename(shared)}`;
  });
  const r = await b.tsrun(['run', '-d', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  const st = await b.state();
  const init = st.pid as number;
  t.true(fs.readFileSync(path.join(shared, 'cgroup.procs'), 'utf8').split('\n').includes(String(init)));
  const d = await b.tsrun(['delete', '--force', b.id]);
  t.is(d.code, 0, d.stderr);
  t.false(fs.existsSync(`/proc/${init}/stat`) && !/\) Z /.test(fs.readFileSync(`/proc/${init}/stat`, 'utf8')), 'the init is gone');
  t.is(bystander.exitCode, null);
  t.is(bystander.signalCode, null);
  t.true(fs.existsSync(`/proc/${bystander.pid}`), 'the other process in the cgroup is alive');
  t.true(fs.existsSync(shared), 'a cgroup tsrun did not make is left in place');
});
