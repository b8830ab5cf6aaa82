import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { loadPolicySources, loadPolicyText, type PolicyProblem } from '../index.js';
import { assertTrace, ccnp, cnp, cnpSpecs, endpoint, httpRequest, knp, loadText, ports, sel, trace, yamlText } from '../../test/fixtures/policy-builders.js';

// ---- helpers -----------------------------------------------------------------------------

const scratch = mkdtempSync(join(tmpdir(), 'meshd-load-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let dirCount = 0;

/** Writes files (relative path → text) into a fresh directory and returns its path. */
function directoryWith(files: Record<string, string>): string {
  const dir = join(scratch, `case-${dirCount++}`);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

/** `file:line:col  CODE  path` of each problem: what a reader of the CLI output sees. */
const where = (problems: PolicyProblem[]) => problems.map((p) => `${p.position.file}:${p.position.line}:${p.position.col}  ${p.code}  ${p.path}`);

/** A CNP written as text, so the test can name the lines its problems are on. */
const cnpText = (name: string, specLines: string, namespace = 'default') =>
  `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: ${name}
  namespace: ${namespace}
spec:
${specLines}`;

const validDoc = (name: string) => cnp(name, { endpointSelector: sel({ app: 'web' }), ingress: [{ fromEndpoints: [sel({ app: 'client' })] }] });

// ---- positions, paths, codes -------------------------------------------------------------

test('a problem names file, line and column, the field path, a stable code and a hint', () => {
  const r = loadPolicyText(
    'web.yaml',
    cnpText(
      'web',
      `  endpointSelector: {}
  ingress:
    - fromEndpoint:
        - matchLabels: {app: client}
`,
    ),
  );
  assert.deepEqual(where(r.problems), ['web.yaml:9:7  MESHD_ERR_POLICY_UNKNOWN_FIELD  spec.ingress[0].fromEndpoint']);
  assert.match(r.problems[0]!.message, /unknown field "fromEndpoint"/);
  assert.match(r.problems[0]!.hint ?? '', /did you mean "fromEndpoints"\?/);
});

// One invalid construct per row: the problem must sit on the marker's line and column.
const INVALID: Array<{ what: string; spec: string; code: PolicyProblem['code']; path: string; marker: string }> = [
  { what: 'a misspelled section', spec: '  ingres: [{}]\n  egress: [{}]', code: 'MESHD_ERR_POLICY_UNKNOWN_FIELD', path: 'spec.ingres', marker: 'ingres' },
  { what: 'a section that is not a list', spec: '  ingress: {}\n  egress: [{}]', code: 'MESHD_ERR_POLICY_WRONG_TYPE', path: 'spec.ingress', marker: '{}' },
  { what: 'a port above 65535', spec: '  ingress:\n    - toPorts: [{ports: [{port: "70000", protocol: TCP}]}]', code: 'MESHD_ERR_POLICY_INVALID_VALUE', path: 'spec.ingress[0].toPorts[0].ports[0].port', marker: '"70000"' },
  { what: 'HTTP rules on UDP', spec: '  ingress:\n    - toPorts: [{ports: [{port: "80", protocol: UDP}], rules: {http: [{}]}}]', code: 'MESHD_ERR_POLICY_UNSUPPORTED', path: 'spec.ingress[0].toPorts[0].rules', marker: 'rules' },
  { what: 'DNS rules on ingress', spec: '  ingress:\n    - toPorts: [{ports: [{port: "53", protocol: UDP}], rules: {dns: [{matchPattern: "*"}]}}]', code: 'MESHD_ERR_POLICY_UNSUPPORTED', path: 'spec.ingress[0].toPorts[0].rules.dns', marker: 'dns' },
  { what: 'a malformed matchPattern', spec: '  egress:\n    - toPorts: [{ports: [{port: "53", protocol: UDP}], rules: {dns: [{matchPattern: "a..b"}]}}]', code: 'MESHD_ERR_POLICY_INVALID_VALUE', path: 'spec.egress[0].toPorts[0].rules.dns[0].matchPattern', marker: '"a..b"' },
  { what: 'an endPort below its port', spec: '  ingress:\n    - toPorts: [{ports: [{port: "90", endPort: 80, protocol: TCP}]}]', code: 'MESHD_ERR_POLICY_INVALID_VALUE', path: 'spec.ingress[0].toPorts[0].ports[0].endPort', marker: '80,' },
  { what: 'a prefix length of 33', spec: '  egress:\n    - toCIDR: [10.0.0.0/33]', code: 'MESHD_ERR_POLICY_INVALID_CIDR', path: 'spec.egress[0].toCIDR[0]', marker: '10.0.0.0/33' },
  { what: 'an unknown selector operator', spec: '  ingress:\n    - fromEndpoints: [{matchExpressions: [{key: app, operator: Near, values: [x]}]}]', code: 'MESHD_ERR_POLICY_INVALID_SELECTOR', path: 'spec.ingress[0].fromEndpoints[0].matchExpressions[0].operator', marker: 'Near' },
  { what: 'two L7 protocols in one toPorts entry', spec: '  ingress:\n    - toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{}], kafka: [{}]}}]', code: 'MESHD_ERR_POLICY_CONFLICT', path: 'spec.ingress[0].toPorts[0].rules', marker: '{http' },
  { what: 'serverNames with L7 rules but no terminatingTLS', spec: '  ingress:\n    - toPorts: [{ports: [{port: "443", protocol: TCP}], serverNames: [a.com], rules: {http: [{}]}}]', code: 'MESHD_ERR_POLICY_CONFLICT', path: 'spec.ingress[0].toPorts[0].serverNames', marker: 'serverNames' },
  { what: 'toFQDNs combined with toEndpoints in one element', spec: '  egress:\n    - toFQDNs: [{matchName: a.com}]\n      toEndpoints: [{}]', code: 'MESHD_ERR_POLICY_CONFLICT', path: 'spec.egress[0].toFQDNs', marker: 'toFQDNs' },
  { what: 'a generic l7proto parser', spec: '  ingress:\n    - toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {l7proto: r2d2}}]', code: 'MESHD_ERR_POLICY_UNSUPPORTED', path: 'spec.ingress[0].toPorts[0].rules.l7proto', marker: 'l7proto' },
  { what: 'an unknown Kafka role', spec: '  ingress:\n    - toPorts: [{ports: [{port: "9092", protocol: TCP}], rules: {kafka: [{role: destroy}]}}]', code: 'MESHD_ERR_POLICY_INVALID_VALUE', path: 'spec.ingress[0].toPorts[0].rules.kafka[0].role', marker: 'destroy' },
  { what: 'enableDefaultDeny that is not a boolean', spec: '  enableDefaultDeny: {ingress: "no"}\n  ingress: [{}]', code: 'MESHD_ERR_POLICY_WRONG_TYPE', path: 'spec.enableDefaultDeny.ingress', marker: '"no"' },
  { what: 'a label value that is a number', spec: '  ingress:\n    - fromEndpoints: [{matchLabels: {app: 1}}]', code: 'MESHD_ERR_POLICY_WRONG_TYPE', path: 'spec.ingress[0].fromEndpoints[0].matchLabels.app', marker: '1}' },
  { what: 'an unknown ICMP type name', spec: '  ingress:\n    - icmps: [{fields: [{family: IPv4, type: Bogus}]}]', code: 'MESHD_ERR_POLICY_INVALID_VALUE', path: 'spec.ingress[0].icmps[0].fields[0].type', marker: 'Bogus' },
  { what: 'an unknown entity', spec: '  ingress:\n    - fromEntities: [galaxy]', code: 'MESHD_ERR_POLICY_INVALID_VALUE', path: 'spec.ingress[0].fromEntities[0]', marker: 'galaxy' },
];

for (const row of INVALID) {
  test(`${row.what} is reported at its own line and column, with its path and code`, () => {
    const text = cnpText('p', `  endpointSelector: {}\n${row.spec}\n`);
    const lines = text.split('\n');
    const line = lines.findIndex((l, i) => i >= 7 && l.includes(row.marker));
    const expected = `p.yaml:${line + 1}:${lines[line]!.indexOf(row.marker) + 1}  ${row.code}  ${row.path}`;
    const r = loadPolicyText('p.yaml', text);
    assert.deepEqual(where(r.problems), [expected]);
    assert.ok(r.problems[0]!.message.length > 0);
    assert.deepEqual(r.policies, []);
  });
}

test('an unknown field far from every known one lists the known fields without guessing', () => {
  const r = loadPolicyText('web.yaml', cnpText('web', '  endpointSelector: {}\n  ingress:\n    - galaxyFarFarAway: true\n'));
  assert.equal(r.problems.length, 1);
  assert.doesNotMatch(r.problems[0]!.hint ?? '', /did you mean/);
  assert.match(r.problems[0]!.hint ?? '', /known fields: fromEndpoints/);
});

test('positions in JSON files are lines and columns of the JSON text', () => {
  const json = JSON.stringify(cnp('j', { endpointSelector: {}, ingress: [{ toPorts: [ports('80/TCPX')] }] }), null, 2);
  const r = loadPolicyText('j.json', json);
  const line = json.split('\n').findIndex((l) => l.includes('"TCPX"')) + 1;
  assert.deepEqual(
    r.problems.map((p) => [p.code, p.path, p.position.line]),
    [['MESHD_ERR_POLICY_INVALID_VALUE', 'spec.ingress[0].toPorts[0].ports[0].protocol', line]],
  );
});

test('malformed YAML is a syntax problem with its position', () => {
  const r = loadPolicyText('broken.yaml', 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a\nspec: {}\n');
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0]!.code, 'MESHD_ERR_POLICY_SYNTAX');
  assert.equal(r.problems[0]!.position.file, 'broken.yaml');
  assert.ok(r.problems[0]!.position.line >= 3);
  assert.deepEqual(r.policies, []);
});

test('every problem of a file is reported, each with its own place', () => {
  const text =
    cnpText(
      'many',
      `  endpointSelector: {}
  ingress:
    - fromEndpoints: [{matchLabels: {app: x}}]
      fromCIDR: [10.0.0.0/8]
    - toPorts:
        - ports: [{port: "80", protocol: TCP}]
          rules:
            http: [{path: "/(unclosed"}]
  egress:
    - toCIDRSet: [{cidr: 10.0.0.0/8, except: [192.168.0.0/16]}]
`,
    ) +
    '---\n' +
    cnpText('more', '  endpointSelector: {}\n  ingress:\n    - fromEntities: [galaxy]\n');
  const r = loadPolicyText('many.yaml', text);
  assert.deepEqual(where(r.problems).sort(), [
    'many.yaml:10:7  MESHD_ERR_POLICY_CONFLICT  spec.ingress[0].fromCIDR',
    'many.yaml:14:27  MESHD_ERR_POLICY_INVALID_REGEX  spec.ingress[1].toPorts[0].rules.http[0].path',
    'many.yaml:16:47  MESHD_ERR_POLICY_INVALID_CIDR  spec.egress[0].toCIDRSet[0].except[0]',
    'many.yaml:26:22  MESHD_ERR_POLICY_INVALID_VALUE  spec.ingress[0].fromEntities[0]',
  ]);
});

// ---- all or nothing ----------------------------------------------------------------------

const validAndInvalid = (validName: string) => yamlText(validDoc(validName), cnp('bad', { endpointSelector: {}, ingress: [{ fromEndpoint: [{}] }] }));
const oneValidOneInvalid = validAndInvalid('good');

test('a file with one valid and one invalid document loads nothing', async () => {
  const dir = directoryWith({ 'mixed.yaml': oneValidOneInvalid });
  const r = await loadPolicySources([dir]);
  assert.deepEqual(r.policies, []);
  assert.deepEqual(
    r.problems.map((p) => [p.code, p.path]),
    [['MESHD_ERR_POLICY_UNKNOWN_FIELD', 'spec.ingress[0].fromEndpoint']],
  );
});

test('a bad file does not keep the good files next to it from loading', async () => {
  const dir = directoryWith({ 'a-good.yaml': yamlText(validDoc('good')), 'b-mixed.yaml': validAndInvalid('mixed-good'), 'c-good.yaml': yamlText(validDoc('also-good')) });
  const r = await loadPolicySources([dir]);
  assert.deepEqual(r.policies.map((p) => p.origin.name), ['good', 'also-good']);
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0]!.position.file, join(dir, 'b-mixed.yaml'));
});

