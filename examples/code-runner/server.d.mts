// Types of server.mjs (plain JS, written against the published package) for the TypeScript that
// imports it: test/integration/example-service.test.ts. Kept next to the module so tsc resolves it.
import type http from 'node:http';
import type { Limits, Output, Runtime, SpawnMode } from '../../src/index.js';

export interface CodeRunnerOptions {
  /** Absolute path of the root filesystem (needs /bin/sh). */
  rootfs: string;
  /** tsrun state directory. */
  root?: string;
  /** Default wall-clock limit per run. */
  timeoutMs?: number;
  /** Bytes kept of stdout and of stderr. */
  maxOutput?: number;
  /** cgroup limits; null: none. */
  limits?: Limits | null;
  spawn?: SpawnMode;
}

/** What POST /run answers. */
export interface CodeRunnerAnswer extends Output {
  timedOut: boolean;
  durationMs: number;
  limits: 'cgroup+rlimit' | 'rlimit';
}

export interface CodeRunner {
  server: http.Server;
  runtime: Runtime;
  runSnippet(code: string, stdin?: string, ms?: number): Promise<CodeRunnerAnswer>;
}

export function createCodeRunner(o: CodeRunnerOptions): CodeRunner;
