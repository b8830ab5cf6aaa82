// The whole meshd command line on one screen. Help, usage lines and option checking are
// generated from this table; each command's code is imported only when it runs.

import type { CommandGroup } from './command-spec.js';
import { OUTPUT } from './specs/shared-options.js';
import { AGENT_SPECS } from './specs/agent.js';
import { POD_SPECS } from './specs/pod.js';
import { POLICY_LIVE_SPECS } from './specs/policy-live.js';
import { OBSERVE_SPECS } from './specs/observe.js';
import { INSPECT_SPECS, XDS_LIVE_SPECS } from './specs/inspect.js';

export const COMMANDS: CommandGroup = {
  kind: 'group',
  name: 'meshd',
  summary: 'sidecarless L7 policy and service-mesh layer, compatible with Cilium network policies',
  options: [{ name: 'version', description: 'print the meshd version (same as `meshd version`)' }],
  examples: ['meshd policy validate docs/examples/policies', 'meshd policy trace --help'],
  commands: [
    ...AGENT_SPECS,
    ...POD_SPECS,
    {
      kind: 'group',
      name: 'policy',
      summary: 'check policies and trace flows offline, from files',
      options: [],
      examples: ['meshd policy validate docs/examples/policies'],
      commands: [
        {
          kind: 'command',
          name: 'validate',
          summary: 'load policy files and report every problem, with file:line:col',
          details: [
            'Reads CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and NetworkPolicy documents',
            '(YAML or JSON, multi-document, kind: List, bare JSON rule arrays). Other kinds are skipped',
            'with a note. A file with any invalid document is rejected whole.',
            'Exit status: 0 when everything loads, 1 when there is any problem.',
          ],
          arguments: [
            { name: 'PATH', description: 'policy file or directory (read recursively)', required: true, variadic: true },
          ],
          options: [OUTPUT],
          examples: ['meshd policy validate docs/examples/policies', 'meshd policy validate -o json policies/ extra/deny.yaml'],
          load: () => import('./commands/policy-validate.js'),
        },
        {
          kind: 'command',
          name: 'trace',
          summary: 'say whether a flow is allowed and which policy decides, offline',
          details: [
            'REF is NAMESPACE/NAME of an endpoint in the endpoints file, an IP address,',
            'fqdn:NAME (an IP learned from that DNS name) or entity:NAME (world, host, ...).',
            'The endpoints file is a YAML list of {name, namespace, labels, ips, namedPorts}.',
            "Give L7 options of one protocol at most (http, kafka or dns).",
            'Exit status: 0 when the flow is allowed, 1 when it is denied.',
          ],
          arguments: [],
          options: [
            { name: 'policies', value: 'PATH', multiple: true, required: true, description: 'policy file or directory' },
            { name: 'endpoints', value: 'FILE', description: 'YAML list of endpoints that NAMESPACE/NAME refs name' },
            { name: 'from', value: 'REF', required: true, description: 'source of the flow' },
            { name: 'to', value: 'REF', required: true, description: 'destination of the flow' },
            { name: 'port', value: 'N/tcp|udp', required: true, description: 'destination port and protocol, e.g. 80/tcp' },
            { name: 'http-method', value: 'METHOD', description: 'HTTP request method, e.g. GET' },
            { name: 'http-path', value: 'PATH', description: 'HTTP request path, e.g. /v1/request-landing' },
            { name: 'http-host', value: 'HOST', description: 'HTTP Host (:authority) header' },
            { name: 'http-header', value: "'NAME: VALUE'", multiple: true, description: 'HTTP request header' },
            { name: 'kafka-api-key', value: 'NAME|NUM', description: 'Kafka API key, by name (produce, fetch, ...) or number' },
            { name: 'kafka-api-version', value: 'N', description: 'Kafka API version' },
            { name: 'kafka-client-id', value: 'ID', description: 'Kafka client id' },
            { name: 'kafka-topic', value: 'TOPIC', multiple: true, description: 'Kafka topic of the request; every topic given must be allowed' },
            { name: 'kafka-group', value: 'GROUP', multiple: true, description: 'Kafka consumer group id of the request; every group given must be allowed' },
            { name: 'dns-query', value: 'NAME', description: 'DNS name queried (port is then usually 53/udp)' },
            OUTPUT,
          ],
          examples: [
            'meshd policy trace --policies docs/examples/policies --endpoints docs/examples/endpoints.yaml \\\n' +
              '    --from alliance/xwing --to empire/deathstar --port 80/tcp \\\n' +
              '    --http-method POST --http-path /v1/request-landing',
            'meshd policy trace --policies docs/examples/policies --endpoints docs/examples/endpoints.yaml \\\n' +
              '    --from empire/tiefighter --to kube-system/coredns --port 53/udp --dns-query api.empire.gov -o json',
            'meshd policy trace --policies docs/examples/policies --endpoints docs/examples/endpoints.yaml \\\n' +
              '    --from empire/empire-outpost --to empire/kafka --port 9092/tcp \\\n' +
              '    --kafka-api-key offsetcommit --kafka-group outposts --kafka-topic deathstar-plans',
          ],
          load: () => import('./commands/policy-trace.js'),
        },
        ...POLICY_LIVE_SPECS,
      ],
    },
    {
      kind: 'group',
      name: 'fqdn',
      summary: 'inspect what the DNS proxy learned for toFQDNs rules',
      options: [],
      examples: ['meshd fqdn cache list'],
      commands: [
        {
          kind: 'group',
          name: 'cache',
          summary: 'the learned DNS cache',
          options: [],
          examples: ['meshd fqdn cache list --state-dir /var/lib/meshd'],
          commands: [
            {
              kind: 'command',
              name: 'list',
              summary: 'show name -> IPs -> remaining TTL -> selectors, from the running agent or the state directory',
              details: [
                'Asks the running agent; without one, reads fqdn-cache.json, which the agent saves after',
                'every answer it learns from, so it works with or without a running agent. One line per',
                "name and IP: the seconds left of the IP's TTL for that name, the local identity the ipcache maps it to and the toFQDNs",
                "selectors that select it ('-' when none: the IP is known but not allowed). Expired IPs",
                'still kept for an active flow are listed with TTL `expired`.',
                'Exit status: 0 when the cache was read, 1 when it is missing or corrupt.',
              ],
              arguments: [],
              options: [
                { name: 'state-dir', value: 'DIR', description: "the agent's state directory (default /var/lib/meshd)" },
                OUTPUT,
              ],
              examples: ['meshd fqdn cache list', 'meshd fqdn cache list --state-dir /tmp/meshd-state -o json'],
              load: () => import('./commands/fqdn-cache-list.js'),
            },
          ],
        },
      ],
    },
    {
      kind: 'group',
      name: 'xds',
      summary: 'serve Envoy resources over xDS without the agent',
      options: [],
      examples: ['meshd xds serve --snapshot snapshot.yaml --listen 127.0.0.1:18000'],
      commands: [
        {
          kind: 'command',
          name: 'serve',
          summary: 'serve the resources of a snapshot file over ADS and push every change to it',
          details: [
            'FILE is YAML or JSON in the proto3 JSON mapping: a `resources:` list of resources each with',
            'its "@type", and/or Envoy\'s `static_resources: {listeners, clusters, secrets}`, and/or',
            'top-level `listeners:`, `routes:`, `clusters:`, `endpoints:`, `secrets:` lists; optional `version:`.',
            'Every node gets the snapshot, or only --node ID. When FILE changes it is reloaded and the',
            'changes are pushed; a change that does not load is logged on stderr with file:line:col and',
            'the field path, and the previous snapshot stays. Runs until SIGINT or SIGTERM.',
            'Exit status: 0 after a signal, 1 when FILE does not load at start or the address is taken.',
          ],
          arguments: [],
          options: [
            { name: 'snapshot', value: 'FILE', required: true, description: 'the snapshot file to serve and watch' },
            { name: 'listen', value: 'HOST:PORT', description: 'TCP address to serve on (default 127.0.0.1:18000)' },
            { name: 'socket', value: 'PATH', description: 'UNIX socket to serve on, instead of --listen' },
            { name: 'node', value: 'ID', description: 'serve only the node with this id (default: every node)' },
            { name: 'verbose', description: 'also print the server\'s debug log lines on stderr' },
          ],
          examples: [
            'meshd xds serve --snapshot snapshot.yaml',
            'meshd xds serve --snapshot envoy-resources.json --socket /run/meshd/xds.sock --node edge-1',
          ],
          load: () => import('./commands/xds-serve.js'),
        },
        ...XDS_LIVE_SPECS,
      ],
    },
    {
      kind: 'command',
      name: 'proxy',
      summary: "run meshd's built-in L7 proxy, configured over xDS (as Envoy would be)",
      details: [
        'Connects to the xDS server (Delta ADS) as node ID and runs the Listener, Route, Cluster,',
        'Endpoint and Secret resources it is sent: HTTP/1.1, HTTP/2 and gRPC with Envoy RBAC,',
        'tcp_proxy, TLS termination and origination. A resource using a field the proxy does not',
        'implement is refused (NACK, with the field path) and the previous configuration stays.',
        'Waits for the first complete configuration, prints one line with the bound listeners, and',
        'runs until SIGINT or SIGTERM, then drains. --transparent (root) reads the datapath the agent',
        'pinned: source identities from the ipcache (and original destinations of redirected connections).',
        'Exit status: 0 after a signal, 1 when no complete configuration arrives in time or an address is taken.',
      ],
      arguments: [],
      options: [
        { name: 'xds', value: 'HOST:PORT|unix:PATH', required: true, description: 'the xDS server to take configuration from' },
        { name: 'node-id', value: 'ID', required: true, description: 'node id sent to the xDS server' },
        { name: 'cluster', value: 'NAME', description: 'node cluster sent to the xDS server (default empty)' },
        { name: 'admin', value: 'HOST:PORT', description: 'serve /ready, /config_dump, /listeners and /stats here' },
        { name: 'transparent', description: 'read the kernel datapath for identities and original destinations (root)' },
        { name: 'pin-root', value: 'PATH', description: 'bpffs directory of the datapath (default /sys/fs/bpf/meshd)' },
        { name: 'ready-timeout', value: 'SECONDS', description: 'how long to wait for the first configuration (default 30)' },
        { name: 'drain-timeout', value: 'SECONDS', description: 'how long in-flight requests may finish on stop (default 5)' },
        {
          name: 'port-handover',
          description:
            'a restarted proxy takes the ports over while this one drains (binds with SO_REUSEPORT / SO_REUSEADDR; the agent passes it; without it a second proxy on a port fails with EADDRINUSE)',
        },
        { name: 'verbose', description: 'also print debug log lines on stderr' },
        { name: 'agent-socket', value: 'PATH', description: "the agent's API socket: learn DNS answers through it and send it flow records" },
        { name: 'dns-response-max-delay', value: 'MS', description: 'longest an allowed DNS answer is held until the agent has allowed its IPs (default 100)' },
      ],
      examples: [
        'meshd proxy --xds 127.0.0.1:18000 --node-id edge-1 --admin 127.0.0.1:9901',
        'meshd proxy --xds unix:/run/meshd/xds.sock --node-id node-a --transparent --port-handover',
      ],
      load: () => import('./commands/proxy.js'),
    },
    ...OBSERVE_SPECS,
    ...INSPECT_SPECS,
    {
      kind: 'command',
      name: 'version',
      summary: 'print the meshd and Node.js versions',
      arguments: [],
      options: [],
      examples: ['meshd version'],
      load: () => import('./commands/version.js'),
    },
    {
      kind: 'command',
      name: 'help',
      summary: 'show help for a command',
      arguments: [{ name: 'COMMAND', description: 'command to describe, e.g. policy validate', required: false, variadic: true }],
      options: [],
      examples: ['meshd help', 'meshd help policy trace'],
      load: () => import('./commands/help.js'),
    },
  ],
};
