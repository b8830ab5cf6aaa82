// The corpus test's template renderer agrees with upstream's own expected renderings
// (cilium-cli/connectivity/builder/manifests/template/testdata/*/out*.yaml) and with Go's
// text/template on the constructs the corpus uses.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { corpusDir } from './corpus-files.js';
import { renderGoTemplate, TemplateError } from './go-template.js';
import { CONNECTIVITY_VALUES, generateDnsMatchPatternWithWildcard, templateFuncs } from './template-data.js';
import { Prng } from '../fuzz/prng.js';

const TESTDATA = 'v1.20-dev/cilium-cli/connectivity/builder/manifests/template/testdata';

function testdata(name: string): string {
  return readFileSync(join(corpusDir(), TESTDATA, name), 'utf8');
}

test("trimSuffix renders as upstream's testdata expects", () => {
  const out = renderGoTemplate(testdata('trim_suffix/in.yaml'), { ExternalTarget: 'one.one.one.one.' }, templateFuncs(1));
  assert.deepEqual(parse(out), parse(testdata('trim_suffix/out.yaml')));
});

test("ipToCIDR renders as upstream's testdata expects", () => {
  const out = renderGoTemplate(testdata('ip_to_cidr/in.yaml'), { ExternalCIDR: '10.0.0.0/16', ExternalIP: '10.0.0.2' }, templateFuncs(1));
  assert.deepEqual(parse(out), parse(testdata('ip_to_cidr/out.yaml')));
  assert.equal(renderGoTemplate('{{ .X | ipToCIDR }}', { X: '2001:db8::1' }, templateFuncs(1)), '2001:db8::1/128');
});

test("generateDNSMatchPatternWithWildcard produces the patterns of upstream's default testdata", () => {
  const data = { ExternalTarget: 'one.one.one.one.', ExternalTargetOther: 'k8s.io.' };
  const out = parse(renderGoTemplate(testdata('generate_dns_match_pattern/in.yaml'), data, templateFuncs(7))) as {
    specs: { egress: { toPorts: { serverNames: string[] }[] }[] }[];
  };
  const names = out.specs.map((s) => s.egress[0]!.toPorts[0]!.serverNames);
  assert.deepEqual(names[0], ['**.one.'], 'any-prefix');
  assert.ok(names[1]!.length > 0 && names[3]!.length > 0, `the random variants rendered no serverNames: ${JSON.stringify(names)}`);
  for (const n of names[1]!) assert.ok(['**.one.', '**.one.one.', '**.one.one.one.'].includes(n), `random-any-prefix gave ${n}`);
  assert.deepEqual(names[2], ['*.one.one.one.'], 'subdomain-prefix');
  for (const n of names[3]!) assert.match(n, /^(?:[a-z*]*\.){4}$/, `random gave ${n}`);
  for (const n of names[3]!) assert.equal(n.split('*').length, 2, `random puts exactly one * in ${n}`);
  // Labels shared with the other target stay literal; a single differing label is returned as is.
  assert.equal(generateDnsMatchPatternWithWildcard('a.b.example.com.', 'x.example.com.', 'any-prefix', new Prng(1)), '**.b.example.com.');
  assert.equal(generateDnsMatchPatternWithWildcard('example.com.', 'x.com.', 'any-prefix', new Prng(1)), 'example.com.');
});

test('if / else if / else picks one branch, with variables from ClusterLoader2 functions', () => {
  const tpl = '{{$n := Mod .Index 3}}{{if eq $n 0}}zero{{else if eq $n 1}}one{{else}}other{{end}}';
  const render = (i: number): string => renderGoTemplate(tpl, { Index: i }, templateFuncs(1));
  assert.deepEqual([0, 1, 2, 3].map(render), ['zero', 'one', 'other', 'zero']);
});

test('range binds the element to the variable and to the dot, and trim markers eat whitespace', () => {
  const data = { Items: [{ IP: '192.0.2.1', Mask: 32 }, { IP: '2001:db8::1', Mask: 128 }] };
  assert.equal(renderGoTemplate('{{ range $i := .Items }}[{{$i.IP}}/{{.Mask}}]{{ end }}', data), '[192.0.2.1/32][2001:db8::1/128]');
  assert.equal(renderGoTemplate('a:\n{{- range .L }}\n  - {{.}}\n{{- end }}\n', { L: ['x', 'y'] }), 'a:\n  - x\n  - y\n');
  assert.equal(renderGoTemplate('{{range $k, $v := .L}}{{$k}}={{$v}} {{end}}', { L: ['a', 'b'] }), '0=a 1=b ');
  assert.equal(renderGoTemplate('{{range .L}}x{{else}}empty{{end}}', { L: [] }), 'empty');
});

test('Loop, DefaultParam and AddInt behave like ClusterLoader2', () => {
  const f = templateFuncs(1);
  assert.equal(renderGoTemplate('{{range $i := Loop 3}}{{$i}}{{end}}', {}, f), '012');
  assert.equal(renderGoTemplate('{{AddInt (DefaultParam .missing 4) 1}}', {}, f), '5');
  assert.equal(renderGoTemplate('{{AddInt (DefaultParam .n 4) 1}}', { n: 0 }, f), '1');
  const r = Number(renderGoTemplate('{{RandIntRange 5 9}}', {}, f));
  assert.ok(r >= 5 && r < 9);
});

test('missing values and unknown constructs fail loudly instead of rendering something wrong', () => {
  assert.throws(() => renderGoTemplate('{{.Nope}}', {}), TemplateError);
  assert.throws(() => renderGoTemplate('{{nope 1}}', {}), /function "nope" not defined/);
  assert.throws(() => renderGoTemplate('{{with .A}}x{{end}}', { A: 1 }), /not supported/);
  assert.throws(() => renderGoTemplate('{{if .A}}x', { A: 1 }), /missing \{\{end\}\}/);
  assert.throws(() => renderGoTemplate('{{end}}', {}), TemplateError);
  assert.throws(() => renderGoTemplate('{{.A', {}), /unclosed action/);
});

test('the fixed values are documentation addresses and cilium-cli default names', () => {
  assert.match(CONNECTIVITY_VALUES.ExternalIPv4, /^192\.0\.2\./);
  assert.match(CONNECTIVITY_VALUES.ExternalOtherIPv4, /^192\.0\.2\./);
  assert.match(CONNECTIVITY_VALUES.ExternalIPv6, /^2001:db8:/);
  assert.equal(CONNECTIVITY_VALUES.TestNamespace, 'cilium-test');
  assert.equal(CONNECTIVITY_VALUES.ExternalTarget, 'one.one.one.one.');
});
