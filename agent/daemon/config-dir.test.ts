// --config-dir: a directory as a ConfigMap volume gives it (kubelet's ..data symlinks included).
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mergeConfigDir, readConfigDir, type ConfigDirOption } from './config-dir.js';

const OPTIONS: ConfigDirOption[] = [
  { name: 'proxy', value: 'builtin|envoy', choices: ['builtin', 'envoy'] },
  { name: 'metrics', value: 'HOST:PORT' },
  { name: 'policy-audit-mode' },
  { name: 'k8s' },
  { name: 'config-dir', value: 'DIR' },
];

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A directory laid out like a mounted ConfigMap: files in ..<timestamp>/, ..data -> it, key -> ..data/key. */
function configMapDir(data: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'meshd-config-'));
  dirs.push(dir);
  const version = '..2026_11_21_16_00_00.123456789';
  mkdirSync(join(dir, version));
  for (const [k, v] of Object.entries(data)) writeFileSync(join(dir, version, k), v);
  symlinkSync(version, join(dir, '..data'));
  for (const k of Object.keys(data)) symlinkSync(join('..data', k), join(dir, k));
  return dir;
}

describe('options from --config-dir', () => {
  test('each file is an option named after it, values trimmed, flags true or false, the kubelet\'s ..data entries skipped', () => {
    const dir = configMapDir({ proxy: 'envoy\n', metrics: ' 0.0.0.0:9962 ', 'policy-audit-mode': 'false', k8s: 'true' });
    const entries = readConfigDir(dir, OPTIONS);
    assert.deepEqual(
      entries.map((e) => [e.name, e.value]),
      [['k8s', true], ['metrics', '0.0.0.0:9962'], ['policy-audit-mode', false], ['proxy', 'envoy']],
    );
  });

  test('the command line wins, and a flag set to false stays off', () => {
    const dir = configMapDir({ proxy: 'envoy', metrics: '0.0.0.0:9962', 'policy-audit-mode': 'false', k8s: 'true' });
    const merged = mergeConfigDir({ metrics: '127.0.0.1:0' }, readConfigDir(dir, OPTIONS));
    assert.deepEqual(merged, { metrics: '127.0.0.1:0', proxy: 'envoy', k8s: true });
  });

  test('a file that names no option is refused, naming the file', () => {
    const dir = configMapDir({ proxy: 'envoy', 'proxy-prot-base': '15001' });
    assert.throws(() => readConfigDir(dir, OPTIONS), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MESHD_ERR_AGENT_INVALID_OPTION');
      assert.ok(err.message.includes(join(dir, 'proxy-prot-base')), err.message);
      return true;
    });
  });

  test('bad values are refused with the file and the option: a flag that is not true/false, a value not among the choices, an empty value, --config-dir itself', () => {
    for (const [data, pattern] of [
      [{ k8s: 'yes' }, /k8s is a flag; the file must hold true or false/],
      [{ proxy: 'nginx' }, /--proxy must be one of builtin, envoy/],
      [{ metrics: '  ' }, /--metrics needs a value/],
      [{ 'config-dir': '/etc' }, /no option --config-dir that can be set from a file/],
    ] as const) {
      const dir = configMapDir(data);
      assert.throws(() => readConfigDir(dir, OPTIONS), (err: Error & { code?: string }) => err.code === 'MESHD_ERR_AGENT_INVALID_OPTION' && pattern.test(err.message) && err.message.includes(dir));
    }
  });

  test('a directory that does not exist is refused', () => {
    assert.throws(() => readConfigDir(join(tmpdir(), 'meshd-no-such-config-dir'), OPTIONS), { code: 'MESHD_ERR_AGENT_INVALID_OPTION' });
  });
});
