// tsrun as a CNI runtime (src/net/cni.ts) against stand-in plugins (shell scripts that log their
// environment and stdin): the configuration each plugin gets, the order of ADD/CHECK/DEL, result
// passing, and plugin errors as CniPluginError naming the plugin.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addNetworkList, checkNetworkList, delNetworkList, pluginStdin, type CniConfList } from '../../src/net/cni.js';
import { CniPluginError, NetworkError } from '../../src/net/errors.js';

interface Call {
  command: string;
  id: string;
  netns: string;
  ifName: string;
  cniPath: string;
  args: string;
  path: string;
  stdin: Record<string, unknown>;
}

function plugins(t: import('ava').ExecutionContext) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-cni-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const log = path.join(dir, 'log');
  const write = (name: string, body: string) =>
    fs.writeFileSync(
      path.join(dir, name),
      `#!/bin/sh\nin=$(cat)\nprintf '%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n' "$CNI_COMMAND" "$CNI_CONTAINERID" "$CNI_NETNS" "$CNI_IFNAME" "$CNI_PATH" "$CNI_ARGS" "$PATH" "$in" >> ${log}\n${body}\n`,
      { mode: 0o755 },
    );
  // `ipam`-like first plugin: a result with an address; a pass-through second one prints its prevResult.
  write('first', `[ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0","ips":[{"address":"10.9.0.2/24","gateway":"10.9.0.1"}]}'; exit 0`);
  write(
    'second',
    `[ "$CNI_COMMAND" = ADD ] && printf '%s' "$in" | sed 's/.*"prevResult"://; s/}$//' | sed 's/"ips"/"interfaces":[{"name":"eth0"}],"ips"/'; exit 0`,
  );
  write('fails', `echo '{"cniVersion":"1.0.0","code":11,"msg":"try again later","details":"the lock is held"}'; exit 1`);
  write('crashes', `echo 'panic: oops' >&2; exit 2`);
  write('garbage', `echo 'not json'; exit 0`);
  const calls = (): Call[] =>
    fs.existsSync(log)
      ? fs
          .readFileSync(log, 'utf8')
          .trim()
          .split('\n')
          .map((l) => {
            const [command, id, netns, ifName, cniPath, args, p, ...rest] = l.split('\t');
            return { command, id, netns, ifName, cniPath, args, path: p, stdin: JSON.parse(rest.join('\t')) as Record<string, unknown> };
          })
      : [];
  return { dirs: [path.join(dir, 'missing'), dir], calls, dir };
}

const list = (...types: string[]): CniConfList => ({
  cniVersion: '1.0.0',
  name: 'net1',
  plugins: types.map((type) => ({ type, knob: type, ...(type === 'second' ? { capabilities: { portMappings: true, bandwidth: false } } : {}) })),
});
const rt = {
  containerId: 'c1',
  netns: '/run/netns/x',
  ifName: 'eth0',
  args: [['K8S_POD_NAME', 'p'] as [string, string], ['IgnoreUnknown', '1'] as [string, string]],
  capabilityArgs: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }], bandwidth: { rate: 1 } },
};

