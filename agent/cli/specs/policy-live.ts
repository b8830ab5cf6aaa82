// `meshd policy apply|delete|list|get`: the running agent's policies (joined to the `policy` group).
import type { CommandNode, OptionSpec } from '../command-spec.js';
import { OUTPUT, STATE_DIR } from './shared-options.js';

const REF_DETAILS = [
  'REF is KIND/NAMESPACE/NAME, NAMESPACE/NAME or NAME (or use --kind, --namespace, --name).',
  'Without a namespace, the default namespace (or a cluster-wide policy) is meant; without a',
  'kind, any kind, as long as only one policy matches.',
];
const REF_OPTIONS: OptionSpec[] = [
  { name: 'kind', value: 'KIND', description: 'CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, NetworkPolicy or CiliumRuleList' },
  { name: 'namespace', short: 'n', value: 'NS', description: "the policy's namespace" },
  { name: 'name', value: 'NAME', description: "the policy's name" },
];

export const POLICY_LIVE_SPECS: CommandNode[] = [
  {
    kind: 'command',
    name: 'apply',
    summary: "add or replace policies in the running agent; a set with any problem changes nothing",
    details: [
      'Reads every FILE (and every *.yaml, *.yml, *.json under every DIR, recursively) here and sends',
      'their texts to the agent, which validates all of them as one set: if any document of any file',
      'has a problem, every problem is printed with file:line:col and nothing is applied. Otherwise',
      'each policy is added, or replaces the one with the same kind, namespace and name, and is',
      'in force in the kernel for every pod it selects when the command returns. The annotation',
      'meshd.io/audit-mode: "true" puts the pods a policy selects in audit mode.',
      'Exit status: 0 when applied, 1 when refused (nothing changed).',
    ],
    arguments: [],
    options: [
      { name: 'filename', short: 'f', value: 'FILE|DIR', multiple: true, required: true, description: 'policy file or directory' },
      STATE_DIR,
      OUTPUT,
    ],
    examples: ['meshd policy apply -f docs/examples/policies', 'meshd policy apply -f deathstar-l7.yaml -f xwing-deny.yaml'],
    load: () => import('../commands/policy-apply.js'),
  },
  {
    kind: 'command',
    name: 'delete',
    summary: 'remove an applied policy from the running agent',
    details: [...REF_DETAILS, 'Exit status: 0 when deleted, 1 when no policy (or more than one) matches.'],
    arguments: [{ name: 'REF', description: 'the policy, KIND/NAMESPACE/NAME', required: false, variadic: false }],
    options: [...REF_OPTIONS, STATE_DIR, OUTPUT],
    examples: ['meshd policy delete CiliumNetworkPolicy/empire/rule1', 'meshd policy delete --namespace empire --name rule1'],
    load: () => import('../commands/policy-delete.js'),
  },
  {
    kind: 'command',
    name: 'list',
    summary: 'list the policies applied to the running agent',
    details: ['One line per policy: kind, namespace, name, rules, pods it selects now, audit mode, and where it came from (apply or --policy-dir, and the file).'],
    arguments: [],
    options: [STATE_DIR, OUTPUT],
    examples: ['meshd policy list', 'meshd policy list -o json'],
    load: () => import('../commands/policy-list.js'),
  },
  {
    kind: 'command',
    name: 'get',
    summary: 'print an applied policy as it was applied',
    details: [...REF_DETAILS, 'Prints the original document text; -o json adds its summary.', 'Exit status: 0 when found, 1 otherwise.'],
    arguments: [{ name: 'REF', description: 'the policy, KIND/NAMESPACE/NAME', required: false, variadic: false }],
    options: [...REF_OPTIONS, STATE_DIR, OUTPUT],
    examples: ['meshd policy get CiliumNetworkPolicy/empire/rule1', 'meshd policy get rule1 -n empire -o json'],
    load: () => import('../commands/policy-get.js'),
  },
];
