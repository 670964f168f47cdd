// A distribution-spec pull client on global fetch (OCI distribution-spec spec.md "Pull"):
// `GET /v2/<name>/manifests/<reference>` and `GET /v2/<name>/blobs/<digest>`, with the
// anonymous/Basic/Bearer auth of ./auth.ts. Manifests are verified against the digest asked for
// and Docker-Content-Digest; blobs are returned as streams for the content store to verify.

import { createHash } from 'node:crypto';
import { ImageError, ImageNotFoundError } from '../../errors.js';
import { isLoopbackRegistry, registryEndpoint } from '../reference.js';
import { basicHeader, dockerConfigCredentials, parseChallenges, parseCreds, parseTokenResponse, TokenCache, type Challenge, type Credentials } from './auth.js';
import { describeFailure, httpRequest, type HttpResponse } from './http.js';
import { MANIFEST_ACCEPT, parseManifest, type ImageIndex, type ImageManifest } from './media-types.js';

export interface RegistryClientOptions {
  /** `user:password`, or parsed credentials; default: ~/.docker/config.json `auths`. */
  creds?: string | Credentials;
  /** Allow plain http (and https→http redirects) to a non-loopback registry. */
  insecure?: boolean;
  /** Directory holding config.json (default $DOCKER_CONFIG or ~/.docker). */
  dockerConfigDir?: string;
  /** Headers timeout and idle timeout between body chunks (default 30 s). */
  timeoutMs?: number;
  /** Overall deadline of each request, blob downloads included (default 1 hour). */
  deadlineMs?: number;
  signal?: AbortSignal;
  userAgent?: string;
  tokenCache?: TokenCache;
}

export interface FetchedManifest {
  digest: string;
  mediaType: string;
  raw: Buffer;
  parsed: { kind: 'index'; index: ImageIndex } | { kind: 'manifest'; manifest: ImageManifest };
}

/** Manifests larger than this are refused (distribution-spec: registries accept 4 MiB). */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;

const sharedTokens = new TokenCache();
/** Scheme that answered per registry, so https is not retried on every request. */
const schemeCache = new Map<string, 'https' | 'http'>();

export class RegistryClient {
  readonly registry: string;
  private readonly host: string;
  private readonly creds?: Credentials;
  private readonly insecure: boolean;
  private readonly timeoutMs: number;
  private readonly deadlineMs?: number;
  private readonly signal?: AbortSignal;
  private readonly userAgent: string;
  private readonly tokens: TokenCache;
  private challenge?: Challenge;

  constructor(registry: string, opts: RegistryClientOptions = {}) {
    this.registry = registry;
    this.host = registryEndpoint(registry);
    this.creds = typeof opts.creds === 'string' ? parseCreds(opts.creds) : (opts.creds ?? dockerConfigCredentials(registry, opts.dockerConfigDir));
    this.insecure = opts.insecure ?? false;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    if (opts.deadlineMs !== undefined) this.deadlineMs = opts.deadlineMs;
    this.signal = opts.signal;
    this.userAgent = opts.userAgent ?? 'tsrun';
    this.tokens = opts.tokenCache ?? sharedTokens;
  }

  private get plainAllowed(): boolean {
    return this.insecure || isLoopbackRegistry(this.host);
  }

  private http(url: string, headers: Record<string, string>, signal?: AbortSignal, method: 'GET' | 'HEAD' = 'GET'): Promise<HttpResponse> {
    return httpRequest(url, {
      method,
      headers: { 'user-agent': this.userAgent, ...headers },
      signal: signal ?? this.signal,
      timeoutMs: this.timeoutMs,
      ...(this.deadlineMs !== undefined ? { deadlineMs: this.deadlineMs } : {}),
      // Not plainAllowed: a loopback registry may not send us to plain http elsewhere; every
      // redirect hop is judged by its own host.
      insecure: this.insecure,
    });
  }

