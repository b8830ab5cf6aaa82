// deploy/kubernetes against the agent: every YAML parses, the kinds and the CRD schema have the
// expected shape, the CRD schema accepts every CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy
// of the shared corpus that meshd accepts, every `meshd` flag the DaemonSet and the ConfigMap use
// is an option of the command (from the CLI's own command table), and every path the agent uses
// (state dir, BPF pin root, cgroup2, netns) is mounted from the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadPolicyText } from '../../policy/index.js';
import { COMMANDS } from '../../agent/index.js';
import type { CommandGroup, CommandNode, OptionSpec } from '../../agent/index.js';
import { AGENT_DEFAULTS } from '../../agent/index.js';
import { corpusDir, isTemplate, listCorpusFiles } from '../corpus/corpus-files.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const DEPLOY_DIR = join(REPO_ROOT, 'deploy/kubernetes');

type Json = Record<string, any>;
interface Doc {
  file: string;
  value: Json;
}

function loadManifests(): Doc[] {
  const docs: Doc[] = [];
  for (const file of readdirSync(DEPLOY_DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const d of parseAllDocuments(readFileSync(join(DEPLOY_DIR, file), 'utf8'))) {
      assert.deepEqual(d.errors.map((e) => e.message), [], `${file} parses`);
      const value = d.toJS({ maxAliasCount: -1 }) as Json | null;
      if (value !== null) docs.push({ file, value });
    }
  }
  return docs;
}

