// Docker-style image references: `[registry[:port]/]path[:tag][@digest]`.
// Grammar from distribution's reference package (reference/regexp.go) as documented in
// docker/cli "docker pull" and the OCI distribution-spec ("<name>" must match
// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*).
// Normalisation follows Docker: no registry → docker.io, a single path component on docker.io →
// library/<name>, no tag and no digest → :latest.

import { InvalidArgumentError } from '../errors.js';

export const DEFAULT_REGISTRY = 'docker.io';
/** The host that really serves docker.io (Docker's "index" vs "registry" split). */
export const DOCKER_HUB_HOST = 'registry-1.docker.io';

export interface ImageReference {
  /** Registry host with optional port, e.g. `docker.io`, `127.0.0.1:5000`, `[::1]:5000`. */
  registry: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  repository: string;
  /** Tag; `latest` when neither tag nor digest was given. */
  tag?: string;
  /** `sha256:<64 hex>` when the reference pins a digest. */
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;
// A domain component: letters, digits and inner hyphens; an optional port; or a bracketed IPv6.
const DOMAIN = /^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)(?::[0-9]{1,5})?$/;
const MAX_NAME = 255;

function bad(input: string, why: string): never {
  throw new InvalidArgumentError(`invalid image reference "${input}": ${why}`);
}

/** Parse and normalise a reference; every failure names the reference and the reason. */
export function parseReference(input: string, opts: { defaultTag?: string } = {}): ImageReference {
  if (typeof input !== 'string' || input.length === 0) bad(String(input), 'empty');
  if (input !== input.trim()) bad(input, 'leading or trailing whitespace');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) bad(input, `digest "${digest}" is not sha256:<64 hex> or sha512:<128 hex>`);
  }
  let tag: string | undefined;
  // A tag is after the last ':' that comes after the last '/', so a registry port is not a tag.
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) bad(input, `tag "${tag}" must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`);
  }
  if (rest.length === 0) bad(input, 'missing repository name');
  let registry = DEFAULT_REGISTRY;
  let path = rest;
  const first = rest.indexOf('/');
  if (first >= 0) {
    const head = rest.slice(0, first);
    // Docker's rule: the first component is a registry when it has a '.' or ':', is
    // "localhost", or holds upper-case letters (which a repository may not).
    if (head.includes('.') || head.includes(':') || head === 'localhost' || head !== head.toLowerCase()) {
      if (!DOMAIN.test(head)) bad(input, `registry "${head}" is not a valid host[:port]`);
      const port = /:([0-9]+)$/.exec(head);
      if (port && Number(port[1]) > 65535) bad(input, `registry port ${port[1]} is out of range`);
      registry = head;
      path = rest.slice(first + 1);
    }
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DEFAULT_REGISTRY;
  for (const comp of path.split('/')) {
    if (comp.length === 0) bad(input, 'empty path component');
    if (comp !== comp.toLowerCase()) bad(input, `repository name "${path}" must be lowercase`);
    if (!COMPONENT.test(comp)) bad(input, `path component "${comp}" must match [a-z0-9]+(?:[._-][a-z0-9]+)*`);
  }
  if (registry === DEFAULT_REGISTRY && !path.includes('/')) path = `library/${path}`;
  if (registry.length + 1 + path.length > MAX_NAME) bad(input, `name longer than ${MAX_NAME} characters`);
  if (!tag && !digest) tag = opts.defaultTag ?? 'latest';
  const ref: ImageReference = { registry, repository: path };
  if (tag) ref.tag = tag;
  if (digest) ref.digest = digest;
  return ref;
}

/** `registry/repository[:tag][@digest]`, fully qualified. */
export function formatReference(ref: ImageReference): string {
  let s = `${ref.registry}/${ref.repository}`;
  if (ref.tag) s += `:${ref.tag}`;
  if (ref.digest) s += `@${ref.digest}`;
  return s;
}

/** The short form Docker prints: `busybox:latest`, `user/app:1`, `127.0.0.1:5000/x:1`. */
export function familiarReference(ref: ImageReference): string {
  let name = `${ref.registry}/${ref.repository}`;
  if (ref.registry === DEFAULT_REGISTRY) {
    name = ref.repository.startsWith('library/') && ref.repository.split('/').length === 2 ? ref.repository.slice('library/'.length) : ref.repository;
  }
  if (ref.tag) name += `:${ref.tag}`;
  if (ref.digest) name += `@${ref.digest}`;
  return name;
}

/** `registry/repository` without tag or digest. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The host:port to connect to (docker.io is served by registry-1.docker.io). */
export function registryEndpoint(registry: string): string {
  return registry === DEFAULT_REGISTRY ? DOCKER_HUB_HOST : registry;
}

/** True for localhost, 127.0.0.0/8 and ::1: plain http is allowed there without `insecure`. */
export function isLoopbackRegistry(registry: string): boolean {
  const host = hostOf(registry);
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The host part of `host[:port]` (brackets removed from IPv6). */
export function hostOf(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const c = registry.lastIndexOf(':');
  return c >= 0 ? registry.slice(0, c) : registry;
}

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}