  /** https first (like Docker); http only for loopback or `insecure`, when https cannot connect. */
  private async base(signal?: AbortSignal): Promise<string> {
    const known = schemeCache.get(this.host);
    if (known === 'https' || (known === 'http' && this.plainAllowed)) return `${known}://${this.host}`;
    const schemes: ('https' | 'http')[] = this.plainAllowed ? ['https', 'http'] : ['https'];
    const failures: string[] = [];
    let last: unknown;
    for (const scheme of schemes) {
      try {
        const res = await this.http(`${scheme}://${this.host}/v2/`, {}, signal);
        await res.discard();
        schemeCache.set(this.host, scheme);
        return `${scheme}://${this.host}`;
      } catch (e) {
        if ((signal ?? this.signal)?.aborted) throw e;
        failures.push((e as Error).message);
        last = e;
      }
    }
    const hint = this.plainAllowed ? '' : ' (plain http is tried only for loopback registries or with insecure)';
    throw new ImageError('TSRUN_REGISTRY', `cannot reach registry ${this.registry}: ${failures.join('; ')}${hint}`, { cause: last });
  }

  private async authorization(scope: string, signal?: AbortSignal): Promise<string | undefined> {
    const ch = this.challenge;
    if (!ch) return undefined;
    if (ch.scheme === 'basic') return this.creds?.kind === 'basic' ? basicHeader(this.creds) : undefined;
    if (ch.scheme !== 'bearer') return undefined;
    if (this.creds?.kind === 'bearer') return `Bearer ${this.creds.token}`;
    const realm = ch.params.realm;
    if (!realm) throw new ImageError('TSRUN_REGISTRY', `${this.registry}: Bearer challenge without realm`);
    const service = ch.params.service ?? '';
    // Tokens are cached per identity: a hash of the credentials, so wrong ones never hit a
    // token fetched with right ones.
    const who = this.creds?.kind === 'basic' ? createHash('sha256').update(`${this.creds.username}\0${this.creds.password}`).digest('hex') : '';
    const key = `${TokenCache.key(realm, service, scope)}\n${who}`;
    const cached = this.tokens.get(key);
    if (cached) return `Bearer ${cached}`;
    const url = new URL(realm);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (this.insecure || isLoopbackRegistry(url.host)))) {
      throw new ImageError('TSRUN_REGISTRY', `${this.registry}: refusing token realm ${realm} (not https)`);
    }
    if (service) url.searchParams.set('service', service);
    url.searchParams.set('scope', scope);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.creds?.kind === 'basic') headers.authorization = basicHeader(this.creds);
    const res = await this.http(url.href, headers, signal);
    if (res.status !== 200) {
      const msg = await describeFailure(res, `token request to ${url.origin}${url.pathname}`);
      throw new ImageError('TSRUN_REGISTRY', res.status === 401 || res.status === 403 ? `authentication failed: ${msg}` : msg);
    }
    let body: unknown;
    try {
      body = JSON.parse((await res.bytes(1024 * 1024)).toString('utf8'));
    } catch (cause) {
      throw new ImageError('TSRUN_REGISTRY', `token server ${realm} returned invalid JSON`, { cause });
    }
    const t = parseTokenResponse(body, realm);
    this.tokens.set(key, t.token, t.expiresIn, t.issuedAt);
    return `Bearer ${t.token}`;
  }

  /** GET with auth: on a 401 learn the challenge, authenticate and retry once. */
  private async get(
    repository: string,
    path: string,
    headers: Record<string, string>,
    signal?: AbortSignal,
    method: 'GET' | 'HEAD' = 'GET',
  ): Promise<HttpResponse> {
    const scope = `repository:${repository}:pull`;
    const url = `${await this.base(signal)}/v2/${repository}/${path}`;
    for (let attempt = 0; ; attempt++) {
      const auth = await this.authorization(scope, signal);
      const res = await this.http(url, auth ? { ...headers, authorization: auth } : headers, signal, method);
      if (res.status !== 401 || attempt > 0) {
        if (res.status === 401) {
          const msg = await describeFailure(res, `${method} ${url}`);
          throw new ImageError('TSRUN_REGISTRY', `unauthorized: ${msg}${this.creds ? '' : ' (no credentials for this registry)'}`);
        }
        return res;
      }
      const header = res.headers.get('www-authenticate') ?? '';
      await res.discard();
      const chs = parseChallenges(header);
      const ch = chs.find((c) => c.scheme === 'bearer') ?? chs.find((c) => c.scheme === 'basic');
      if (!ch) throw new ImageError('TSRUN_REGISTRY', `GET ${url}: HTTP 401 without a usable WWW-Authenticate challenge`);
      if (ch.scheme === 'basic' && this.creds?.kind !== 'basic') {
        throw new ImageError('TSRUN_REGISTRY', `unauthorized: ${this.registry} requires credentials (Basic)`);
      }
      this.challenge = ch;
    }
  }

  /**
   * The digest a tag points at, from HEAD's Docker-Content-Digest (a HEAD is not counted as a
   * pull by Docker Hub's rate limit); undefined when the registry does not say.
   */
  async headManifest(repository: string, reference: string, signal?: AbortSignal): Promise<string | undefined> {
    const res = await this.get(repository, `manifests/${reference}`, { accept: MANIFEST_ACCEPT }, signal, 'HEAD');
    await res.discard();
    const d = res.headers.get('docker-content-digest') ?? undefined;
    return res.status === 200 && d && /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/.test(d) ? d : undefined;
  }

  /**
   * Fetch a manifest or index by tag or digest. The body is hashed; it must match a digest
   * reference and the Docker-Content-Digest header, and its mediaType must match Content-Type.
   */
  async getManifest(repository: string, reference: string, signal?: AbortSignal): Promise<FetchedManifest> {
    const what = `${this.registry}/${repository}@${reference}`.replace(/@(?!sha)/, ':');
    const res = await this.get(repository, `manifests/${reference}`, { accept: MANIFEST_ACCEPT }, signal);
    if (res.status === 404) {
      throw new ImageNotFoundError(await describeFailure(res, `manifest ${what} not found`));
    }
    if (res.status !== 200) throw new ImageError('TSRUN_REGISTRY', await describeFailure(res, `GET manifest ${what}`));
    const raw = await res.bytes(MANIFEST_LIMIT);
    const byRef = reference.includes(':') ? reference : undefined;
    const header = res.headers.get('docker-content-digest') ?? undefined;
    const digestOf = (d: string) => `${d.split(':')[0]}:${createHash(d.split(':')[0]).update(raw).digest('hex')}`;
    for (const [want, source] of [
      [byRef, 'the requested digest'],
      [header, 'Docker-Content-Digest'],
    ] as const) {
      if (!want) continue;
      if (!/^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/.test(want)) {
        throw new ImageError('TSRUN_IMAGE_DIGEST', `manifest ${what}: malformed ${source} "${want}"`);
      }
      const got = digestOf(want);
      if (got !== want) throw new ImageError('TSRUN_IMAGE_DIGEST', `manifest ${what}: body has digest ${got}, ${source} is ${want}`);
    }
    const digest = byRef ?? header ?? digestOf('sha256:');
    const contentType = res.headers.get('content-type') ?? undefined;
    const parsed = parseManifest(raw, contentType, `manifest ${what}`);
    const mediaType = parsed.kind === 'index' ? parsed.index.mediaType : parsed.manifest.mediaType;
    return { digest, mediaType, raw, parsed };
  }

  /**
   * Open a blob, asking for bytes from `offset` on with Range (distribution-spec allows it on
   * blob GETs). Returns the offset the server really starts at: `offset` on 206, 0 on 200.
   */
  async openBlob(
    repository: string,
    digest: string,
    offset = 0,
    signal?: AbortSignal,
  ): Promise<{ offset: number; body: AsyncIterable<Uint8Array>; total?: number }> {
    const headers: Record<string, string> = {};
    if (offset > 0) headers.range = `bytes=${offset}-`;
    let res = await this.get(repository, `blobs/${digest}`, headers, signal);
    if (res.status === 416 && offset > 0) {
      await res.discard();
      res = await this.get(repository, `blobs/${digest}`, {}, signal);
    }
    if (res.status === 206 && offset > 0) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== offset) {
        await res.discard();
        throw new ImageError('TSRUN_REGISTRY', `blob ${digest}: bad Content-Range "${res.headers.get('content-range')}" for offset ${offset}`);
      }
      return { offset, body: res.body, total: m[3] === '*' ? undefined : Number(m[3]) };
    }
    if (res.status === 200) {
      const len = Number(res.headers.get('content-length') ?? NaN);
      return { offset: 0, body: res.body, total: Number.isFinite(len) ? len : undefined };
    }
    if (res.status === 404) throw new ImageNotFoundError(await describeFailure(res, `blob ${digest} not found in ${this.registry}/${repository}`));
    throw new ImageError('TSRUN_REGISTRY', await describeFailure(res, `GET blob ${digest} from ${this.registry}/${repository}`));
  }
}