test('loadPolicyText, the per-file loader, also returns no policy from a file with an invalid document', () => {
  const r = loadPolicyText('mixed.yaml', oneValidOneInvalid);
  assert.ok(r.problems.length > 0);
  assert.deepEqual(r.policies.map((p) => p.origin.name), []);
});

// ---- removed and misspelled fields -------------------------------------------------------

test('fromRequires is rejected as removed, with a hint to fold it into fromEndpoints', () => {
  const r = loadPolicyText('req.yaml', cnpText('req', '  endpointSelector: {}\n  ingress:\n    - fromRequires: [{matchLabels: {env: prod}}]\n'));
  assert.deepEqual(where(r.problems), ['req.yaml:9:7  MESHD_ERR_POLICY_REMOVED_FIELD  spec.ingress[0].fromRequires']);
  assert.match(r.problems[0]!.message, /was removed/);
  assert.match(r.problems[0]!.hint ?? '', /fromEndpoints/);
  assert.deepEqual(r.policies, []);
});

test('toRequires is rejected as removed in egress', () => {
  const r = loadPolicyText('req.yaml', cnpText('req', '  endpointSelector: {}\n  egress:\n    - toRequires: [{matchLabels: {env: prod}}]\n'));
  assert.deepEqual(r.problems.map((p) => p.code), ['MESHD_ERR_POLICY_REMOVED_FIELD']);
});

