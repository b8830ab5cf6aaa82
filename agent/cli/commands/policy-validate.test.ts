import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderValidate, toValidateResult } from './policy-validate.js';
import type { LoadResult, Policy, PolicyKind, PolicyProblem, PolicyRule, SkippedDocument } from '../../../policy/index.js';

// Builders for what the loader returns; only the fields the CLI reads are meaningful.
function policy(kind: PolicyKind, namespace: string | undefined, name: string, file: string, line: number, ruleCount = 1): Policy {
  const origin = { kind, namespace, name, position: { file, line, col: 1 } };
  const rule = (i: number): PolicyRule => ({
    origin,
    ruleIndex: i,
    path: i === 0 ? 'spec' : `specs[${i}]`,
    position: { file, line: line + 3, col: 3 },
    subject: { kind: 'endpoints', selector: { requirements: [] } },
    ingress: [],
    ingressDeny: [],
    egress: [],
    egressDeny: [],
    enableDefaultDeny: {},
    labels: {},
  });
  return { origin, rules: Array.from({ length: ruleCount }, (_, i) => rule(i)) };
}

function problem(code: PolicyProblem['code'], file: string, line: number, col: number, path: string, message: string, hint?: string): PolicyProblem {
  return { code, message, path, position: { file, line, col }, ...(hint ? { hint } : {}) };
}

function skipped(kind: string, name: string | undefined, file: string, line: number, note: string): SkippedDocument {
  return { kind, name, position: { file, line, col: 1 }, note };
}

function loadResult(parts: Partial<LoadResult>): LoadResult {
  return { files: [], policies: [], cidrGroups: [], skipped: [], problems: [], warnings: [], ...parts };
}

const clean = loadResult({
  files: ['examples/deathstar.yaml', 'examples/kafka.yaml'],
  policies: [
    policy('CiliumNetworkPolicy', 'default', 'deathstar-l7', 'examples/deathstar.yaml', 1, 2),
    policy('CiliumClusterwideNetworkPolicy', undefined, 'dns-egress', 'examples/kafka.yaml', 1),
  ],
  skipped: [skipped('Service', 'deathstar', 'examples/deathstar.yaml', 30, 'not a policy kind')],
});

const broken = loadResult({
  files: ['bad.yaml', 'good.yaml'],
  policies: [policy('NetworkPolicy', 'default', 'allow-web', 'good.yaml', 1)],
  problems: [
    problem('MESHD_ERR_POLICY_UNKNOWN_FIELD', 'bad.yaml', 9, 7, 'spec.ingress[0].fromEndpoint', "unknown field 'fromEndpoint'", "did you mean 'fromEndpoints'?"),
    problem('MESHD_ERR_POLICY_INVALID_REGEX', 'bad.yaml', 14, 21, 'spec.ingress[0].toPorts[0].rules.http[0].path', 'spec.ingress[0].toPorts[0].rules.http[0].path: (?=x) is not RE2 syntax'),
  ],
});

test('a clean load renders skipped-document notes and a summary, and is ok', () => {
  const result = toValidateResult(clean);
  assert.equal(result.ok, true);
  assert.equal(
    renderValidate(result, 'text'),
    'examples/deathstar.yaml:30:1  note: skipped Service deathstar: not a policy kind\n' +
      '2 files, 2 policies (3 rules) loaded, 1 document skipped, 0 problems\n',
  );
});

test('each problem renders as file:line:col  CODE  path: message, with an indented hint', () => {
  const result = toValidateResult(broken);
  assert.equal(result.ok, false);
  assert.equal(
    renderValidate(result, 'text'),
    "bad.yaml:9:7  MESHD_ERR_POLICY_UNKNOWN_FIELD  spec.ingress[0].fromEndpoint: unknown field 'fromEndpoint'\n" +
      "  hint: did you mean 'fromEndpoints'?\n" +
      'bad.yaml:14:21  MESHD_ERR_POLICY_INVALID_REGEX  spec.ingress[0].toPorts[0].rules.http[0].path: (?=x) is not RE2 syntax\n' +
      '2 files, 1 policy (1 rule) loaded, 0 documents skipped, 2 problems (1 file rejected)\n',
  );
});

test('the JSON output has ok, files, policies, skipped and problems with flat positions', () => {
  const json = JSON.parse(renderValidate(toValidateResult(broken), 'json'));
  assert.deepEqual(Object.keys(json), ['ok', 'files', 'policies', 'cidrGroups', 'skipped', 'problems', 'warnings']);
  assert.equal(json.ok, false);
  assert.deepEqual(json.policies, [{ kind: 'NetworkPolicy', namespace: 'default', name: 'allow-web', file: 'good.yaml', line: 1, rules: 1 }]);
  assert.deepEqual(json.problems[0], {
    code: 'MESHD_ERR_POLICY_UNKNOWN_FIELD',
    message: "unknown field 'fromEndpoint'",
    path: 'spec.ingress[0].fromEndpoint',
    file: 'bad.yaml',
    line: 9,
    col: 7,
    hint: "did you mean 'fromEndpoints'?",
  });
  assert.equal(json.problems[1].hint, null);
});

test('JSON keeps cluster-wide policies and unnamed skipped documents as explicit nulls', () => {
  const result = toValidateResult(
    loadResult({ ...clean, skipped: [skipped('ConfigMap', undefined, 'examples/kafka.yaml', 12, 'not a policy kind')] }),
  );
  const json = JSON.parse(renderValidate(result, 'json'));
  assert.equal(json.policies[1].namespace, null);
  assert.deepEqual(json.skipped, [{ kind: 'ConfigMap', name: null, file: 'examples/kafka.yaml', line: 12, col: 1, note: 'not a policy kind' }]);
  assert.match(renderValidate(result, 'text'), /^examples\/kafka\.yaml:12:1 {2}note: skipped ConfigMap: not a policy kind\n/);
});

test('CIDR groups are counted in the summary only when there are some', () => {
  const result = toValidateResult(
    loadResult({ files: ['g.yaml'], cidrGroups: [{ name: 'office', labels: {}, cidrs: ['10.0.0.0/8'], position: { file: 'g.yaml', line: 1, col: 1 } }] }),
  );
  assert.equal(renderValidate(result, 'text'), '1 file, 0 policies (0 rules) loaded, 1 CIDR group loaded, 0 documents skipped, 0 problems\n');
});

test('warnings are listed after problems, counted in the summary, and do not fail validation', () => {
  const result = toValidateResult(
    loadResult({
      ...clean,
      skipped: [],
      warnings: [{ message: 'endpointSelector names another namespace', position: { file: 'examples/deathstar.yaml', line: 8, col: 5 } }],
    }),
  );
  assert.equal(result.ok, true);
  assert.equal(
    renderValidate(result, 'text'),
    'examples/deathstar.yaml:8:5  warning: endpointSelector names another namespace\n' +
      '2 files, 2 policies (3 rules) loaded, 0 documents skipped, 0 problems, 1 warning\n',
  );
  assert.deepEqual(JSON.parse(renderValidate(result, 'json')).warnings, [
    { message: 'endpointSelector names another namespace', file: 'examples/deathstar.yaml', line: 8, col: 5 },
  ]);
});
