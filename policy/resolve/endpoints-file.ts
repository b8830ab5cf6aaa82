// The endpoints file of `meshd policy trace`: a YAML list of
// `{name, namespace, labels, ips, namedPorts, serviceAccount?, namespaceLabels?}`.
// namedPorts is a list of `{name, port, protocol}` or a map `name: port` / `name: "port/udp"`.

import { readFile } from 'node:fs/promises';
import { PolicyUsageError, formatPosition, type PolicyProblem } from '../errors.js';
import { Checker, type Field } from '../load/checker.js';
import { parseSource } from '../load/yaml-source.js';
import { parseIp } from '../cidr/index.js';
import type { NamedPort } from './endpoint-policy.js';
import type { EndpointSpec } from './repository.js';

const ENDPOINT_FIELDS = ['name', 'namespace', 'labels', 'ips', 'namedPorts', 'serviceAccount', 'namespaceLabels'];

export function parseEndpoints(file: string, text: string): { endpoints: EndpointSpec[]; problems: PolicyProblem[] } {
  const parsed = parseSource(file, text);
  const problems: PolicyProblem[] = parsed.syntaxProblems.map((p) => ({ code: 'MESHD_ERR_POLICY_SYNTAX', message: p.message, path: '', position: p.position }));
  const endpoints: EndpointSpec[] = [];
  for (const doc of parsed.documents) {
    const c = new Checker(doc);
    const list = Array.isArray(doc.value) ? doc.value : undefined;
    if (!list) c.report('MESHD_ERR_POLICY_WRONG_TYPE', [], 'the endpoints file must be a YAML list of endpoints');
    list?.forEach((value, i) => {
      const ep = checkEndpoint(c, { value, path: [i] });
      if (ep) endpoints.push(ep);
    });
    problems.push(...c.problems);
  }
  const seen = new Set<string>();
  for (const ep of endpoints) {
    const id = `${ep.namespace}/${ep.name}`;
    if (seen.has(id)) problems.push({ code: 'MESHD_ERR_POLICY_DUPLICATE_NAME', message: `endpoint ${id} is listed twice`, path: '', position: { file, line: 1, col: 1 } });
    seen.add(id);
  }
  return { endpoints, problems };
}

/** Reads and parses an endpoints file; throws MESHD_ERR_ENDPOINTS_INVALID listing every problem. */
export async function loadEndpointsFile(file: string): Promise<EndpointSpec[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new PolicyUsageError('MESHD_ERR_ENDPOINTS_INVALID', `cannot read endpoints file ${file}: ${(e as Error).message}`);
  }
  const { endpoints, problems } = parseEndpoints(file, text);
  if (problems.length > 0) {
    throw new PolicyUsageError(
      'MESHD_ERR_ENDPOINTS_INVALID',
      `invalid endpoints file:\n${problems.map((p) => `  ${formatPosition(p.position)}  ${p.code}  ${p.message}`).join('\n')}`,
      'each endpoint is {name, namespace, labels: {k: v}, ips: [..], namedPorts: [{name, port, protocol}]}',
    );
  }
  return endpoints;
}

function checkEndpoint(c: Checker, f: Field): EndpointSpec | undefined {
  const before = c.problems.length;
  const o = c.object(f.value, f.path, { known: ENDPOINT_FIELDS }, 'an endpoint');
  if (!o) return undefined;
  const name = c.string(o.get('name'), 'name');
  if (!o.has('name')) c.report('MESHD_ERR_POLICY_MISSING_FIELD', f.path, 'an endpoint needs "name"');
  const namespace = c.string(o.get('namespace'), 'namespace') ?? 'default';
  const labels = c.stringMap(o.get('labels'), 'labels') ?? {};
  const ips =
    c.list(o.get('ips'), 'ips', (it) => {
      const r = typeof it.value === 'string' ? parseIp(it.value) : undefined;
      if (!r?.ok) {
        c.report('MESHD_ERR_POLICY_INVALID_VALUE', it.path, `invalid IP address ${JSON.stringify(it.value)}`);
        return undefined;
      }
      return r.prefix.canonical.replace(/\/(32|128)$/, '');
    }) ?? [];
  const namedPorts = checkNamedPorts(c, o.get('namedPorts'));
  const ep: EndpointSpec = { name: name ?? '', namespace, labels, ips, namedPorts };
  const sa = c.string(o.get('serviceAccount'), 'serviceAccount');
  if (sa !== undefined) ep.serviceAccount = sa;
  const nsLabels = c.stringMap(o.get('namespaceLabels'), 'namespaceLabels');
  if (nsLabels) ep.namespaceLabels = nsLabels;
  return c.problems.length === before ? ep : undefined;
}

function checkNamedPorts(c: Checker, f: Field | undefined): NamedPort[] {
  if (!f) return [];
  const out: NamedPort[] = [];
  const add = (name: string, port: unknown, protocol: unknown, path: Field['path']) => {
    const proto = typeof protocol === 'string' ? protocol.toUpperCase() : 'TCP';
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      c.report('MESHD_ERR_POLICY_INVALID_VALUE', path, `named port "${name}" needs a port 1–65535`);
    } else if (proto !== 'TCP' && proto !== 'UDP' && proto !== 'SCTP') {
      c.report('MESHD_ERR_POLICY_INVALID_VALUE', path, `named port "${name}" has protocol ${String(protocol)}; use TCP, UDP or SCTP`);
    } else out.push({ name: name.toLowerCase(), port, protocol: proto });
  };
  if (Array.isArray(f.value)) {
    c.list(f, 'namedPorts', (it) => {
      const o = c.object(it.value, it.path, { known: ['name', 'port', 'protocol'] }, 'a named port');
      const name = c.string(o?.get('name'), 'name');
      if (o && name !== undefined) add(name, o.get('port')?.value, o.get('protocol')?.value, it.path);
      else if (o) c.report('MESHD_ERR_POLICY_MISSING_FIELD', it.path, 'a named port needs "name"');
      return true;
    });
  } else if (typeof f.value === 'object' && f.value !== null) {
    for (const [name, v] of Object.entries(f.value)) {
      const m = typeof v === 'string' ? /^([0-9]+)(?:\/(tcp|udp|sctp))?$/i.exec(v) : undefined;
      if (m) add(name, Number(m[1]), m[2] ?? 'TCP', [...f.path, name]);
      else add(name, v, 'TCP', [...f.path, name]);
    }
  } else c.report('MESHD_ERR_POLICY_WRONG_TYPE', f.path, 'namedPorts must be a list or a map');
  return out;
}