test('an empty fromRequires list is accepted, as the CRD (maxItems 0) accepts it', () => {
  const r = loadPolicyText('req.yaml', cnpText('req', '  endpointSelector: {}\n  ingress:\n    - fromRequires: []\n      fromEndpoints: [{}]\n'));
  assert.deepEqual(r.problems, []);
});

test('field names are case-insensitive in a bare JSON rule list ("HTTP", "Method")', () => {
  const rules = [
    {
      EndpointSelector: { matchLabels: { app: 'web' } },
      Ingress: [{ toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { HTTP: [{ Method: 'GET', Path: '/public' }] } }] }],
    },
  ];
  const policies = loadText(JSON.stringify(rules), 'rules.json');
  assert.equal(policies[0]!.origin.kind, 'CiliumRuleList');
  const endpoints = [endpoint('default/web', { app: 'web' }), endpoint('default/client', { app: 'client' })];
  const flow = { from: 'default/client', to: 'default/web', port: '80/tcp' };
  assertTrace(trace(policies, endpoints, { ...flow, request: httpRequest('GET', '/public') }), { verdict: 'allowed', ingress: { stage: 'l7' } });
  assertTrace(trace(policies, endpoints, { ...flow, request: httpRequest('POST', '/public') }), { verdict: 'denied', ingress: { stage: 'l7' } });
});