const manifests = loadManifests();
const ofKind = (kind: string): Doc[] => manifests.filter((d) => d.value['kind'] === kind);
const one = (kind: string, name?: string): Json => {
  const found = ofKind(kind).filter((d) => name === undefined || d.value['metadata']?.['name'] === name);
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ''} in deploy/kubernetes`);
  return found[0]!.value;
};
const daemonSet = (): Json => one('DaemonSet', 'meshd');
const podSpec = (): Json => daemonSet()['spec']['template']['spec'];
const agentContainer = (): Json => (podSpec()['containers'] as Json[]).find((c) => c['name'] === 'agent')!;

test('every manifest in deploy/kubernetes parses, and the install has the expected kinds', () => {
  const kinds = manifests.map((d) => `${d.value['kind']}/${d.value['metadata']?.['name'] ?? ''}`).sort();
  assert.deepEqual(kinds, [
    'ClusterRole/meshd-agent',
    'ClusterRoleBinding/meshd-agent',
    'ConfigMap/meshd-config',
    'CustomResourceDefinition/ciliumclusterwidenetworkpolicies.cilium.io',
    'CustomResourceDefinition/ciliumnetworkpolicies.cilium.io',
    'DaemonSet/meshd',
    'Kustomization/',
    'Namespace/meshd-system',
    'ServiceAccount/meshd',
  ]);
  const resources = one('Kustomization')['resources'] as string[];
  const files = readdirSync(DEPLOY_DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  assert.deepEqual([...resources].sort(), files.sort(), 'kustomization.yaml lists every manifest');
  for (const d of manifests) {
    if (d.value['kind'] === 'Kustomization' || d.value['kind'] === 'Namespace' || d.value['kind'] === 'CustomResourceDefinition' || d.value['kind'].startsWith('ClusterRole')) continue;
    assert.equal(d.value['metadata']['namespace'], 'meshd-system', `${d.file}: ${d.value['kind']} is in meshd-system`);
  }
});

const CRDS = [
  { kind: 'CiliumNetworkPolicy', plural: 'ciliumnetworkpolicies', scope: 'Namespaced' },
  { kind: 'CiliumClusterwideNetworkPolicy', plural: 'ciliumclusterwidenetworkpolicies', scope: 'Cluster' },
];

function crdSchema(kind: string): Json {
  const crd = ofKind('CustomResourceDefinition').find((d) => d.value['spec']['names']['kind'] === kind)!.value;
  return (crd['spec']['versions'] as Json[]).find((v) => v['name'] === 'v2')!['schema']['openAPIV3Schema'];
}

/** A structural schema: every node has a type, or keeps unknown fields (the API server refuses others). */
function structuralProblems(s: Json, path: string): string[] {
  const out: string[] = [];
  if (s['type'] === undefined && s['x-kubernetes-preserve-unknown-fields'] !== true && s['x-kubernetes-int-or-string'] !== true) out.push(`${path} has no type`);
  for (const [k, sub] of Object.entries((s['properties'] ?? {}) as Record<string, Json>)) out.push(...structuralProblems(sub, `${path}.properties.${k}`));
  if (s['items']) out.push(...structuralProblems(s['items'], `${path}.items`));
  if (s['additionalProperties'] && typeof s['additionalProperties'] === 'object') out.push(...structuralProblems(s['additionalProperties'], `${path}.additionalProperties`));
  return out;
}

test('the CRDs are cilium.io/v2 CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy with a structural schema', () => {
  for (const c of CRDS) {
    const crd = one('CustomResourceDefinition', `${c.plural}.cilium.io`);
    assert.equal(crd['apiVersion'], 'apiextensions.k8s.io/v1');
    assert.equal(crd['spec']['group'], 'cilium.io');
    assert.equal(crd['spec']['scope'], c.scope);
    assert.equal(crd['spec']['names']['kind'], c.kind);
    assert.equal(crd['spec']['names']['plural'], c.plural);
    const versions = crd['spec']['versions'] as Json[];
    assert.deepEqual(versions.map((v) => [v['name'], v['served'], v['storage']]), [['v2', true, true]]);
    const schema = crdSchema(c.kind);
    assert.deepEqual(structuralProblems(schema, 'openAPIV3Schema'), []);
    assert.equal(schema['properties']['spec']['type'], 'object');
    assert.equal(schema['properties']['specs']['type'], 'array');
    assert.deepEqual(schema['properties']['specs']['items'], schema['properties']['spec'], 'spec and specs[] are the same rule');
    for (const section of ['endpointSelector', 'ingress', 'ingressDeny', 'egress', 'egressDeny']) assert.ok(schema['properties']['spec']['properties'][section], `the rule has ${section}`);
  }
});

/** What the API server does with a structural schema and strict field validation (kubectl apply --validate=strict). */
function schemaProblems(s: Json, v: unknown, path: string): string[] {
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  switch (s['type']) {
    case 'object': {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return [`${path}: must be an object`];
      const out: string[] = [];
      const props = s['properties'] as Record<string, Json> | undefined;
      for (const r of (s['required'] ?? []) as string[]) if (!(r in v)) out.push(`${path}.${r}: required`);
      if (!props && !s['additionalProperties']) return out; // free-form (metadata)
      for (const [k, val] of Object.entries(v)) {
        const sub = props?.[k] ?? (typeof s['additionalProperties'] === 'object' ? s['additionalProperties'] : undefined);
        if (sub) out.push(...schemaProblems(sub, val, `${path}.${k}`));
        else if (!preserve) out.push(`${path}.${k}: unknown field`);
      }
      return out;
    }
    case 'array':
      if (!Array.isArray(v)) return [`${path}: must be an array`];
      return v.flatMap((item, i) => (s['items'] ? schemaProblems(s['items'], item, `${path}[${i}]`) : []));
    case 'string':
      if (typeof v !== 'string') return [`${path}: must be a string`];
      return s['enum'] && !(s['enum'] as string[]).includes(v) ? [`${path}: must be one of ${(s['enum'] as string[]).join(', ')}`] : [];
    case 'boolean':
      return typeof v === 'boolean' ? [] : [`${path}: must be a boolean`];
    case 'integer':
      return Number.isInteger(v) ? [] : [`${path}: must be an integer`];
    default:
      return preserve ? [] : [`${path}: the schema has no type`];
  }
}

test('the CRD schema accepts every CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy of the corpus that meshd accepts', () => {
  const schemas = new Map(CRDS.map((c) => [c.kind, crdSchema(c.kind)]));
  let checked = 0;
  const problems: string[] = [];
  for (const f of listCorpusFiles(corpusDir())) {
    if (isTemplate(f.text) || !/\.(ya?ml|json)$/.test(f.rel)) continue;
    if (loadPolicyText(f.rel, f.text).problems.length > 0) continue; // meshd refuses it: the schema may too
    const docs = parseAllDocuments(f.text);
    const objects: unknown[] = [];
    for (const d of Array.isArray(docs) ? docs : [docs]) {
      const v = d.toJS() as Json | null;
      if (v && v['kind'] === 'List' && Array.isArray(v['items'])) objects.push(...v['items']);
      else objects.push(v);
    }
    for (const o of objects) {
      const schema = o && typeof o === 'object' ? schemas.get((o as Json)['kind']) : undefined;
      if (!schema) continue;
      checked++;
      problems.push(...schemaProblems(schema, o, f.rel));
    }
  }
  assert.ok(checked > 50, `the corpus has many Cilium policies meshd accepts (checked ${checked})`);
  assert.deepEqual(problems, []);
});

test('the ClusterRole lets the agent get, list and watch every kind its watcher reads, bound to the DaemonSet\'s ServiceAccount', () => {
  const role = one('ClusterRole', 'meshd-agent');
  const allowed = new Set<string>();
  for (const r of role['rules'] as Json[]) for (const g of r['apiGroups']) for (const res of r['resources']) for (const v of r['verbs']) allowed.add(`${g}/${res}/${v}`);
  const needed = ['/pods', '/namespaces', '/services', 'discovery.k8s.io/endpointslices', 'networking.k8s.io/networkpolicies', 'cilium.io/ciliumnetworkpolicies', 'cilium.io/ciliumclusterwidenetworkpolicies'];
  for (const n of needed) for (const verb of ['get', 'list', 'watch']) assert.ok(allowed.has(`${n.replace(/^\//, '/')}/${verb}`), `${verb} ${n}`);
  assert.ok(![...allowed].some((a) => /\/(create|update|patch|delete|\*)$/.test(a)), 'read-only');
  const binding = one('ClusterRoleBinding', 'meshd-agent');
  assert.deepEqual(binding['roleRef'], { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'meshd-agent' });
  assert.deepEqual(binding['subjects'], [{ kind: 'ServiceAccount', name: podSpec()['serviceAccountName'], namespace: daemonSet()['metadata']['namespace'] }]);
  assert.equal(one('ServiceAccount')['metadata']['name'], podSpec()['serviceAccountName']);
});

