// Child process of restart.test.ts: loads the datapath as an agent would, installs endpoints
// (audit mode as given) and a policy (with proxy ports as given), reports the pinned map ids,
// and one pinned link's id and the program behind it, then idles until the test SIGKILLs it.
import { join } from 'node:path';
import { BpfLink, Datapath } from '../../bpf/index.js';
import type { NodeNetwork } from '../../agent/index.js';
import type { L7Type } from '../../policy/index.js';
import { applyPolicyYaml, datapathOptions, registerMembers, type PodMember } from './datapath-harness.js';

interface LoaderInput {
  pinRoot: string;
  node: NodeNetwork;
  members: PodMember[];
  policy: string;
  proxyPorts?: Partial<Record<L7Type, number>>;
}

const input = JSON.parse(process.argv[2] ?? '{}') as LoaderInput;
const dp = Datapath.open(datapathOptions(input.node, input.pinRoot));
registerMembers(dp, input.node, input.members);
applyPolicyYaml(dp, input.members, input.policy, input.proxyPorts);
const cgroupId = dp.attachedEndpoints().find((e) => e.id === input.members[0]!.endpointId)!.cgroupId;
const link = BpfLink.openPinned(join(input.pinRoot, 'links', cgroupId.toString(), 'meshd_connect4'));
const { id: connect4LinkId, progId: connect4ProgId } = link.info();
link.close();
process.stdout.write(`${JSON.stringify({ ready: true, mapIds: dp.mapIds(), connect4LinkId, connect4ProgId })}\n`);
setInterval(() => {}, 60_000);
