// One way to skip a test, and it always says why. A test that cannot run here (no root, a tool or
// kernel feature missing) is registered with ava's test.skip and the reason appended to its title,
// "… (skipped: needs root)", which ava prints. Decide at declaration (top-level await is fine for
// an async probe); never skip from inside a test with t.pass() or an early return, which would
// report a test that did not run as passed.
//
//   const rootTest = needs(ROOT);
//   const regTest = needs(ROOT, tool('htpasswd', 'apache2-utils'));
//   rootTest('…', async (t) => { … });
//   regTest.serial('…', async (t) => { … });
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test, { type Implementation, type TestFn } from 'ava';

/** A requirement of a test: met, or the reason the test cannot run. */
export interface Need {
  ok: boolean;
  why: string;
}

export function need(ok: unknown, why: string): Need {
  return { ok: Boolean(ok), why };
}

export const isRoot = process.geteuid?.() === 0;

/** Root (namespaces, mounts, cgroups, chown…); `what` names what needs it. */
export function root(what?: string): Need {
  return need(isRoot, what ? `needs root (${what})` : 'needs root');
}
export const ROOT = root();

/** A program on $PATH (or an absolute path); pkg names the Debian package that ships it. */
export function tool(name: string, pkg?: string): Need {
  const found = name.includes('/') ? fs.existsSync(name) : haveProgram(name);
  return need(found, `needs ${name}${pkg && pkg !== name ? ` (Debian package ${pkg})` : ''}`);
}

/** A file or directory that must exist. */
export function file(p: string, why = `needs ${p}`): Need {
  return need(fs.existsSync(p), why);
}

/** The test is written for these CPU architectures (process.arch names). */
export function arch(...arches: string[]): Need {
  return need(arches.includes(process.arch), `runs only on ${arches.join('/')} (this is ${process.arch})`);
}

function haveProgram(name: string): boolean {
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    try {
      fs.accessSync(path.join(dir, name), fs.constants.X_OK);
      return true;
    } catch {
      /* not here */
    }
  }
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/** The reason of the first unmet need, or '' when all are met. */
export function whyNot(...needs: Need[]): string {
  return needs.find((n) => !n.ok)?.why ?? '';
}

/** ava's test, or test.skip with the reason in the title when a need is unmet. */
export interface GatedTest<Context = unknown> {
  <Args extends unknown[]>(title: string, implementation: Implementation<Args, Context>, ...args: Args): void;
  /** The same, as test.serial. */
  serial<Args extends unknown[]>(title: string, implementation: Implementation<Args, Context>, ...args: Args): void;
  /** Why these tests are skipped; '' when they run. */
  readonly skipped: string;
  /** A gate that also requires `more`. */
  and(...more: Need[]): GatedTest<Context>;
}

export function skippedTitle(title: string, why: string): string {
  return `${title} (skipped: ${why.replace(/^skipped: /, '')})`;
}

/** Tests that run only when every need is met, and otherwise show why they were skipped. */
export function needs(...list: Need[]): GatedTest {
  return gate(test, ...list);
}

/** needs() for a test function with a typed context (`anyTest as TestFn<Ctx>`). */
export function gate<Context>(testFn: TestFn<Context>, ...list: Need[]): GatedTest<Context> {
  const why = whyNot(...list);
  const gated = <Args extends unknown[]>(title: string, implementation: Implementation<Args, Context>, ...args: Args): void => {
    if (why) testFn.skip(skippedTitle(title, why), implementation, ...args);
    else testFn(title, implementation, ...args);
  };
  const serial = <Args extends unknown[]>(title: string, implementation: Implementation<Args, Context>, ...args: Args): void => {
    if (why) testFn.serial.skip(skippedTitle(title, why), implementation, ...args);
    else testFn.serial(title, implementation, ...args);
  };
  return Object.assign(gated, { serial, skipped: why, and: (...more: Need[]) => gate(testFn, ...list, ...more) });
}

/** A single gated test: `skipUnless(cond, why)('title', impl)`. */
export function skipUnless(cond: unknown, why: string): GatedTest {
  return needs(need(cond, why));
}

/** Tests that need root, and optionally more. */
export const rootTest = needs(ROOT);
