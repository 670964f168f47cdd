// tsrun as a CNI runtime (CNI spec 1.0.0, "Execution Protocol" and "Execution of Network
// Configurations"): each plugin of a network configuration list is an executable found in the
// plugin directories, run with CNI_COMMAND/CNI_CONTAINERID/CNI_NETNS/CNI_IFNAME/CNI_ARGS/CNI_PATH
// in its environment and its own configuration on stdin, which the runtime derives from the list:
// the list's `cniVersion` and `name`, `runtimeConfig` from the capability arguments the plugin
// declares in `capabilities` (portMappings for portmap), and `prevResult` (ADD: the result of the
// plugin before it; DEL and CHECK: the result of the whole ADD, which the runtime keeps).
// ADD and CHECK walk the list in order, DEL in reverse order and goes on past a failing plugin so
// that every plugin gets the chance to release what it holds (the first error is reported after).
// A plugin that exits non-zero prints the spec's error object {code, msg, details} on stdout;
// it becomes a CniPluginError naming the plugin.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CniPluginError, NetworkError } from './errors.js';

export const CNI_VERSION = '1.0.0';

/** Where the plugins are: $TSRUN_CNI_PATH (colon-separated), else Debian's and the upstream default. */
export function cniPluginDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  return env.TSRUN_CNI_PATH ? env.TSRUN_CNI_PATH.split(':').filter(Boolean) : ['/usr/lib/cni', '/opt/cni/bin'];
}

export interface CniPluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface CniConfList {
  cniVersion: string;
  name: string;
  plugins: CniPluginConf[];
}

export interface CniRuntimeConf {
  containerId: string;
  /** The container's network namespace; '' on a DEL whose namespace is gone (plugins still release what they hold). */
  netns: string;
  ifName: string;
  /** CNI_ARGS pairs. */
  args?: [string, string][];
  /** Capability arguments (CONVENTIONS.md): given to each plugin that declares the capability. */
  capabilityArgs?: Record<string, unknown>;
}

/** The parts of a CNI 1.0 success result tsrun reads. */
export interface CniResult {
  cniVersion: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: Record<string, unknown>;
}

export interface CniOptions {
  pluginDirs?: string[];
  /** A plugin still running after this long is killed (default 60 s). */
  timeoutMs?: number;
}

/** The stdin a plugin gets: its own config with the list's name and version, runtimeConfig and prevResult. */
export function pluginStdin(list: CniConfList, plugin: CniPluginConf, rt: CniRuntimeConf, prevResult: CniResult | undefined): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
    if (on && rt.capabilityArgs && cap in rt.capabilityArgs) runtimeConfig[cap] = rt.capabilityArgs[cap];
  }
  if (Object.keys(runtimeConfig).length) conf.runtimeConfig = runtimeConfig;
  if (prevResult) conf.prevResult = prevResult;
  return conf;
}

function findPlugin(type: string, dirs: string[], network: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(type) || type === '.' || type === '..')
    throw new NetworkError(`network ${network}: invalid CNI plugin type ${JSON.stringify(type)}`);
  for (const d of dirs) {
    const p = path.join(d, type);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not in this directory */
    }
  }
  throw new NetworkError(`network ${network}: CNI plugin ${type} not found in ${dirs.join(':')} (Debian package containernetworking-plugins)`);
}