test('pluginStdin: the list name and version, runtimeConfig for declared capabilities only, prevResult', (t) => {
  const l = list('first', 'second');
  t.deepEqual(pluginStdin(l, l.plugins[0], rt, undefined), { type: 'first', knob: 'first', cniVersion: '1.0.0', name: 'net1' });
  const prev = { cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/24' }] };
  t.deepEqual(pluginStdin(l, l.plugins[1], rt, prev), {
    type: 'second',
    knob: 'second',
    capabilities: { portMappings: true, bandwidth: false },
    cniVersion: '1.0.0',
    name: 'net1',
    runtimeConfig: { portMappings: rt.capabilityArgs.portMappings },
    prevResult: prev,
  });
});

test('ADD runs the list in order with the CNI_* environment, chaining results; CHECK in order; DEL in reverse with the cached result', async (t) => {
  const p = plugins(t);
  const seen: unknown[] = [];
  const result = await addNetworkList(list('first', 'second'), rt, { pluginDirs: p.dirs }, (r) => seen.push(r));
  t.deepEqual(result, { cniVersion: '1.0.0', interfaces: [{ name: 'eth0' }], ips: [{ address: '10.9.0.2/24', gateway: '10.9.0.1' }] });
  t.is(seen.length, 2, 'each result reported before the next plugin');
  await checkNetworkList(list('first', 'second'), rt, result, { pluginDirs: p.dirs });
  await delNetworkList(list('first', 'second'), { ...rt, netns: '' }, result, { pluginDirs: p.dirs });
  const calls = p.calls();
  t.deepEqual(
    calls.map((c) => `${c.command} ${c.stdin.type}`),
    ['ADD first', 'ADD second', 'CHECK first', 'CHECK second', 'DEL second', 'DEL first'],
  );
  for (const c of calls) {
    t.is(c.id, 'c1');
    t.is(c.ifName, 'eth0');
    t.is(c.cniPath, p.dirs.join(':'));
    t.is(c.args, 'K8S_POD_NAME=p;IgnoreUnknown=1');
    t.regex(c.path, /\/usr\/sbin/, 'plugins find iptables whatever PATH the engine gave');
  }
  t.is(calls[0].netns, '/run/netns/x');
  t.is(calls[4].netns, '', 'a DEL whose namespace is gone gets an empty CNI_NETNS');
  t.false('prevResult' in calls[0].stdin);
  t.deepEqual(calls[1].stdin.prevResult, { cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/24', gateway: '10.9.0.1' }] });
  t.deepEqual(calls[2].stdin.prevResult, result, 'CHECK gets the cached result');
  t.deepEqual(calls[5].stdin.prevResult, result, 'DEL gets the cached result');
});

test('a failing plugin is a CniPluginError naming the plugin, its code, message and details; ADD stops there', async (t) => {
  const p = plugins(t);
  const err = await t.throwsAsync(addNetworkList(list('first', 'fails', 'second'), rt, { pluginDirs: p.dirs }), { instanceOf: CniPluginError });
  t.is(err!.code, 'TSRUN_NETWORK');
  t.is(err!.plugin, 'fails');
  t.is(err!.command, 'ADD');
  t.is(err!.cniCode, 11);
  t.is(err!.message, 'network net1: CNI plugin fails ADD failed: try again later (the lock is held)');
  t.deepEqual(
    p.calls().map((c) => c.stdin.type),
    ['first', 'fails'],
  );
  const crash = await t.throwsAsync(addNetworkList(list('crashes'), rt, { pluginDirs: p.dirs }), { instanceOf: CniPluginError });
  t.is(crash!.message, 'network net1: CNI plugin crashes ADD failed: panic: oops', 'stderr when there is no error object');
  await t.throwsAsync(addNetworkList(list('garbage'), rt, { pluginDirs: p.dirs }), {
    message: /garbage ADD failed: printed a result that is not JSON: not json/,
  });
  await t.throwsAsync(addNetworkList(list('nosuch'), rt, { pluginDirs: p.dirs }), {
    instanceOf: NetworkError,
    message: /CNI plugin nosuch not found in .*containernetworking-plugins/,
  });
  await t.throwsAsync(addNetworkList(list('../first'), rt, { pluginDirs: p.dirs }), { message: /invalid CNI plugin type/ });
});

test('DEL goes on past a failing plugin so every plugin releases what it holds, then reports the first failure', async (t) => {
  const p = plugins(t);
  const err = await t.throwsAsync(delNetworkList(list('first', 'fails', 'second'), rt, undefined, { pluginDirs: p.dirs }), { instanceOf: CniPluginError });
  t.is(err!.plugin, 'fails');
  t.is(err!.command, 'DEL');
  t.deepEqual(
    p.calls().map((c) => `${c.command} ${c.stdin.type}`),
    ['DEL second', 'DEL fails', 'DEL first'],
  );
  t.false('prevResult' in p.calls()[0].stdin, 'no cached result: none is sent');
});
