// Registry authentication. The Bearer flow is distribution's docs/spec/auth/token.md (the OCI
// distribution-spec leaves auth "out of the purview"): a 401 carries
// `WWW-Authenticate: Bearer realm="…",service="…",scope="repository:<name>:pull"`, the client
// GETs `realm?service=…&scope=…` (with Basic credentials if it has any) and retries with the
// `token` (or `access_token`) it got; `expires_in` defaults to 60 s. Credentials come from an
// explicit `user:pass`, or `auths` in ~/.docker/config.json (docker/cli configfile).

import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ImageError, InvalidArgumentError } from '../../errors.js';

export interface Challenge {
  scheme: string; // lower-case: 'bearer' | 'basic' | …
  params: Record<string, string>;
}

export type Credentials = { kind: 'basic'; username: string; password: string } | { kind: 'bearer'; token: string };

/** Parse a WWW-Authenticate header (RFC 7235 §4.1) into challenges. */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const param = /([A-Za-z0-9_.-]+)[ \t]*=[ \t]*/y;
  const scheme = /([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)/y;
  let i = 0;
  let cur: Challenge | undefined;
  const skip = () => {
    while (i < header.length && /[\s,]/.test(header[i])) i++;
  };
  skip();
  while (i < header.length) {
    param.lastIndex = i;
    const pm = cur ? param.exec(header) : null;
    if (pm && cur) {
      i = param.lastIndex;
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < header.length) i++;
          value += header[i++];
        }
        i++; // closing quote
      } else {
        while (i < header.length && header[i] !== ',' && !/\s/.test(header[i])) value += header[i++];
      }
      cur.params[pm[1].toLowerCase()] = value;
    } else {
      scheme.lastIndex = i;
      const sm = scheme.exec(header);
      if (!sm) break;
      i = scheme.lastIndex;
      cur = { scheme: sm[1].toLowerCase(), params: {} };
      out.push(cur);
    }
    skip();
  }
  return out;
}

/** `user:pass` as given on the command line. */
export function parseCreds(creds: string): Credentials {
  const c = creds.indexOf(':');
  if (c <= 0) throw new InvalidArgumentError('invalid credentials: want "user:password"');
  return { kind: 'basic', username: creds.slice(0, c), password: creds.slice(c + 1) };
}

interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

function configKeys(registry: string): string[] {
  const keys = [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
  if (registry === 'docker.io') keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io');
  return keys;
}

/**
 * Credentials for `registry` from `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
 * Credential helpers (`credsStore`/`credHelpers`) are not run: that would execute programs.
 */
export function dockerConfigCredentials(registry: string, configDir?: string): Credentials | undefined {
  const dir = configDir ?? process.env.DOCKER_CONFIG ?? join(homedir(), '.docker');
  const file = join(dir, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let cfg: { auths?: Record<string, DockerAuthEntry> };
  try {
    cfg = JSON.parse(text);
  } catch (cause) {
    throw new ImageError('TSRUN_REGISTRY', `${file}: not valid JSON`, { cause });
  }
  const auths = cfg.auths ?? {};
  for (const key of configKeys(registry)) {
    const e = auths[key];
    if (!e) continue;
    if (e.registrytoken) return { kind: 'bearer', token: e.registrytoken };
    if (e.auth) {
      const dec = Buffer.from(e.auth, 'base64').toString('utf8');
      const c = dec.indexOf(':');
      if (c < 0) throw new ImageError('TSRUN_REGISTRY', `${file}: auths["${key}"].auth is not base64 of user:password`);
      return { kind: 'basic', username: dec.slice(0, c), password: dec.slice(c + 1) };
    }
    if (e.username !== undefined && e.password !== undefined) {
      return { kind: 'basic', username: e.username, password: e.password };
    }
  }
  return undefined;
}

export function basicHeader(c: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

interface CachedToken {
  token: string;
  expires: number; // ms since epoch
}

/** Bearer tokens keyed by realm, service and scope; entries expire 10 s before the server says. */
export class TokenCache {
  private readonly map = new Map<string, CachedToken>();
  static key(realm: string, service: string, scope: string): string {
    return `${realm}\n${service}\n${scope}`;
  }
  get(key: string): string | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (Date.now() >= e.expires) {
      this.map.delete(key);
      return undefined;
    }
    return e.token;
  }
  set(key: string, token: string, expiresInSeconds: number, issuedAt?: string): void {
    const start = issuedAt && !Number.isNaN(Date.parse(issuedAt)) ? Math.min(Date.parse(issuedAt), Date.now()) : Date.now();
    const ttl = Math.max(expiresInSeconds, 1) * 1000;
    this.map.set(key, { token, expires: start + ttl - Math.min(10_000, ttl / 2) });
  }
}

/** Parse a token-server response body (token.md "Token Response Fields"). */
export function parseTokenResponse(body: unknown, realm: string): { token: string; expiresIn: number; issuedAt?: string } {
  const o = body as { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown } | null;
  const token = typeof o?.token === 'string' && o.token ? o.token : typeof o?.access_token === 'string' && o.access_token ? o.access_token : undefined;
  if (!token) throw new ImageError('TSRUN_REGISTRY', `token server ${realm} returned no token`);
  const expiresIn = typeof o?.expires_in === 'number' && o.expires_in > 0 ? o.expires_in : 60;
  return { token, expiresIn, issuedAt: typeof o?.issued_at === 'string' ? o.issued_at : undefined };
}
