// `tsrun network create|ls|inspect|rm|prune` (Docker's grammar and output shapes). The store is
// <image root>/networks (global --image-root, else $TSRUN_IMAGE_ROOT, else /var/lib/tsrun).
// Networks run in the network namespace tsrun is called in.
import { readSync } from 'node:fs';
import { InvalidArgumentError, describeError } from '../../errors.js';
import type { NetworkInfo } from '../../net/network.js';
import type { VerbContext } from '../main.js';
import type { ParsedCommandLine } from '../parse.js';
import { str } from './flags.js';
import { imageRootOf } from './image.js';
import { table } from '../output.js';

function list(cl: ParsedCommandLine, name: string): string[] {
  const v = cl.flags[name];
  return Array.isArray(v) ? v : typeof v === 'string' && v ? [v] : [];
}

/** KEY=VALUE flags (--label) as an object; a bare KEY has an empty value, as Docker's. */
function keyValues(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    out[eq < 0 ? v : v.slice(0, eq)] = eq < 0 ? '' : v.slice(eq + 1);
  }
  return out;
}

/** The shape of `docker network inspect`. */
export function dockerNetworkJson(n: NetworkInfo): Record<string, unknown> {
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: n.subnet, Gateway: n.gateway }] },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: Object.fromEntries(
      n.containers.map((c) => [
        c.id,
        { Name: c.name ?? c.id, EndpointID: '', MacAddress: c.mac ?? '', IPv4Address: c.ip ?? '', IPv6Address: '', Aliases: c.aliases },
      ]),
    ),
    Options: { 'com.docker.network.bridge.name': n.bridge },
    Labels: n.labels,
  };
}

/** One line from stdin (the prune confirmation); '' at end of input. */
function readLine(): string {
  const buf = Buffer.alloc(1);
  let s = '';
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, 1, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      return s;
    }
    if (n === 0 || buf[0] === 10) return s;
    s += String.fromCharCode(buf[0]);
  }
}

export default async function network({ cl }: VerbContext): Promise<number> {
  const net = await import('../../net/network.js');
  const o = { imageRoot: imageRootOf(cl) };
  const out = (s: string) => process.stdout.write(s);
  switch (cl.subcommand) {
    case 'create': {
      const driver = str(cl, 'driver') ?? 'bridge';
      if (driver !== 'bridge') throw new InvalidArgumentError(`--driver ${driver}: tsrun networks use the bridge driver`);
      const rec = await net.createNetwork(cl.args[0], {
        ...o,
        subnet: str(cl, 'subnet'),
        gateway: str(cl, 'gateway'),
        internal: cl.flags.internal === true,
        labels: keyValues(list(cl, 'label')),
      });
      out(`${rec.id}\n`);
      return 0;
    }
    case 'ls': {
      const filters = net.parseFilters(list(cl, 'filter'), ['name', 'id', 'driver', 'label', 'type', 'dangling']);
      const nets = (await net.listNetworks(o)).filter((n) => net.matchesFilters({ ...n, builtin: n.name === net.DEFAULT_NETWORK }, filters));
      const id = (n: NetworkInfo) => (cl.flags['no-trunc'] === true ? n.id : n.id.slice(0, 12));
      const format = str(cl, 'format') ?? 'table';
      if (cl.flags.quiet === true) out(nets.map((n) => `${id(n)}\n`).join(''));
      else if (format === 'json')
        out(nets.map((n) => `${JSON.stringify({ ID: id(n), Name: n.name, Driver: n.driver, Scope: 'local', Internal: n.internal })}\n`).join(''));
      else if (format === 'table') out(table([['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'], ...nets.map((n) => [id(n), n.name, n.driver, 'local'])]));
      else throw new InvalidArgumentError(`--format ${format}: want table or json`);
      return 0;
    }
    case 'inspect': {
      const found: Record<string, unknown>[] = [];
      let code = 0;
      for (const ref of cl.args) {
        try {
          found.push(dockerNetworkJson(await net.inspectNetwork(ref, o)));
        } catch (err) {
          process.stderr.write(`Error: ${describeError(err)}\n`);
          code = 1;
        }
      }
      out(`${JSON.stringify(found, null, 4)}\n`);
      return code;
    }
    case 'rm': {
      let code = 0;
      for (const ref of cl.args) {
        try {
          await net.removeNetwork(ref, o);
          out(`${ref}\n`);
        } catch (err) {
          if (cl.flags.force === true && err instanceof net.NetworkNotFoundError) continue;
          process.stderr.write(`Error response from tsrun: ${describeError(err)}\n`);
          code = 1;
        }
      }
      return code;
    }
    case 'prune': {
      if (cl.flags.force !== true) {
        out('WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ');
        if (!/^y(es)?$/i.test(readLine().trim())) return 0;
      }
      const gone = await net.pruneNetworks({ ...o, filters: list(cl, 'filter') });
      if (gone.length) out(`Deleted Networks:\n${gone.map((n) => `${n}\n`).join('')}`);
      return 0;
    }
    default:
      throw new InvalidArgumentError(`unknown network subcommand ${JSON.stringify(cl.subcommand)}`);
  }
}
