// ClusterLoadAssignments. meshd's own upstreams are ORIGINAL_DST clusters, which take no endpoints,
// so a policy translation yields none today; this builds them for EDS clusters (static upstreams
// such as a node-local service) and checks the ones other code puts in a snapshot.
import { create } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import { packAny } from '../codec/index.js';
import { ClusterLoadAssignmentSchema, type ClusterLoadAssignment } from '../generated/envoy/config/endpoint/v3/endpoint_pb.js';
import type { EndpointsPlan } from './plan.js';
import { ProblemList, type ResourceProblem } from './problems.js';

export function buildClusterLoadAssignment(plan: EndpointsPlan): ClusterLoadAssignment {
  return create(ClusterLoadAssignmentSchema, {
    clusterName: plan.clusterName,
    endpoints: [
      {
        lbEndpoints: plan.addresses.map((a) => ({
          hostIdentifier: {
            case: 'endpoint' as const,
            value: { address: { address: { case: 'socketAddress' as const, value: { address: a.address, portSpecifier: { case: 'portValue' as const, value: a.port } } } } },
          },
        })),
      },
    ],
  });
}

export function validateClusterLoadAssignment(cla: ClusterLoadAssignment): ResourceProblem[] {
  const p = new ProblemList();
  p.nonEmpty('cluster_name', cla.clusterName);
  cla.endpoints.forEach((locality, i) =>
    locality.lbEndpoints.forEach((lb, j) => {
      const at = `endpoints[${i}].lb_endpoints[${j}]`;
      if (lb.hostIdentifier.case !== 'endpoint') return;
      const addr = lb.hostIdentifier.value.address?.address;
      if (addr?.case !== 'socketAddress') {
        p.add(`${at}.endpoint.address`, 'needs a socket address');
        return;
      }
      p.ip(`${at}.endpoint.address.socket_address.address`, addr.value.address);
      const port = addr.value.portSpecifier;
      p.port(`${at}.endpoint.address.socket_address.port_value`, port.case === 'portValue' ? port.value : undefined);
    }),
  );
  return p.items;
}

export function encodeClusterLoadAssignment(cla: ClusterLoadAssignment): Any {
  return packAny(ClusterLoadAssignmentSchema, cla);
}

export { ClusterLoadAssignmentSchema };
