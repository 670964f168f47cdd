// A code-runner service on tsrun: POST a shell snippet, it runs in a fresh container (read-only
// root filesystem, a private tmpfs /tmp, no network, an unprivileged user, rlimits, cgroup limits
// where the host allows them) with a wall-clock timeout, and the answer is its exit status and
// output as JSON.
//
//   node examples/code-runner/server.mjs --rootfs /path/to/rootfs [--port 8080]
//   curl -s --data-binary 'echo hello; exit 3' localhost:8080/run
//   → {"exitCode":3,"signal":null,"stdout":"hello\n","stderr":"","timedOut":false,...}
//
// POST /run takes the snippet as the body (text/plain), or JSON {"code": "...", "stdin": "...",
// "timeoutMs": 2000}. GET /health answers {"ok":true,"running":N}.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Runtime } from '@tsrun-oci/tsrun';

const MiB = 1024 * 1024;

/**
 * @param {object} o
 * @param {string} o.rootfs      absolute path of the root filesystem (needs /bin/sh)
 * @param {string} [o.root]      tsrun state directory
 * @param {number} [o.timeoutMs] default wall-clock limit per run
 * @param {number} [o.maxOutput] bytes kept of stdout and of stderr
 * @param {{memory?: number, cpus?: number, pids?: number} | null} [o.limits] cgroup limits; null: none
 * @param {'direct'|'helper'} [o.spawn]
 */
export function createCodeRunner(o) {
  const rt = new Runtime({ root: o.root, spawn: o.spawn });
  const timeoutMs = o.timeoutMs ?? 5000;
  const maxOutput = o.maxOutput ?? 64 * 1024;
  let limits = o.limits === undefined ? { memory: 128 * MiB, pids: 64, cpus: 1 } : o.limits;
  let running = 0;

  async function runSnippet(code, stdin = '', ms = timeoutMs) {
    const id = `run-${randomBytes(6).toString('hex')}`;
    const options = {
      rootfs: o.rootfs,
      args: ['/bin/sh', '-c', code],
      env: { HOME: '/tmp' },
      cwd: '/tmp',
      user: { uid: 65534, gid: 65534 },
      hostname: 'sandbox',
      tmpfs: { '/tmp': 'size=16m' },
      capabilities: [],
      // Per process, so they hold with or without cgroups: CPU seconds, address space, file size, fds.
      rlimits: { RLIMIT_CPU: Math.ceil(ms / 1000) + 1, RLIMIT_AS: 512 * MiB, RLIMIT_FSIZE: 8 * MiB, RLIMIT_NOFILE: 64 },
      ...(limits ? { limits } : {}),
    };
    let c;
    try {
      c = await rt.run(id, options);
    } catch (err) {
      // A host without usable cgroup v2 controllers (e.g. hybrid cgroups) cannot apply limits:
      // fall back to rlimits and the timeout, once, for good.
      if (!limits || (err.code !== 'TSRUN_CGROUP' && err.code !== 'TSRUN_INVALID_SPEC')) throw err;
      limits = null;
      delete options.limits;
      c = await rt.run(id, options);
    }
    running++;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      c.kill('SIGKILL', { all: true }).catch(() => {});
    }, ms);
    const t0 = performance.now();
    try {
      c.stdin.end(stdin);
      const out = await c.output({ maxBuffer: maxOutput });
      return { ...out, timedOut, durationMs: Math.round(performance.now() - t0), limits: limits ? 'cgroup+rlimit' : 'rlimit' };
    } finally {
      clearTimeout(timer);
      running--;
      await c[Symbol.asyncDispose]();
    }
  }

  const server = http.createServer(async (req, res) => {
    const reply = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    try {
      if (req.method === 'GET' && req.url === '/health') return reply(200, { ok: true, running });
      if (req.method !== 'POST' || req.url !== '/run') return reply(404, { error: 'POST /run or GET /health' });
      const chunks = [];
      let size = 0;
      for await (const chunk of req) {
        size += chunk.length;
        if (size > MiB) return reply(413, { error: 'request body over 1 MiB' });
        chunks.push(chunk);
      }
      const body = Buffer.concat(chunks).toString('utf8');
      let code = body;
      let stdin = '';
      let ms = timeoutMs;
      if ((req.headers['content-type'] ?? '').startsWith('application/json')) {
        const j = JSON.parse(body);
        code = String(j.code ?? '');
        stdin = String(j.stdin ?? '');
        if (j.timeoutMs !== undefined) ms = Math.min(Math.max(Number(j.timeoutMs) || timeoutMs, 10), 60_000);
      }
      if (!code.trim()) return reply(400, { error: 'empty snippet' });
      reply(200, await runSnippet(code, stdin, ms));
    } catch (err) {
      reply(err instanceof SyntaxError ? 400 : 500, { error: err.message, code: err.code });
    }
  });
  return { server, runtime: rt, runSnippet };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { rootfs: { type: 'string' }, root: { type: 'string' }, port: { type: 'string', default: '8080' }, 'no-limits': { type: 'boolean' } },
  });
  if (!values.rootfs) {
    process.stderr.write('usage: server.mjs --rootfs DIR [--root DIR] [--port N] [--no-limits]\n');
    process.exit(2);
  }
  const { server } = createCodeRunner({ rootfs: values.rootfs, root: values.root, limits: values['no-limits'] ? null : undefined });
  server.listen(Number(values.port), () => process.stderr.write(`code runner on http://localhost:${server.address().port}/run\n`));
}