test('field names are exact in a CiliumNetworkPolicy: "HTTP" is unknown, with the right spelling suggested', () => {
  const r = loadPolicyText(
    'cnp.yaml',
    cnpText('cnp', '  endpointSelector: {}\n  ingress:\n    - toPorts:\n        - ports: [{port: "80", protocol: TCP}]\n          rules:\n            HTTP: [{method: GET}]\n'),
  );
  assert.deepEqual(where(r.problems), ['cnp.yaml:12:13  MESHD_ERR_POLICY_UNKNOWN_FIELD  spec.ingress[0].toPorts[0].rules.HTTP']);
  assert.match(r.problems[0]!.hint ?? '', /did you mean "http"/);
});

test('a misspelled field in a bare JSON rule list is still reported', () => {
  const r = loadPolicyText('rules.json', JSON.stringify([{ endpointSelector: {}, ingress: [{ FromEndpoint: [{}] }] }]));
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0]!.code, 'MESHD_ERR_POLICY_UNKNOWN_FIELD');
  assert.match(r.problems[0]!.hint ?? '', /did you mean "fromEndpoints"/);
});

// ---- document shapes ---------------------------------------------------------------------

test('kind: List loads every item', () => {
  const list = { apiVersion: 'v1', kind: 'List', items: [validDoc('one'), knp('two', { podSelector: {}, policyTypes: ['Ingress'] })] };
  const policies = loadText(yamlText(list));
  assert.deepEqual(policies.map((p) => `${p.origin.kind}/${p.origin.name}`), ['CiliumNetworkPolicy/one', 'NetworkPolicy/two']);
});

