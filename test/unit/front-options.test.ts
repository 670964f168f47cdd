// The readers of `docker run` options (src/front/options.ts): mounts, env files, log and security
// options, capabilities, resources, extra hosts and DNS.
import test from 'ava';
import {
  capName,
  effectiveCaps,
  extraHosts,
  humanSize,
  parseEnvFile,
  parseLogOpts,
  parseMountFlag,
  parseSecurityOpts,
  parseTmpfsFlag,
  parseVolumeFlag,
  resolvWithDns,
  resourcesFrom,
} from '../../src/front/options.js';
import { DOCKER_CAPS } from '../../src/image/bundle.js';
import { CAPABILITIES } from '../../src/spec/known-names.js';

test('-v: host paths bind, names are named volumes, a lone path is anonymous; modes', (t) => {
  t.deepEqual(parseVolumeFlag('/srv/a:/a'), { kind: 'bind', source: '/srv/a', target: '/a', readonly: false });
  t.deepEqual(parseVolumeFlag('/srv/a/../b:/a:ro'), { kind: 'bind', source: '/srv/b', target: '/a', readonly: true });
  t.deepEqual(parseVolumeFlag('data:/data'), { kind: 'volume', name: 'data', target: '/data', readonly: false });
  t.deepEqual(parseVolumeFlag('data:/data:ro'), { kind: 'volume', name: 'data', target: '/data', readonly: true });
  t.deepEqual(parseVolumeFlag('/cache'), { kind: 'volume', target: '/cache', readonly: false });
  t.deepEqual(parseVolumeFlag('/cache:ro'), { kind: 'volume', target: '/cache', readonly: true });
  t.throws(() => parseVolumeFlag('data:rel'), { message: /mount path must be absolute/ });
  t.throws(() => parseVolumeFlag('a b:/x'), { message: /invalid characters for a local volume name/ });
  t.throws(() => parseVolumeFlag('/a:/b:rx'), { message: /invalid mode: rx/ });
  t.throws(() => parseVolumeFlag('/a:/b:ro:z'), { message: /invalid volume specification/ });
});

test('--mount: bind, volume (named or anonymous, readonly), tmpfs with size and mode; bad keys refused', (t) => {
  t.deepEqual(parseMountFlag('type=bind,src=/srv,dst=/s,readonly'), { kind: 'bind', source: '/srv', target: '/s', readonly: true });
  t.deepEqual(parseMountFlag('type=volume,source=vol,target=/v'), { kind: 'volume', name: 'vol', target: '/v', readonly: false });
  t.deepEqual(parseMountFlag('target=/v,ro=true'), { kind: 'volume', target: '/v', readonly: true });
  t.deepEqual(parseMountFlag('type=tmpfs,target=/t'), { kind: 'tmpfs', target: '/t', options: ['nosuid', 'nodev', 'noexec', 'mode=1777'] });
  t.deepEqual(parseMountFlag('type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1777'), {
    kind: 'tmpfs',
    target: '/t',
    options: ['nosuid', 'nodev', 'noexec', 'size=1m', 'mode=1777'],
  });
  t.throws(() => parseMountFlag('type=bind,source=rel,target=/x'), { message: /absolute path/ });
  t.throws(() => parseMountFlag('type=volume,source=v'), { message: /target is required/ });
  t.throws(() => parseMountFlag('type=nfs,target=/x'), { message: /invalid mount type "nfs"/ });
  t.throws(() => parseMountFlag('type=volume,target=/x,colour=red'), { message: /unexpected key 'colour'/ });
});

test("--tmpfs: Docker's defaults (noexec, nosuid, nodev, mode 1777) unless the options say otherwise", (t) => {
  t.deepEqual(parseTmpfsFlag('/run'), { kind: 'tmpfs', target: '/run', options: ['noexec', 'nosuid', 'nodev', 'mode=1777'] });
  t.deepEqual(parseTmpfsFlag('/run:exec,size=64k,mode=700'), { kind: 'tmpfs', target: '/run', options: ['nosuid', 'nodev', 'exec', 'size=64k', 'mode=700'] });
  t.throws(() => parseTmpfsFlag('run'), { message: /absolute/ });
});

