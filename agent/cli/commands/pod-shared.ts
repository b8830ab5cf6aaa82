// What the `meshd pod` commands share: the agent client, the pod reference, the pod's lines.
import { ApiClient } from '../../api/index.js';
import type { EndpointInfo } from '../../endpoints/index.js';
import { getString, type ParsedArgs } from '../parsed-args.js';
import { UsageError } from '../errors.js';

export function agentClient(args: ParsedArgs): ApiClient {
  const stateDir = getString(args, 'state-dir');
  return stateDir === undefined ? ApiClient.forStateDir() : ApiClient.forStateDir(stateDir);
}

/** `NAME` with `--namespace`, or `NAMESPACE/NAME`. */
export function podQuery(name: string, args: ParsedArgs): { namespace: string; name: string } {
  const option = getString(args, 'namespace');
  const slash = name.indexOf('/');
  if (slash >= 0) {
    const ns = name.slice(0, slash);
    if (option !== undefined && option !== ns) throw new UsageError(`pod ${name} names namespace ${ns}, but --namespace says ${option}`);
    return { namespace: ns, name: name.slice(slash + 1) };
  }
  return { namespace: option ?? 'default', name };
}

export function renderPod(p: EndpointInfo): string {
  const labels = Object.entries(p.labels).map(([k, v]) => `${k}=${v}`).join(',') || '-';
  return [
    `pod ${p.namespace}/${p.name}: ${p.state}`,
    `  endpoint  ${p.endpointId}`,
    `  identity  ${p.identity}`,
    `  ipv4      ${p.ipv4}`,
    `  ipv6      ${p.ipv6}`,
    `  labels    ${labels}`,
    `  command   ${p.command.join(' ')}`,
    ...(p.pid === undefined ? [] : [`  pid       ${p.pid}`]),
    `  log       ${p.logFile}`,
    '',
  ].join('\n');
}

/** Columns padded to the widest cell; the last column is not padded. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), ...rows.map(line), ''].join('\n');
}