test('a problem inside a List item has the item in its path', () => {
  const list = { apiVersion: 'v1', kind: 'List', items: [validDoc('one'), cnp('two', { endpointSelector: {}, ingress: [{ fromEntities: ['galaxy'] }] })] };
  const r = loadPolicyText('list.yaml', yamlText(list));
  assert.deepEqual(r.problems.map((p) => p.path), ['items[1].spec.ingress[0].fromEntities[0]']);
});

test('specs holds several rules of one policy, each with its own path and line', () => {
  const text = yamlText(
    cnpSpecs('two-rules', [
      { endpointSelector: sel({ app: 'web' }), ingress: [{ fromEndpoints: [sel({ app: 'client' })] }] },
      { endpointSelector: sel({ app: 'db' }), ingress: [{ fromEndpoints: [sel({ app: 'web' })] }] },
    ]),
  );
  const [policy] = loadText(text);
  assert.deepEqual(policy!.rules.map((r) => r.path), ['specs[0]', 'specs[1]']);
  assert.ok(policy!.rules[1]!.position.line > policy!.rules[0]!.position.line);
  const endpoints = [endpoint('default/web', { app: 'web' }), endpoint('default/db', { app: 'db' }), endpoint('default/client', { app: 'client' })];
  assertTrace(trace([policy!], endpoints, { from: 'default/web', to: 'default/db', port: '5432/tcp' }), { verdict: 'allowed', ingress: { policy: 'default/two-rules' } });
  assertTrace(trace([policy!], endpoints, { from: 'default/client', to: 'default/db', port: '5432/tcp' }), { verdict: 'denied', ingress: { policy: 'default-deny' } });
});

test('a Deployment in a policy file is skipped with a note and the policies load', () => {
  const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' }, spec: {} };
  const r = loadPolicyText('app.yaml', yamlText(deployment, validDoc('web')));
  assert.deepEqual(r.problems, []);
  assert.equal(r.policies.length, 1);
  assert.deepEqual(
    r.skipped.map((s) => [s.kind, s.name, s.position.line]),
    [['Deployment', 'web', 2]],
  );
  assert.match(r.skipped[0]!.note, /not a policy kind/);
});

test('a NetworkPolicy of another API group is skipped, not read as a Kubernetes one', () => {
  const calico = { apiVersion: 'crd.projectcalico.org/v1', kind: 'NetworkPolicy', metadata: { name: 'c' }, spec: { selector: 'all()' } };
  const r = loadPolicyText('calico.yaml', yamlText(calico));
  assert.deepEqual([r.problems, r.policies, r.skipped.map((s) => s.kind)], [[], [], ['NetworkPolicy']]);
});

test('template placeholders are rejected at their position with a hint to render first', () => {
  const r = loadPolicyText('tpl.yaml', cnpText('web', '  endpointSelector: {}\n  ingress: [{}]\n', '{{ .Namespace }}'));
  assert.deepEqual(where(r.problems), ['tpl.yaml:5:14  MESHD_ERR_POLICY_TEMPLATE  ']);
  assert.match(r.problems[0]!.hint ?? '', /render the template/);
  assert.deepEqual(r.policies, []);
});

test('documents that are not objects are problems at their own line', () => {
  const r = loadPolicyText('odd.yaml', `${yamlText(validDoc('web'))}---\n42\n---\n"a string"\n`);
  assert.deepEqual(
    r.problems.map((p) => [p.code, p.position.line]),
    [
      ['MESHD_ERR_POLICY_WRONG_TYPE', 15],
      ['MESHD_ERR_POLICY_WRONG_TYPE', 17],
    ],
  );
});

