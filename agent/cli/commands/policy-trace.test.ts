import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureIo } from '../cli-io.js';
import { main } from '../main.js';
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
  assert.deepEqual(l7, { type: 'kafka', apiKey: 0, apiVersion: 9, topics: ['empire-announce', 'deathstar-plans'], groups: [] });
  assert.deepEqual(options('--kafka-api-key', 'produce', '--kafka-client-id', 'xwing').l7, {
    type: 'kafka',
    apiKey: 'produce',
    clientID: 'xwing',
    topics: [],
    groups: [],
  });
});

test('--kafka-group is repeatable and keeps every group in order', () => {
  assert.deepEqual(options('--kafka-api-key', 'joingroup', '--kafka-group', 'billing', '--kafka-group', 'audit team').l7, {
    type: 'kafka',
    apiKey: 'joingroup',
    topics: [],
    groups: ['billing', 'audit team'],
  });
  // A group alone is a Kafka option too, so the API key is still asked for.
  assert.equal(options('--kafka-group', 'billing').l7?.type, 'kafka');
});

test('a DNS query becomes a dns request, and no L7 option means a plain L3/L4 trace', () => {
  assert.deepEqual(options('--dns-query', 'api.empire.example').l7, { type: 'dns', query: 'api.empire.example' });
  assert.equal(options().l7, undefined);
});

test('options of two L7 protocols in one flow are refused', () => {
  assert.throws(() => options('--http-method', 'GET', '--dns-query', 'x.example'), { code: 'MESHD_ERR_USAGE', message: /one L7 protocol/ });
  assert.throws(() => options('--kafka-group', 'g', '--http-method', 'GET'), { code: 'MESHD_ERR_USAGE', message: /one L7 protocol/ });
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

// ---- consumer groups, end to end through the command ------------------------------------------

const scratch = mkdtempSync(join(tmpdir(), 'meshd-trace-kafka-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
const groupPolicies = join(scratch, 'kafka-groups.yaml');
writeFileSync(
  groupPolicies,
  `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: broker, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: kafka}}
  ingress:
    - fromEndpoints: [{matchLabels: {app: billing}}]
      toPorts:
        - ports: [{port: "9092", protocol: TCP}]
          rules:
            kafka:
              - {role: consume, topicPrefix: invoices., groupID: billing}
`,
);
const groupEndpoints = join(scratch, 'endpoints.yaml');
writeFileSync(groupEndpoints, '- {name: broker, namespace: shop, labels: {app: kafka}}\n- {name: billing, namespace: shop, labels: {app: billing}}\n');

async function traceGroups(...extra: string[]) {
  const io = captureIo();
  const status = await main(['policy', 'trace', '--policies', groupPolicies, '--endpoints', groupEndpoints, '--from', 'shop/billing', '--to', 'shop/broker', '--port', '9092/tcp', ...extra], io);
  return { status, out: io.out, err: io.err };
}

test("'policy trace --kafka-group' exits 0 for the rule's group and names it in the request", async () => {
  const { status, out } = await traceGroups('--kafka-api-key', 'OffsetCommit', '--kafka-group', 'billing', '--kafka-topic', 'invoices.eu');
  assert.equal(status, 0, out);
  assert.match(out, /^allowed {2}shop\/billing -> shop\/broker 9092\/tcp {2}Kafka offsetcommit topics invoices\.eu groups billing\n/);
});

test("'policy trace --kafka-group' exits 1 for another group and says which group is not allowed", async () => {
  const { status, out } = await traceGroups('--kafka-api-key', 'joingroup', '--kafka-group', 'fraud', '-o', 'json');
  assert.equal(status, 1);
  const result = JSON.parse(out);
  assert.equal(result.request, 'Kafka joingroup groups fraud');
  assert.equal(result.ingress.verdict, 'denied');
  assert.match(result.ingress.reason, /group\(s\) fraud not allowed/);
  assert.match(result.ingress.reason, /GROUP_AUTHORIZATION_FAILED/);
});

test("'policy trace' with a Kafka API name of today's protocol traces it; an unknown one is a usage error (exit 2)", async () => {
  const fetch = await traceGroups('--kafka-api-key', 'ListOffsets', '--kafka-topic', 'invoices.eu');
  assert.equal(fetch.status, 0, fetch.out);
  const bad = await traceGroups('--kafka-api-key', 'joingrup', '--kafka-group', 'billing');
  assert.equal(bad.status, 2);
  assert.match(bad.err, /unknown Kafka API key 'joingrup'/);
});
