// A consumer project of the package, as a user writes one: strict TypeScript, NodeNext modules,
// `await using`. The type-checker and Node's types are this repository's (node_modules/typescript,
// node_modules/@types/node), so no test downloads them again.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT } from '../helpers/rootfs.js';

const execFileP = promisify(execFile);

/**
 * Writes consumer.ts and a strict NodeNext tsconfig.json into dir (whose node_modules holds the
 * package) and compiles it to dir/out/consumer.js. Returns tsc's complaint, or undefined when the
 * consumer type-checks.
 */
export async function compileConsumer(dir: string, source: string): Promise<string | undefined> {
  fs.mkdirSync(path.join(dir, 'node_modules/@types'), { recursive: true });
  fs.symlinkSync(path.join(REPO_ROOT, 'node_modules/@types/node'), path.join(dir, 'node_modules/@types/node'));
  fs.writeFileSync(path.join(dir, 'consumer.ts'), source);
  const compilerOptions = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    lib: ['ES2023', 'ESNext.Disposable'],
    types: ['node'],
    outDir: 'out',
  };
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }));
  try {
    await execFileP(process.execPath, [path.join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', dir], { cwd: dir });
    return undefined;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return e.stdout || e.stderr || String(err);
  }
}
