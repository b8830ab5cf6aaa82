// `meshd observe`: flows from the running agent.
import type { CommandNode } from '../command-spec.js';
import { STATE_DIR } from './shared-options.js';

export const OBSERVE_SPECS: CommandNode[] = [
  {
    kind: 'command',
    name: 'observe',
    summary: 'show flows from the kernel and the proxy, with the policy that decided each (like hubble observe)',
    details: [
      'The agent keeps the last flows in a ring (16384): kernel verdicts (denied and redirected',
      'connections, new allowed ones, AUDIT in audit mode) and every request the proxy handled (HTTP',
      'method/path/status, gRPC, Kafka API and topics, DNS name and answer). Each line shows the time,',
      'source -> destination (pod, else address and identity), protocol, verdict, the deciding policy',
      'and a summary. Without --follow the last 20 matching flows are printed (--last N for more);',
      'with --follow new flows are printed as they come (after the last N when --last is given) until',
      'Ctrl-C. Filters combine: every one given must match; --pod, --verdict and --protocol may be',
      'repeated or comma-separated. A pod is NAMESPACE/NAME, NAMESPACE/ (the whole namespace) or NAME',
      '(namespace default). --service-map FILE writes an SVG picture of who talks to whom (pods and',
      'identities, edges with allowed/denied counts) from the matching flows instead of printing them.',
      'Exit status: 0 when the flows were printed (or the map written), 1 when the agent is not',
      'running (MESHD_ERR_API_AGENT_NOT_RUNNING) or a filter is invalid (MESHD_ERR_FLOWS_INVALID_FILTER).',
    ],
    arguments: [],
    options: [
      { name: 'follow', short: 'f', description: 'keep printing new flows until interrupted' },
      { name: 'last', value: 'N', description: 'the last N matching flows (default 20 without --follow)' },
      { name: 'pod', value: 'NS/NAME', multiple: true, description: 'flows from or to this pod' },
      { name: 'from-pod', value: 'NS/NAME', multiple: true, description: 'flows from this pod' },
      { name: 'to-pod', value: 'NS/NAME', multiple: true, description: 'flows to this pod' },
      { name: 'verdict', value: 'FORWARDED|DROPPED|DENIED|AUDIT|REDIRECTED|ERROR', multiple: true, description: 'flows with this verdict' },
      { name: 'protocol', value: 'tcp|udp|http|grpc|kafka|dns', multiple: true, description: 'flows of this protocol' },
      { name: 'output', short: 'o', value: 'compact|json|table', choices: ['compact', 'json', 'table'], default: 'compact', description: 'compact lines, one JSON object per line, or a table' },
      { name: 'service-map', value: 'FILE.svg', description: 'write the service map of the matching flows as SVG to FILE' },
      STATE_DIR,
    ],
    examples: [
      'meshd observe --last 50',
      'meshd observe --follow --pod empire/deathstar --verdict DENIED,DROPPED',
      'meshd observe --protocol kafka -o json',
      'meshd observe --service-map /tmp/service-map.svg',
    ],
    load: () => import('../commands/observe.js'),
  },
];
