import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHttpHeader, parsePort, parseTraceOptions } from './policy-trace.js';
import { COMMANDS } from '../commands.js';
import type { CommandSpec } from '../command-spec.js';
import { parseCommandLine } from '../parse-command-line.js';
import { resolveCommand } from '../resolve-command.js';

const trace = resolveCommand(COMMANDS, ['policy', 'trace']).node as CommandSpec;
const base = ['--policies', 'docs/examples', '--from', 'default/xwing', '--to', 'default/deathstar', '--port', '80/tcp'];
const options = (...extra: string[]) => parseTraceOptions(parseCommandLine(trace, [...base, ...extra]));

test('an HTTP trace command line becomes typed trace options', () => {
  const opts = options(
    '--policies', 'extra.yaml', '--endpoints', 'docs/examples/endpoints.yaml',
    '--http-method', 'POST', '--http-path', '/v1/request-landing', '--http-header', 'X-Has-Force: True', '--http-header', 'X-Empty:',
  );
  assert.deepEqual(opts, {
    policies: ['docs/examples', 'extra.yaml'],
    endpoints: 'docs/examples/endpoints.yaml',
    from: 'default/xwing',
    to: 'default/deathstar',
    port: { port: 80, protocol: 'TCP' },
    l7: {
      type: 'http',
      method: 'POST',
      path: '/v1/request-landing',
      headers: [
        { name: 'X-Has-Force', value: 'True' },
        { name: 'X-Empty', value: '' },
      ],
    },
  });
});

test('Kafka options keep a numeric API key as a number and every topic in order', () => {
  const { l7 } = options('--kafka-api-key', '0', '--kafka-api-version', '9', '--kafka-topic', 'empire-announce', '--kafka-topic', 'deathstar-plans');
  assert.deepEqual(l7, { type: 'kafka', apiKey: 0, apiVersion: 9, topics: ['empire-announce', 'deathstar-plans'] });
  assert.deepEqual(options('--kafka-api-key', 'produce', '--kafka-client-id', 'xwing').l7, {
    type: 'kafka',
    apiKey: 'produce',
    clientID: 'xwing',
    topics: [],
  });
});

test('a DNS query becomes a dns request, and no L7 option means a plain L3/L4 trace', () => {
  assert.deepEqual(options('--dns-query', 'api.empire.example').l7, { type: 'dns', query: 'api.empire.example' });
  assert.equal(options().l7, undefined);
});

test('options of two L7 protocols in one flow are refused', () => {
  assert.throws(() => options('--http-method', 'GET', '--dns-query', 'x.example'), { code: 'MESHD_ERR_USAGE', message: /one L7 protocol/ });
});

test('--port takes N/tcp or N/udp and nothing else', () => {
  assert.deepEqual(parsePort('53/UDP'), { port: 53, protocol: 'UDP' });
  for (const bad of ['80', '0/tcp', '65536/tcp', '80/sctp', 'http', '80/tcp/x']) {
    assert.throws(() => parsePort(bad), { code: 'MESHD_ERR_USAGE' }, bad);
  }
});

test("--http-header needs 'Name: value' with a non-empty name", () => {
  assert.deepEqual(parseHttpHeader('Authorization: Bearer a:b'), { name: 'Authorization', value: 'Bearer a:b' });
  for (const bad of ['X-Has-Force', ': v', 'Bad Name: v']) {
    assert.throws(() => parseHttpHeader(bad), { code: 'MESHD_ERR_USAGE' }, bad);
  }
});

test('--kafka-api-version must be a small non-negative integer', () => {
  assert.throws(() => options('--kafka-api-version', 'v3'), { code: 'MESHD_ERR_USAGE' });
});

test('a second value after a repeatable option is refused with a hint to repeat the option', () => {
  assert.throws(() => parseCommandLine(trace, [...base, '--policies', 'a.yaml', 'b.yaml']), {
    code: 'MESHD_ERR_USAGE',
    message: "unexpected argument 'b.yaml'",
    hint: /repeat --policies/,
  });
});
