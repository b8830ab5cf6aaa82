import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { findEnvoy, writeEnvoyBootstrap } from './proxy-supervisor.js';
import { isRecordedProcessAlive, processStartTime, proxyRecordPath, readProxyRecord, writeProxyRecord } from './process-record.js';

test('findEnvoy takes the first executable envoy in PATH and fails with MESHD_ERR_AGENT_ENVOY_NOT_FOUND otherwise', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshd-envoy-'));
  try {
    assert.throws(() => findEnvoy(dir), (err: { code?: string; hint?: string }) => err.code === 'MESHD_ERR_AGENT_ENVOY_NOT_FOUND' && /--proxy builtin/.test(err.hint ?? ''));
    writeFileSync(join(dir, 'envoy'), '#!/bin/sh\n');
    assert.throws(() => findEnvoy(dir), /no envoy binary/, 'not executable');
    chmodSync(join(dir, 'envoy'), 0o755);
    assert.equal(findEnvoy(`/nonexistent:${dir}`), join(dir, 'envoy'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the Envoy bootstrap is deploy/envoy's, pointed at the agent's xDS socket with its own admin address", () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshd-envoy-'));
  try {
    const file = writeEnvoyBootstrap(dir, '/run/test/xds.sock', '127.0.0.1:0');
    const doc = parseYaml(readFileSync(file, 'utf8')) as Record<string, any>;
    assert.equal(doc['dynamic_resources'].ads_config.api_type, 'DELTA_GRPC');
    assert.equal(doc['static_resources'].clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.pipe.path, '/run/test/xds.sock');
    assert.deepEqual(doc['admin'].address.socket_address, { address: '127.0.0.1', port_value: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a process record names one process: pid and start time; a reused pid or a dead process does not match', () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshd-proxy-record-'));
  try {
    const startTime = processStartTime(process.pid)!;
    assert.ok(Number.isInteger(startTime) && startTime > 0);
    const path = proxyRecordPath(dir);
    writeProxyRecord(path, { pid: process.pid, startTime, mode: 'builtin', nodeId: 'n', command: ['x'], startedAt: new Date().toISOString() });
    const record = readProxyRecord(path)!;
    assert.equal(isRecordedProcessAlive(record), true);
    assert.equal(isRecordedProcessAlive({ ...record, startTime: startTime + 1 }), false, 'same pid, another process');
    writeFileSync(path, '[1, 2');
    const warnings: string[] = [];
    assert.equal(readProxyRecord(path, (w) => warnings.push(w.code)), undefined);
    assert.deepEqual(warnings, ['MESHD_ERR_AGENT_STATE_FILE_CORRUPT']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