test('a list that holds no rules is skipped with a note, not loaded as rules', () => {
  const r = loadPolicyText('list.yaml', '- a\n- b\n');
  assert.deepEqual([r.problems, r.policies], [[], []]);
  assert.equal(r.skipped.length, 1);
  assert.match(r.skipped[0]!.note, /not Cilium rules/);
});

test('an empty file and a comment-only document load nothing and report nothing', () => {
  for (const text of ['', '# nothing here\n---\n']) {
    const r = loadPolicyText('empty.yaml', text);
    assert.deepEqual([r.policies, r.problems, r.skipped], [[], [], []]);
  }
});

test('a NetworkPolicy with policyTypes [Ingress] and no rules denies all ingress and leaves egress open', () => {
  const policies = loadText(yamlText(knp('deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] }, 'shop')));
  const endpoints = [endpoint('shop/web', { app: 'web' }), endpoint('shop/client', { app: 'client' })];
  assertTrace(trace(policies, endpoints, { from: 'shop/client', to: 'shop/web', port: '80/tcp' }), {
    verdict: 'denied',
    egress: { verdict: 'allowed', policy: null },
    ingress: { verdict: 'denied', policy: 'default-deny' },
  });
  assertTrace(trace(policies, endpoints, { from: 'shop/web', to: '192.0.2.1', port: '443/tcp' }), { verdict: 'allowed', egress: { policy: null } });
});

// ---- rule-level checks -------------------------------------------------------------------

test('a rule with no ingress or egress section is rejected with the deny-all idiom as hint', () => {
  const r = loadPolicyText('e.yaml', cnpText('e', '  endpointSelector: {}\n'));
  assert.deepEqual(r.problems.map((p) => [p.code, p.path]), [['MESHD_ERR_POLICY_EMPTY_RULE', 'spec']]);
  assert.match(r.problems[0]!.hint ?? '', /ingress: \[\{\}\]/);
});

test('nodeSelector is refused in a namespaced policy and accepted cluster-wide', () => {
  const r = loadPolicyText('n.yaml', cnpText('n', '  nodeSelector: {}\n  ingress: [{}]\n'));
  assert.deepEqual(r.problems.map((p) => [p.code, p.path]), [['MESHD_ERR_POLICY_UNSUPPORTED', 'spec.nodeSelector']]);
  assert.equal(loadText(yamlText(ccnp('host', { nodeSelector: {}, ingress: [{ fromEntities: ['cluster'] }] }))).length, 1);
});

test('deny rules may not carry L7 rules or toFQDNs', () => {
  const r = loadPolicyText(
    'deny.yaml',
    cnpText('deny', '  endpointSelector: {}\n  ingressDeny:\n    - toPorts: [{ports: [{port: "80"}], rules: {http: [{}]}}]\n  egressDeny:\n    - toFQDNs: [{matchName: example.com}]\n'),
  );
  assert.deepEqual(r.problems.map((p) => [p.code, p.path]).sort(), [
    ['MESHD_ERR_POLICY_UNSUPPORTED', 'spec.egressDeny[0].toFQDNs'],
    ['MESHD_ERR_POLICY_UNSUPPORTED', 'spec.ingressDeny[0].toPorts[0].rules'],
  ]);
});

test('HTTP and Kafka rules on a port without protocol (ANY) are rejected: L7 rules other than DNS need TCP', () => {
  for (const [port, rules] of [
    ['80', 'http: [{method: GET}]'],
    ['80", protocol: "ANY', 'http: [{method: GET}]'],
    ['9092', 'kafka: [{role: produce}]'],
  ] as const) {
    const r = loadPolicyText('any.yaml', cnpText('any', `  endpointSelector: {}\n  ingress:\n    - toPorts:\n        - ports: [{port: "${port}"}]\n          rules:\n            ${rules}\n`));
    assert.deepEqual(r.problems.map((p) => [p.code, p.path]), [['MESHD_ERR_POLICY_UNSUPPORTED', 'spec.ingress[0].toPorts[0].rules']], `${port} with ${rules}`);
  }
});

test('DNS rules may use a port without protocol (ANY)', () => {
  const r = loadPolicyText('dns.yaml', cnpText('dns', '  endpointSelector: {}\n  egress:\n    - toPorts:\n        - ports: [{port: "53"}]\n          rules:\n            dns: [{matchPattern: "*"}]\n'));
  assert.deepEqual(r.problems, []);
});

test('a policy without metadata.namespace lives in the default namespace', () => {
  const text = yamlText({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'p' }, spec: { endpointSelector: {}, ingress: [{}] } });
  assert.equal(loadText(text)[0]!.origin.namespace, 'default');
});

test('an endpointSelector naming another namespace is warned about and still scoped to the policy’s own', () => {
  const r = loadPolicyText('ns.yaml', yamlText(cnp('p', { endpointSelector: sel({ 'k8s:io.kubernetes.pod.namespace': 'y' }), ingress: [{}] }, 'x')));
  assert.deepEqual(r.problems, []);
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0]!.message, /only selects endpoints of its own namespace "x"/);
  const endpoints = [endpoint('x/a', { app: 'a' }), endpoint('y/a', { app: 'a' }), endpoint('x/client', { app: 'c' })];
  assert.equal(trace(r.policies, endpoints, { from: 'x/client', to: 'x/a', port: '80/tcp' }).verdict, 'denied');
  assert.equal(trace(r.policies, endpoints, { from: 'x/client', to: 'y/a', port: '80/tcp' }).verdict, 'allowed');
});

