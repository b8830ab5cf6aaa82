// `meshd endpoint list`: the pods the agent manages, as endpoints — id, identity, addresses and
// how policy applies to each (enforcement per direction, audit mode). The rows come from the
// endpoints module's GET /v1/endpoints.
import type { EndpointStatus } from '../endpoints/index.js';
import { renderTable } from './table.js';

export type EndpointRow = Pick<EndpointStatus, 'id' | 'endpointId' | 'identity' | 'ipv4' | 'ipv6' | 'labels' | 'state' | 'policyEnforcement' | 'auditMode'> & Partial<EndpointStatus>;

export function renderEndpoints(rows: readonly EndpointRow[]): string {
  if (rows.length === 0) return '(no endpoints: start a pod with `meshd pod run`)\n';
  const enforcement = (on: boolean) => (on ? 'enforced' : '-');
  return renderTable(
    ['ENDPOINT', 'POD', 'IDENTITY', 'IPV4', 'IPV6', 'INGRESS', 'EGRESS', 'AUDIT', 'STATE', 'LABELS'],
    [...rows]
      .sort((a, b) => a.endpointId - b.endpointId)
      .map((e) => [
        String(e.endpointId),
        e.id,
        String(e.identity),
        e.ipv4,
        e.ipv6,
        enforcement(e.policyEnforcement.ingress),
        enforcement(e.policyEnforcement.egress),
        e.auditMode ? 'yes' : '-',
        e.state,
        Object.entries(e.labels)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([k, v]) => `${k}=${v}`)
          .join(','),
      ]),
  );
}