/** The command of `meshd <words...>` in the CLI's table, and the rest of the arguments. */
function resolveCommand(args: string[]): { command: Extract<CommandNode, { kind: 'command' }>; rest: string[]; words: string[] } {
  let node: CommandGroup | CommandNode = COMMANDS;
  const words: string[] = [];
  let i = 0;
  while (node.kind === 'group') {
    const word = args[i];
    const next: CommandNode | undefined = (node.commands as CommandNode[]).find((c) => c.name === word);
    assert.ok(next, `meshd has no command "${[...words, word].join(' ')}"`);
    words.push(word!);
    node = next;
    i++;
  }
  return { command: node as Extract<CommandNode, { kind: 'command' }>, rest: args.slice(i), words };
}

interface FlagUse {
  where: string;
  name: string;
  value: string | undefined;
}

/** Every `--flag[=value]` of an argument list (values of options that take one may be the next argument). */
function flagsOf(options: readonly OptionSpec[], rest: string[], where: string): FlagUse[] {
  const out: FlagUse[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
    let value = eq < 0 ? undefined : a.slice(eq + 1);
    const spec = options.find((o) => o.name === name);
    if (value === undefined && spec?.value !== undefined) value = rest[++i];
    out.push({ where, name, value });
  }
  return out;
}

function checkFlag(options: readonly OptionSpec[], command: string, use: FlagUse): string | undefined {
  const spec = options.find((o) => o.name === use.name);
  if (!spec) return `meshd ${command} has no option --${use.name} (${use.where}): add it to the agent's command spec`;
  if (spec.value === undefined) {
    // A flag: on the command line without a value; in the config dir "true" or "false".
    if (use.value !== undefined && use.value !== 'true' && use.value !== 'false') return `--${use.name} takes no value, ${use.where} gives "${use.value}"`;
    return undefined;
  }
  if (use.value === undefined) return `--${use.name} needs a value (${use.where})`;
  if (spec.choices && !spec.choices.includes(use.value)) return `--${use.name} ${use.value} is not one of ${spec.choices.join(', ')} (${use.where})`;
  return undefined;
}

test('every meshd flag of the DaemonSet and every key of the agent ConfigMap is an option of the command', () => {
  const problems: string[] = [];
  const containers = [...(podSpec()['initContainers'] ?? []), ...podSpec()['containers']] as Json[];
  const env = new Set(((agentContainer()['env'] ?? []) as Json[]).map((e) => e['name'] as string));
  let agentOptions: readonly OptionSpec[] = [];
  for (const c of containers) {
    const invocations: Array<{ argv: string[]; where: string }> = [];
    const argv = [...(c['command'] ?? []), ...(c['args'] ?? [])] as string[];
    if (argv[0] === 'meshd') invocations.push({ argv: argv.slice(1), where: `daemonset.yaml container ${c['name']}` });
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      const cmd = c[probe]?.['exec']?.['command'] as string[] | undefined;
      if (cmd?.[0] === 'meshd') invocations.push({ argv: cmd.slice(1), where: `daemonset.yaml container ${c['name']} ${probe}` });
    }
    for (const inv of invocations) {
      const { command, rest, words } = resolveCommand(inv.argv);
      if (words.join(' ') === 'agent') agentOptions = command.options;
      for (const use of flagsOf(command.options, rest, inv.where)) {
        const p = checkFlag(command.options, words.join(' '), use);
        if (p) problems.push(p);
        for (const m of (use.value ?? '').matchAll(/\$\((\w+)\)/g)) if (!env.has(m[1]!)) problems.push(`${inv.where}: $(${m[1]}) is not in the container's env`);
      }
    }
  }
  assert.ok(agentContainer()['command'][0] === 'meshd' && agentContainer()['args'][0] === 'agent', 'the agent container runs `meshd agent`');
  const config = one('ConfigMap', 'meshd-config');
  for (const [key, value] of Object.entries(config['data'] as Record<string, string>)) {
    const p = checkFlag(agentOptions, 'agent', { where: `configmap.yaml key ${key}`, name: key, value });
    if (p) problems.push(p);
  }
  assert.deepEqual(problems, [], `flags the manifests use that \`meshd\` does not have:\n${problems.join('\n')}`);
});

