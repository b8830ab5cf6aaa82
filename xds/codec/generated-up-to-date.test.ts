// CI regenerates the committed Envoy types and fails on any difference, so xds/generated/ always
// matches scripts/gen-protos.sh and the protos of the installed @grpc/grpc-js-xds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../../', import.meta.url).pathname;

test('xds/generated is exactly what scripts/gen-protos.sh produces', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshd-gen-'));
  try {
    const out = join(dir, 'generated');
    execFileSync('bash', [join(root, 'scripts/gen-protos.sh'), out], { cwd: root, stdio: 'pipe' });
    const diff = (() => {
      try {
        execFileSync('diff', ['-r', '-q', out, join(root, 'xds/generated')], { stdio: 'pipe' });
        return '';
      } catch (e) {
        return String((e as { stdout?: Buffer }).stdout ?? e);
      }
    })();
    assert.equal(diff, '', `xds/generated is stale; run scripts/gen-protos.sh and commit:\n${diff}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
