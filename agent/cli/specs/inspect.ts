// `meshd status`, `endpoint list`, `identity list`, `bpf policy get`, and `xds status` (joined
// to the `xds` group): what the running agent holds.
import type { CommandNode } from '../command-spec.js';
import { OUTPUT, STATE_DIR } from './shared-options.js';

const NOT_RUNNING = 'Exit status: 0 when the agent answered, 1 when it is not running (MESHD_ERR_API_AGENT_NOT_RUNNING).';

export const INSPECT_SPECS: CommandNode[] = [
  {
    kind: 'command',
    name: 'status',
    summary: 'show the running agent and the health of each of its components',
    details: [
      "The agent's version, pid, uptime, node name, state directory and BPF pin root, then one line",
      'per component with its health (ok, degraded, down, off): the datapath (its pinned maps and',
      'how full they are), the proxy (pid, alive, the configuration version it ACKed), the xDS server',
      '(version, clients, NACKs), endpoints, policies (audit mode), identities, learned DNS names,',
      'the flow ring and the reconciler.',
      'Exit status: 0 when every component is ok, 1 when one is degraded or down, or the agent is not',
      'running (MESHD_ERR_API_AGENT_NOT_RUNNING).',
    ],
    arguments: [],
    options: [STATE_DIR, OUTPUT],
    examples: ['meshd status', 'meshd status --state-dir /tmp/meshd-state -o json'],
    load: () => import('../commands/status.js'),
  },
  {
    kind: 'group',
    name: 'endpoint',
    summary: "inspect the agent's endpoints (its pods as the datapath sees them)",
    options: [],
    examples: ['meshd endpoint list'],
    commands: [
      {
        kind: 'command',
        name: 'list',
        summary: 'list the endpoints: id, pod, identity, addresses, policy enforcement, audit mode',
        details: [
          'One line per endpoint, by endpoint id: the pod (NAMESPACE/NAME), its identity, IPv4 and IPv6',
          'address, whether ingress and egress are enforced (a policy selects the pod for that',
          'direction: default deny), whether it is in audit mode, whether its command still runs, and',
          'its labels.',
          NOT_RUNNING,
        ],
        arguments: [],
        options: [STATE_DIR, OUTPUT],
        examples: ['meshd endpoint list', 'meshd endpoint list -o json'],
        load: () => import('../commands/endpoint-list.js'),
      },
    ],
  },
  {
    kind: 'group',
    name: 'identity',
    summary: 'inspect the security identities the agent uses',
    options: [],
    examples: ['meshd identity list'],
    commands: [
      {
        kind: 'command',
        name: 'list',
        summary: 'list identities: id, scope, reference count, labels, and who uses them',
        details: [
          'Every identity the agent uses: the reserved ones (host, world, ...), the pods\' (scope global),',
          'and the node-local ones of CIDR prefixes and learned DNS answers (scope local). REFS is the',
          "allocator's reference count ('-' for reserved identities, which are not counted); USED BY names",
          'the pods with that identity, or the ipcache prefixes that map to it.',
          'Text output shortens labels (no k8s: prefix, the namespace as ns=); -o json has them all.',
          NOT_RUNNING,
        ],
        arguments: [],
        options: [STATE_DIR, OUTPUT],
        examples: ['meshd identity list', 'meshd identity list -o json'],
        load: () => import('../commands/identity-list.js'),
      },
    ],
  },
  {
    kind: 'group',
    name: 'bpf',
    summary: 'inspect what the agent put in the kernel datapath',
    options: [],
    examples: ['meshd bpf policy get empire/deathstar'],
    commands: [
      {
        kind: 'group',
        name: 'policy',
        summary: "a pod's kernel policy map",
        options: [],
        examples: ['meshd bpf policy get empire/deathstar'],
        commands: [
          {
            kind: 'command',
            name: 'get',
            summary: "show a pod's kernel policy entries, decoded, with the policies they come from",
            details: [
              "POD is NAMESPACE/NAME (or NAME in namespace default). Prints whether the pod's ingress and",
              'egress are enforced (default deny), then one line per entry of its policy map: direction,',
              "peer identity ('any' for every peer) and its labels, protocol, ports ('*' for every port),",
              'verdict (allow, deny, or redirect:PORT to the node proxy) and the policies whose rules made',
              'the entry. Listed after: entries the kernel cannot enforce (ICMP, unknown named ports), and',
              'rules whose peers select no identity yet (an unresolved toFQDNs name, labels no pod has).',
              "`source` says where the entries come from: 'kernel' (read from the live map) or 'computed'",
              "(the agent's translation of the pod's current policy, which is what it writes to the kernel).",
              'Exit status: 0 when printed, 1 when the pod is not an endpoint (MESHD_ERR_INSPECT_POD_NOT_FOUND)',
              'or the agent is not running (MESHD_ERR_API_AGENT_NOT_RUNNING), 2 for a malformed POD.',
            ],
            arguments: [{ name: 'POD', description: 'the pod, as NAMESPACE/NAME', required: true, variadic: false }],
            options: [STATE_DIR, OUTPUT],
            examples: ['meshd bpf policy get empire/deathstar', 'meshd bpf policy get default/web -o json'],
            load: () => import('../commands/bpf-policy-get.js'),
          },
        ],
      },
    ],
  },
];

export const XDS_LIVE_SPECS: CommandNode[] = [
  {
    kind: 'command',
    name: 'status',
    summary: "show the agent's xDS server: per proxy, the versions it ACKed and its last NACK",
    details: [
      "The agent's xDS socket and snapshot version, then one line per proxy node: whether it is",
      'connected and since when, its open streams, the snapshot version it is sent, whether it is in',
      'sync (every response ACKed) and its NACK count; then per resource type the version sent, the',
      'version ACKed (and when), and the last NACK with the message the proxy gave.',
      NOT_RUNNING,
    ],
    arguments: [],
    options: [STATE_DIR, OUTPUT],
    examples: ['meshd xds status', 'meshd xds status -o json'],
    load: () => import('../commands/xds-status.js'),
  },
];
