// Fixed values and functions for rendering the corpus's templated manifests, the way their
// upstream harnesses do: cilium-cli's connectivity tests (cilium-cli/connectivity/builder, funcs
// from connectivity/builder/manifests/template), ClusterLoader2 scale tests (.github/actions/cl2-modules,
// CL2's built-in funcs) and a Helm chart (test/k8s/manifests/cnp-second-namespaces, `.Values`).
// Addresses are documentation ranges (192.0.2.0/24 TEST-NET-1, 2001:db8::/32), names follow
// cilium-cli's defaults (one.one.one.one., k8s.io., cabundle).

import { Prng } from '../fuzz/prng.js';
import { renderGoTemplate, type TemplateFunc } from './go-template.js';

export const CONNECTIVITY_VALUES = {
  TestNamespace: 'cilium-test',
  ClusterNameLocal: 'cluster-local',
  ClusterNameRemote: 'cluster-remote',
  ExternalTarget: 'one.one.one.one.',
  ExternalOtherTarget: 'k8s.io.',
  ExternalTargetOther: 'k8s.io.', // the spelling template/testdata uses
  // Not cilium-cli values: names that do not resolve, used by the double-wildcard SNI test.
  FakeExternalTarget: 'www.sub.fake.one.one.one.one.',
  FakeExternalOtherTarget: 'fake.k8s.io.',
  ExternalTargetCAName: 'cabundle',
  ExternalTargetCANamespace: 'cilium-test',
  ExternalDeploymentPort: 8080,
  ExternalCIDR: '192.0.2.0/24',
  ExternalIP: '192.0.2.10',
  ExternalOtherIP: '192.0.2.20',
  ExternalCIDRv4: '192.0.2.0/24',
  ExternalIPv4: '192.0.2.10',
  ExternalOtherIPv4: '192.0.2.20',
  ExternalCIDRv6: '2001:db8::/64',
  ExternalIPv6: '2001:db8::10',
  ExternalOtherIPv6: '2001:db8::20',
  K8sCIDR: '192.0.2.1/32',
  NodeCIDRs: ['192.0.2.101/32', '192.0.2.102/32'],
  ControlPlaneCIDRs: ['192.0.2.100/32'],
  NodesWithoutCiliumIPs: [
    { IP: '192.0.2.200', Mask: 32 },
    { IP: '2001:db8::200', Mask: 128 },
  ],
};

const CL2_VALUES = { Name: 'load-policy-0', Index: 0, CNPs: 5, Deployments: 10, policyAppName: 'l7-perf' };

const HELM_VALUES = { Values: { Namespace: 'cilium-test-second' } };

export interface TemplateVariant {
  /** Empty for the single rendering of most templates; otherwise what makes this rendering differ. */
  label: string;
  data: Record<string, unknown>;
}

const BASE_DATA: Record<string, unknown> = { ...CONNECTIVITY_VALUES, ...CL2_VALUES, ...HELM_VALUES };

/**
 * Renderings per template. Templates whose output depends on their parameters are rendered once
 * per branch, so every shape they can produce is loaded.
 */
export function templateVariants(rel: string): TemplateVariant[] {
  if (rel.endsWith('.github/actions/cl2-modules/netpol/cnp.yaml')) {
    // `{{if eq (Mod .Index .CNPs) N}}` picks one of five policy shapes.
    const shapes = ['L3', 'CIDR', 'L4', 'L4 CIDR', 'FQDN'];
    return shapes.map((shape, i) => ({ label: `Index=${i} ${shape}`, data: { ...BASE_DATA, Index: i, Name: `load-policy-${i}` } }));
  }
  if (rel.endsWith('.github/actions/cl2-modules/l7/manifests/policy.yaml')) {
    return [
      { label: 'rulesPerPolicy unset', data: { ...BASE_DATA } },
      { label: 'rulesPerPolicy=3', data: { ...BASE_DATA, rulesPerPolicy: 3 } },
    ];
  }
  return [{ label: '', data: BASE_DATA }];
}

/** The key of a rendering in the expectation table: `path (rendered)` or `path (rendered: label)`. */
export function renderedKey(rel: string, v: TemplateVariant): string {
  return v.label ? `${rel} (rendered: ${v.label})` : `${rel} (rendered)`;
}

/** Renders one corpus template; the random functions are seeded from the path, so output is stable. */
export function renderCorpusTemplate(rel: string, text: string, data: Record<string, unknown>): string {
  return renderGoTemplate(text, data, templateFuncs(seedFromString(rel)));
}

export function templateFuncs(seed: number): Record<string, TemplateFunc> {
  const rng = new Prng(seed);
  return {
    // cilium-cli (connectivity/builder/manifests/template/template.go)
    trimSuffix: (s, suffix) => {
      const [str, suf] = [asString(s), asString(suffix)];
      return str.endsWith(suf) ? str.slice(0, str.length - suf.length) : str;
    },
    ipToCIDR: (ip) => (asString(ip).includes(':') ? `${asString(ip)}/128` : `${asString(ip)}/32`),
    generateDNSMatchPatternWithWildcard: (a, b, typ) => generateDnsMatchPatternWithWildcard(asString(a), asString(b), asString(typ), rng),
    // ClusterLoader2 (pkg/config/template_functions.go)
    RandIntRange: (min, max) => rng.range(asInt(min), asInt(max)),
    DivideInt: (a, b) => Math.trunc(asInt(a) / asInt(b)),
    Mod: (a, b) => asInt(a) % asInt(b),
    AddInt: (...xs) => xs.reduce<number>((sum, x) => sum + asInt(x), 0),
    DefaultParam: (param, dflt) => (param === undefined || param === null ? dflt : param),
    Loop: (n) => Array.from({ length: Math.max(0, asInt(n)) }, (_, i) => i),
  };
}

/** cilium-cli's GenerateDNSMatchPatternWithWildcard, with its random choices drawn from `rng`. */
export function generateDnsMatchPatternWithWildcard(target: string, other: string, typ: string, rng: Prng): string {
  const [opAll, common] = splitCommonSuffix(target, other, '.');
  if (opAll.length <= 1) return target;
  const diffLabel = opAll[opAll.length - 1]!;
  let op = opAll.slice(0, -1);
  switch (typ) {
    case 'any-prefix':
      op = ['**'];
      break;
    case 'random-any-prefix':
      op = ['**', ...op.slice(rng.int(op.length) + 1)];
      break;
    case 'subdomain-prefix':
      op[0] = '*';
      break;
    case 'random': {
      const idx = rng.int(op.length);
      const label = op[idx]!;
      const start = rng.int(label.length);
      const end = start + rng.int(label.length - start) + 1;
      op[idx] = label.slice(0, start) + '*' + label.slice(end);
      break;
    }
    default:
      return target;
  }
  return [...op, diffLabel, ...common].join('.') + '.';
}

function splitCommonSuffix(first: string, second: string, delim: string): [string[], string[]] {
  const a = first.endsWith(delim) ? first.slice(0, -delim.length) : first;
  const b = second.endsWith(delim) ? second.slice(0, -delim.length) : second;
  if (a.length === 0) return [[], []];
  const la = a.split(delim);
  const lb = b.split(delim);
  let i = la.length - 1;
  let j = lb.length - 1;
  while (i >= 0 && j >= 0 && la[i] === lb[j]) {
    i--;
    j--;
  }
  return [la.slice(0, i + 1), la.slice(i + 1)];
}

function asString(v: unknown): string {
  if (typeof v !== 'string') throw new Error(`expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function asInt(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`expected an integer, got ${JSON.stringify(v)}`);
  return v;
}

function seedFromString(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}