test('--env-file: K=V lines, bare K from the host, comments and blank lines skipped, whitespace in a name refused', (t) => {
  t.deepEqual(parseEnvFile('# c\nA=1\n\n  B=two words\r\nHOSTVAR\nUNSET\n', { HOSTVAR: 'h' }), ['A=1', 'B=two words', 'HOSTVAR=h']);
  t.throws(() => parseEnvFile('BAD KEY=1', {}, 'f.env'), { message: "f.env line 1: variable 'BAD KEY' contains whitespaces" });
});

test('--log-opt: max-size (decimal units) and max-file; bounded by default; unknown options refused', (t) => {
  t.deepEqual(parseLogOpts([]), { maxSize: 20_000_000, maxFiles: 5 });
  t.deepEqual(parseLogOpts(['max-size=10k', 'max-file=3']), { maxSize: 10_000, maxFiles: 3 });
  t.is(parseLogOpts(['max-size=-1']).maxSize, 0, '-1: unlimited');
  t.is(humanSize('1.5m'), 1_500_000);
  t.throws(() => parseLogOpts(['max-file=0']), { message: /max-file/ });
  t.throws(() => parseLogOpts(['compress=true']), { message: /unknown log opt 'compress'/ });
});

test('--security-opt: seccomp and no-new-privileges; anything else refused, not ignored', (t) => {
  t.deepEqual(parseSecurityOpts(['seccomp=unconfined', 'no-new-privileges']), { seccomp: 'unconfined', noNewPrivileges: true });
  t.deepEqual(parseSecurityOpts(['seccomp:/p.json', 'no-new-privileges=false']), { seccomp: '/p.json', noNewPrivileges: false });
  t.throws(() => parseSecurityOpts(['apparmor=unconfined']), { message: /Invalid --security-opt: "apparmor=unconfined"/ });
});

test('capabilities: the default set minus --cap-drop plus --cap-add, ALL either way, --privileged all', (t) => {
  t.is(capName('net_admin'), 'CAP_NET_ADMIN');
  t.is(capName('CAP_SYS_ADMIN'), 'CAP_SYS_ADMIN');
  t.throws(() => capName('FLY'), { message: 'invalid capability: FLY' });
  const caps = effectiveCaps(DOCKER_CAPS, ['NET_ADMIN'], ['CHOWN'], false);
  t.true(caps.includes('CAP_NET_ADMIN'));
  t.false(caps.includes('CAP_CHOWN'));
  t.deepEqual(effectiveCaps(DOCKER_CAPS, ['KILL'], ['ALL'], false), ['CAP_KILL']);
  t.deepEqual(effectiveCaps(DOCKER_CAPS, ['ALL'], [], false), [...CAPABILITIES]);
  t.deepEqual(effectiveCaps(DOCKER_CAPS, [], ['ALL'], true), [...CAPABILITIES]);
});

test('--memory, --cpus, --pids-limit into linux.resources', (t) => {
  t.deepEqual(resourcesFrom({ memory: '512m', cpus: '1.5', pidsLimit: 100 }), {
    memory: { limit: 512 * 1024 * 1024 },
    cpu: { period: 100_000, quota: 150_000 },
    pids: { limit: 100 },
  });
  t.deepEqual(resourcesFrom({ pidsLimit: -1 }), { pids: { limit: -1 } });
  t.is(resourcesFrom({}), undefined);
  t.throws(() => resourcesFrom({ cpus: 'lots' }), { message: /--cpus/ });
  t.throws(() => resourcesFrom({ memory: '1 potato' }), { message: /--memory/ });
});

test('--add-host and --dns', (t) => {
  t.is(extraHosts(['db:10.0.0.2', 'v6=[::1]']), '10.0.0.2\tdb\n::1\tv6\n');
  t.throws(() => extraHosts(['nohost']), { message: /bad format for add-host/ });
  t.throws(() => extraHosts(['x:not-an-ip']), { message: /invalid IP address/ });
  t.is(resolvWithDns('search lan\nnameserver 127.0.0.53\noptions edns0\n', ['9.9.9.9']), 'search lan\noptions edns0\nnameserver 9.9.9.9\n');
  t.throws(() => resolvWithDns('', ['dns.example']), { message: 'dns.example is not an ip address' });
});
