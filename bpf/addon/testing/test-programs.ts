// Builds the addon's own BPF test programs (../test-progs/*.bpf.c) with clang into a temporary
// directory, once per test process. Kept out of bpf/progs, which holds the datapath's programs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type TestProgramName = 'addon_test' | 'verifier_reject';

// From dist/bpf/addon/testing/ the repository root is four levels up.
const SOURCES = fileURLToPath(new URL('../../../../bpf/addon/test-progs/', import.meta.url));

let outputDir: string | undefined;
const built = new Map<TestProgramName, string>();

/** Path of the compiled object; compiles it on first use. Fails naming clang if it is missing. */
export function testProgramPath(name: TestProgramName): string {
  const done = built.get(name);
  if (done) return done;
  outputDir ??= mkdtempSync(join(tmpdir(), `meshd-addon-test-${process.pid}-`));
  const output = join(outputDir, `${name}.bpf.o`);
  try {
    const multiarch = execFileSync('clang', ['-print-multiarch'], { encoding: 'utf8' }).trim();
    execFileSync(
      'clang',
      ['-O2', '-g', '-target', 'bpf', '-Wall', '-Wextra', '-Werror', '-Wno-unused-parameter',
        `-I/usr/include/${multiarch}`, '-c', join(SOURCES, `${name}.bpf.c`), '-o', output],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`cannot build ${name}.bpf.c with clang (needs clang and libbpf-dev: make setup): ${String(error)}\n${stderr}`);
  }
  built.set(name, output);
  return output;
}

export function removeTestPrograms(): void {
  if (outputDir) rmSync(outputDir, { recursive: true, force: true });
  outputDir = undefined;
  built.clear();
}
