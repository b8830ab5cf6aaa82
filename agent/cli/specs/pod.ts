// `meshd pod run|list|exec|rm`: pods on this node through the agent.
import type { CommandNode, OptionSpec } from '../command-spec.js';
import { OUTPUT, STATE_DIR } from './shared-options.js';

const NAMESPACE: OptionSpec = { name: 'namespace', short: 'n', value: 'NS', description: "the pod's namespace (default: default)" };

export const POD_SPECS: CommandNode[] = [
  {
    kind: 'group',
    name: 'pod',
    summary: 'run, list, enter and remove pods on this node through the agent',
    options: [],
    examples: ['meshd pod run --name deathstar --namespace empire --labels org=empire,class=deathstar -- /usr/bin/python3 -m http.server 80', 'meshd pod list'],
    commands: [
      {
        kind: 'command',
        name: 'run',
        summary: 'run CMD in a new pod, registered as an endpoint with its identity',
        details: [
          'The agent creates the pod (network namespace, veth, cgroup, an IPv4 and an IPv6 address',
          'from the node pod range), gives it an endpoint id and the identity of its labels plus',
          'k8s:io.kubernetes.pod.namespace, installs the policies that select it, and only then starts',
          'CMD inside it: detached, in a session of its own, with PATH (and --env) as its environment,',
          'stdout and stderr appended to <state-dir>/pods/<namespace>_<name>.log. CMD is started once',
          'and not restarted; the pod stays (also across agent restarts) until `meshd pod rm`.',
          'Put `--` before CMD when CMD has options of its own.',
          'Prints the pod: name, endpoint id, identity, addresses, pid, log file.',
          'Exit status: 0 when the pod runs, 1 when it could not be created (nothing is left behind).',
        ],
        arguments: [{ name: 'CMD', description: 'the program and its arguments (found in PATH, or a path)', required: true, variadic: true }],
        options: [
          { name: 'name', value: 'NAME', required: true, description: 'pod name (lowercase letters, digits, inner dashes)' },
          NAMESPACE,
          { name: 'labels', short: 'l', value: 'K=V,...', multiple: true, description: 'pod labels, comma-separated' },
          { name: 'env', short: 'e', value: 'NAME=VALUE', multiple: true, description: "an environment variable of CMD" },
          STATE_DIR,
          OUTPUT,
        ],
        examples: [
          'meshd pod run --name deathstar --namespace empire --labels org=empire,class=deathstar -- python3 -m http.server 80',
          'meshd pod run --name tiefighter --namespace empire -l org=empire,class=tiefighter -- sleep infinity',
        ],
        load: () => import('../commands/pod-run.js'),
      },
      {
        kind: 'command',
        name: 'list',
        summary: 'list the pods the agent runs',
        details: [
          'One line per pod: namespace, name, endpoint id, identity, addresses, whether its command',
          'still runs, and its labels.',
        ],
        arguments: [],
        options: [STATE_DIR, OUTPUT],
        examples: ['meshd pod list', 'meshd pod list -o json'],
        load: () => import('../commands/pod-list.js'),
      },
      {
        kind: 'command',
        name: 'exec',
        summary: 'run CMD inside a pod, with this terminal, and exit with its status',
        details: [
          'Asks the agent for the pod\'s network namespace and cgroup, then runs CMD itself: in the',
          "pod's cgroup (so its sockets are the pod's, under the pod's policy) and network namespace,",
          'with this command\'s environment, working directory / and stdin/stdout/stderr. Needs root.',
          'Exit status: the exit status of CMD (128+N when a signal N ended it), 1 when the pod is',
          'unknown or CMD cannot be started.',
        ],
        arguments: [
          { name: 'NAME', description: 'the pod', required: true, variadic: false },
          { name: 'CMD', description: 'the program and its arguments', required: true, variadic: true },
        ],
        options: [NAMESPACE, STATE_DIR],
        examples: ['meshd pod exec tiefighter --namespace empire -- curl -s http://deathstar.empire/v1/', 'meshd pod exec xwing -n alliance -- sh'],
        load: () => import('../commands/pod-exec.js'),
      },
      {
        kind: 'command',
        name: 'rm',
        summary: 'remove a pod: its processes, network namespace, veth, cgroup and endpoint',
        details: ['Exit status: 0 when the pod was removed, 1 when there is no such pod.'],
        arguments: [{ name: 'NAME', description: 'the pod', required: true, variadic: false }],
        options: [NAMESPACE, STATE_DIR, OUTPUT],
        examples: ['meshd pod rm deathstar --namespace empire'],
        load: () => import('../commands/pod-rm.js'),
      },
    ],
  },
];