/** The value of `--name` in the agent's arguments. */
function agentArg(name: string): string | undefined {
  const args = agentContainer()['args'] as string[];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) return args[i + 1];
    if (args[i]!.startsWith(`--${name}=`)) return args[i]!.slice(name.length + 3);
  }
  return undefined;
}

test('every host path the agent uses is mounted from the host: state dir, BPF pin root, cgroup2, netns, and the config dir', () => {
  const spec = podSpec();
  assert.equal(spec['hostNetwork'], true);
  assert.equal(spec['hostPID'], true);
  const volumes = new Map((spec['volumes'] as Json[]).map((v) => [v['name'] as string, v]));
  const mounts = (agentContainer()['volumeMounts'] as Json[]).map((m): Json => ({ ...m, volume: volumes.get(m['name']) }));
  const mountOf = (path: string): Json | undefined =>
    mounts.filter((m) => path === m['mountPath'] || path.startsWith(`${m['mountPath']}/`)).sort((a, b) => b['mountPath'].length - a['mountPath'].length)[0];
  const hostMounted = (what: string, path: string, hostPath: string): Json => {
    const m = mountOf(path);
    assert.ok(m, `${what} (${path}) is mounted in the agent container`);
    assert.ok(m.volume?.['hostPath'], `${what} (${path}) comes from the host`);
    assert.equal(m.volume['hostPath']['path'] + path.slice(m['mountPath'].length), hostPath, `${what} is the host's ${hostPath}`);
    assert.notEqual(m['readOnly'], true, `${what} is writable`);
    return m;
  };
  const stateDir = agentArg('state-dir') ?? AGENT_DEFAULTS.stateDir;
  hostMounted('the state dir', stateDir, stateDir);
  hostMounted('the default state dir (meshd CLI commands in the container use it)', AGENT_DEFAULTS.stateDir, AGENT_DEFAULTS.stateDir);
  const pinRoot = agentArg('pin-root') ?? AGENT_DEFAULTS.pinRoot;
  assert.equal(hostMounted('the BPF pin root', pinRoot, pinRoot)['mountPropagation'], 'Bidirectional', 'a bpffs the agent mounts must reach the host');
  assert.equal(mountOf(pinRoot)!['mountPath'], '/sys/fs/bpf');
  hostMounted('the cgroup2 hierarchy', '/sys/fs/cgroup', '/sys/fs/cgroup');
  assert.equal(hostMounted('the named network namespaces', '/run/netns', '/run/netns')['mountPropagation'], 'Bidirectional');
  const configDir = agentArg('config-dir');
  assert.ok(configDir, 'the agent reads its ConfigMap through --config-dir');
  assert.equal(mountOf(configDir)!.volume?.['configMap']?.['name'], 'meshd-config');
  const nodeName = (agentContainer()['env'] as Json[]).find((e) => e['name'] === 'NODE_NAME');
  assert.equal(nodeName?.['valueFrom']?.['fieldRef']?.['fieldPath'], 'spec.nodeName');
});

test('Envoy reaches the agent: the binary is in the agent\'s PATH and the image carries deploy/envoy/bootstrap.yaml', () => {
  const config = one('ConfigMap', 'meshd-config');
  assert.equal(config['data']['proxy'], 'envoy');
  const init = (podSpec()['initContainers'] as Json[]).find((c) => c['name'] === 'envoy-binary')!;
  const target = (init['command'] as string[]).at(-1)!;
  const initMount = (init['volumeMounts'] as Json[]).find((m) => target.startsWith(`${m['mountPath']}/`))!;
  const agentMount = (agentContainer()['volumeMounts'] as Json[]).find((m) => m['name'] === initMount['name'])!;
  const path = ((agentContainer()['env'] as Json[]).find((e) => e['name'] === 'PATH')?.['value'] ?? '') as string;
  assert.ok(path.split(':').includes(agentMount['mountPath']), `${agentMount['mountPath']} is in the agent's PATH`);
  assert.ok(target.endsWith('/envoy'));
  assert.ok(existsSync(join(REPO_ROOT, 'deploy/envoy/bootstrap.yaml')));
  assert.match(readFileSync(join(DEPLOY_DIR, 'Dockerfile'), 'utf8'), /^COPY deploy\/envoy /m);
});