// ---- files and directories ---------------------------------------------------------------

test('the same policy name in two files is a duplicate that names the first definition', async () => {
  const dir = directoryWith({ 'a.yaml': yamlText(validDoc('web')), 'b.yaml': yamlText(validDoc('web')) });
  const r = await loadPolicySources([dir]);
  assert.deepEqual(r.policies.map((p) => p.origin.position.file), [join(dir, 'a.yaml')]);
  assert.deepEqual(where(r.problems), [`${join(dir, 'b.yaml')}:2:7  MESHD_ERR_POLICY_DUPLICATE_NAME  metadata.name`]);
  assert.match(r.problems[0]!.message, new RegExp(`already defined at ${join(dir, 'a.yaml')}:2`));
});

test('the same policy name twice in one file is a duplicate too', async () => {
  const dir = directoryWith({ 'twice.yaml': yamlText(validDoc('web'), validDoc('web')) });
  const r = await loadPolicySources([dir]);
  assert.deepEqual(r.problems.map((p) => p.code), ['MESHD_ERR_POLICY_DUPLICATE_NAME']);
  assert.deepEqual(r.policies, []);
});

test('the same name in another namespace or of another kind is not a duplicate', async () => {
  const dir = directoryWith({
    'a.yaml': yamlText(validDoc('web')),
    'b.yaml': yamlText(cnp('web', { endpointSelector: {}, ingress: [{}] }, 'other')),
    'c.yaml': yamlText(knp('web', { podSelector: {}, policyTypes: ['Ingress'] })),
    'd.yaml': yamlText(ccnp('web', { endpointSelector: {}, ingress: [{}] })),
  });
  const r = await loadPolicySources([dir]);
  assert.deepEqual(r.problems, []);
  assert.equal(r.policies.length, 4);
});

test('a directory is read recursively, in sorted order, policy extensions only, hidden files skipped', async () => {
  const dir = directoryWith({
    'b.yaml': yamlText(validDoc('b')),
    'a/z.yml': yamlText(validDoc('a-z')),
    'c.json': JSON.stringify(validDoc('c')),
    'notes.txt': 'not a policy',
    '.hidden.yaml': 'this: [is not read',
  });
  const r = await loadPolicySources([dir]);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.files, [join(dir, 'a/z.yml'), join(dir, 'b.yaml'), join(dir, 'c.json')]);
  assert.deepEqual(r.policies.map((p) => p.origin.name), ['a-z', 'b', 'c']);
});

test('a path that does not exist is a read problem', async () => {
  const missing = join(scratch, 'no-such-dir');
  const r = await loadPolicySources([missing]);
  assert.deepEqual(r.problems.map((p) => [p.code, p.position.file]), [['MESHD_ERR_POLICY_FILE_READ', missing]]);
  assert.match(r.problems[0]!.message, /no such file or directory/);
});
