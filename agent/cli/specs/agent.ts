// `meshd agent` and `meshd teardown`: the daemon and its undoing. Owned by the agent-core work.
import type { CommandNode, OptionSpec } from '../command-spec.js';
import { OUTPUT } from './shared-options.js';

const STATE_DIR_OPTION: OptionSpec = {
  name: 'state-dir',
  value: 'DIR',
  description: 'state directory: API and xDS sockets, identities, policies, endpoints, FQDN cache (default /var/lib/meshd, or $MESHD_STATE_DIR)',
};
const PIN_ROOT_OPTION: OptionSpec = { name: 'pin-root', value: 'DIR', description: 'bpffs directory of the pinned maps and links (default /sys/fs/bpf/meshd)' };
const NODE_PREFIX_OPTION: OptionSpec = {
  name: 'node-prefix',
  value: 'PREFIX',
  description: "prefix of the pods' netns, veth aliases and the cgroup tree <cgroup2>/<PREFIX>node (default meshd-)",
};

export const AGENT_SPECS: CommandNode[] = [
  {
    kind: 'command',
    name: 'agent',
    summary: 'run the node agent: kernel datapath, policies, pods, DNS learning, xDS, the L7 proxy, flows, API',
    details: [
      'Runs in the foreground until SIGINT or SIGTERM. Loads (or reuses) the pinned BPF datapath,',
      'restores identities, applied policies, pods and the learned DNS names from the state',
      'directory, serves xDS on <state-dir>/xds.sock and the local API on <state-dir>/meshd.sock,',
      'and runs the L7 proxy as a separate process (`meshd proxy`, log in <state-dir>/proxy.log).',
      'A proxy left running by a previous agent is adopted, not restarted. With --proxy envoy,',
      'Envoy from PATH is started with deploy/envoy/bootstrap.yaml instead, and the built-in proxy',
      'still serves the Kafka and DNS listeners (node id <node-name>-builtin).',
      'The proxy listens on the node proxy address (10.244.0.1, fd44:244::1), ports from',
      '--proxy-port-base: HTTP egress +0, ingress +1; Kafka +2/+3; DNS +4/+5 (UDP and TCP);',
      'TLS/SNI-only +6/+7.',
      'On SIGINT or SIGTERM the agent drains and exits 0; pods, the pinned BPF objects and the proxy',
      'keep running, so a restarted agent disturbs no connection (`meshd teardown` removes them).',
      'Kubernetes mode (--k8s): the agent watches the API server (in-cluster service account, or',
      '--kubeconfig) for the Pods of its node (--k8s-node-name), Namespaces, Services, NetworkPolicies,',
      'CiliumNetworkPolicies and CiliumClusterwideNetworkPolicies. The kubelet\'s pods are registered as',
      'endpoints (the datapath attaches once their cgroup is found by uid) and the policies are applied',
      'as sources k8s://<Kind>/<namespace>/<name>; `meshd pod run` is refused. Start waits up to 30 s',
      'for the first list of every kind, then goes on while the watcher retries.',
      '--config-dir DIR reads options from DIR, one file per option named after its long name (a',
      'ConfigMap mounted as a volume); the content, trimmed, is the value, flags are true or false;',
      'the command line wins; a file that names no option is an error. deploy/kubernetes uses it.',
      'Logs: JSON lines on stderr, pretty-printed when stderr is a terminal.',
      'Exit status: 0 after a signal, 1 when it cannot start (another agent on the state',
      'directory, no envoy binary for --proxy envoy, the proxy not starting, a kernel feature missing).',
    ],
    arguments: [],
    options: [
      STATE_DIR_OPTION,
      PIN_ROOT_OPTION,
      NODE_PREFIX_OPTION,
      { name: 'node-name', value: 'NAME', description: "the node's name, the proxy's xDS node id (default: the host name)" },
      // No `default:` here: the parser would fill it in, and a --config-dir file could never set it.
      { name: 'proxy', value: 'builtin|envoy', choices: ['builtin', 'envoy'], description: 'the L7 proxy to run (default builtin)' },
      { name: 'proxy-port-base', value: 'PORT', description: 'first of the 8 proxy listener ports (default 15001)' },
      { name: 'metrics', value: 'HOST:PORT|off', description: 'Prometheus endpoint, /metrics (default 127.0.0.1:9962)' },
      { name: 'policy-dir', value: 'DIR', description: 'load every policy file of DIR and apply changes to it as they happen' },
      { name: 'policy-audit-mode', description: 'allow what policy would deny, and record it as AUDIT flows' },
      { name: 'dns-response-max-delay', value: 'MS', description: 'longest the DNS proxy holds an allowed answer until its IPs are allowed (default 100)' },
      { name: 'log-level', value: 'LEVEL', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], description: 'least severe log level written (default info)' },
      { name: 'k8s', description: "Kubernetes mode: pods and policies come from the API server; meshd pod run is refused" },
      { name: 'k8s-node-name', value: 'NAME', description: 'with --k8s: the Kubernetes node whose pods are endpoints (default: --node-name)' },
      { name: 'kubeconfig', value: 'FILE', description: "with --k8s: the API server's client configuration (default: the pod's service account)" },
      { name: 'config-dir', value: 'DIR', description: 'read options from DIR, one file per option named after its long name; the command line wins' },
    ],
    examples: [
      'meshd agent',
      'meshd agent --state-dir /tmp/meshd --policy-dir ./policies --metrics off',
      'meshd agent --proxy envoy --log-level debug',
      'meshd agent --k8s --kubeconfig ~/.kube/config --k8s-node-name node-1',
      'meshd agent --k8s --config-dir /etc/meshd/config',
    ],
    load: () => import('../commands/agent.js'),
  },
  {
    kind: 'command',
    name: 'teardown',
    summary: 'remove everything an agent made on this node: pods, the proxy, pinned BPF objects, runtime files',
    details: [
      'Stops a running agent of the state directory (SIGTERM, then it drains), stops the proxy,',
      'removes every pod of the node prefix (processes, netns, veths, cgroups), detaches and unpins',
      'the BPF links and maps under the pin root, and removes the sockets, the lock and proxy.json.',
      'Identities, applied policies and the FQDN cache stay in the state directory unless --purge.',
      'The shared gateway interface (meshd0) and its routes stay: other prefixes may use them.',
      'Exit status: 0 when everything is gone, 1 when something stayed (listed).',
    ],
    arguments: [],
    options: [STATE_DIR_OPTION, PIN_ROOT_OPTION, NODE_PREFIX_OPTION, { name: 'purge', description: 'also remove the state directory and everything in it' }, OUTPUT],
    examples: ['meshd teardown', 'meshd teardown --state-dir /tmp/meshd --purge'],
    load: () => import('../commands/teardown.js'),
  },
];