// Plugins call iptables, ip6tables and modprobe by name; an engine may call tsrun with a bare PATH.
const PLUGIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Runs one plugin; resolves to its parsed stdout (the result), or rejects with a CniPluginError. */
export function execPlugin(
  command: 'ADD' | 'DEL' | 'CHECK',
  network: string,
  conf: Record<string, unknown>,
  rt: CniRuntimeConf,
  opts: CniOptions = {},
): Promise<unknown> {
  const dirs = opts.pluginDirs ?? cniPluginDirs();
  const type = String(conf.type);
  let bin: string;
  try {
    bin = findPlugin(type, dirs, network);
  } catch (err) {
    return Promise.reject(err);
  }
  const env: NodeJS.ProcessEnv = {
    PATH: PLUGIN_PATH,
    CNI_COMMAND: command,
    CNI_CONTAINERID: rt.containerId,
    CNI_NETNS: rt.netns,
    CNI_IFNAME: rt.ifName,
    CNI_PATH: dirs.join(':'),
  };
  if (rt.args?.length) env.CNI_ARGS = rt.args.map(([k, v]) => `${k}=${v}`).join(';');
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [], { env, stdio: ['pipe', 'pipe', 'pipe'], timeout: opts.timeoutMs ?? 60_000, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    const errOut: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => errOut.push(b));
    child.stdin.on('error', () => {
      /* the plugin exited before reading: its exit status tells */
    });
    child.on('error', (err) => reject(new NetworkError(`network ${network}: cannot run CNI plugin ${bin}`, { cause: err })));
    child.on('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8').trim();
      const stderr = Buffer.concat(errOut).toString('utf8').trim();
      let parsed: unknown;
      try {
        parsed = stdout ? JSON.parse(stdout) : undefined;
      } catch {
        parsed = undefined;
      }
      if (code === 0) {
        if (stdout && parsed === undefined) {
          reject(new CniPluginError({ plugin: type, command, network, msg: `printed a result that is not JSON: ${stdout.slice(0, 200)}` }));
        } else resolve(parsed);
        return;
      }
      const e = (parsed ?? {}) as { code?: unknown; msg?: unknown; details?: unknown };
      const msg =
        typeof e.msg === 'string' && e.msg
          ? e.msg
          : stderr || stdout || (signal ? `killed by ${signal}${signal === 'SIGKILL' ? ' (timed out?)' : ''}` : `exit status ${code}`);
      reject(
        new CniPluginError({
          plugin: type,
          command,
          network,
          cniCode: typeof e.code === 'number' ? e.code : undefined,
          msg,
          details: typeof e.details === 'string' && e.details ? e.details : undefined,
        }),
      );
    });
    child.stdin.end(JSON.stringify(conf));
  });
}

/**
 * ADD the container to every plugin of the list in order; the last plugin's result is the
 * network's result. `onResult` sees each plugin's result before the next plugin runs (the caller
 * records it, so that a DEL after a crash mid-list has the prevResult the later plugins need).
 */
export async function addNetworkList(list: CniConfList, rt: CniRuntimeConf, opts: CniOptions = {}, onResult?: (r: CniResult) => void): Promise<CniResult> {
  let prev: CniResult | undefined;
  for (const p of list.plugins) {
    const r = await execPlugin('ADD', list.name, pluginStdin(list, p, rt, prev), rt, opts);
    if (r !== undefined) {
      prev = r as CniResult;
      onResult?.(prev);
    }
  }
  if (!prev) throw new NetworkError(`network ${list.name}: no CNI plugin returned a result`);
  return prev;
}

/** CHECK every plugin in order against the cached ADD result. */
export async function checkNetworkList(list: CniConfList, rt: CniRuntimeConf, cached: CniResult, opts: CniOptions = {}): Promise<void> {
  for (const p of list.plugins) await execPlugin('CHECK', list.name, pluginStdin(list, p, rt, cached), rt, opts);
}

/**
 * DEL in reverse order with the cached ADD result (undefined when the ADD never finished). Every
 * plugin runs even when one fails; the first failure is thrown afterwards. DEL of something already
 * gone succeeds (CNI spec: DEL must be idempotent), so this can be repeated until it passes.
 */
export async function delNetworkList(list: CniConfList, rt: CniRuntimeConf, cached: CniResult | undefined, opts: CniOptions = {}): Promise<void> {
  let first: unknown;
  for (const p of [...list.plugins].reverse()) {
    try {
      await execPlugin('DEL', list.name, pluginStdin(list, p, rt, cached), rt, opts);
    } catch (err) {
      first ??= err;
    }
  }
  if (first) throw first;
}
