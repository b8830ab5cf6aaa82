// Kubernetes objects → what the agent consumes: endpoint specs for its registry, namespace labels,
// services, and policy sources for the PolicyStore. Objects come as the API server's JSON (list
// items and watch events have the same shape); every field read is checked, and a bad one is
// reported with the object's kind/namespace/name and the field's path, never half-used.
import { isIP } from 'node:net';
import type { PolicySource } from '../policy-store/index.js';
import { K8sError, formatObjectRef, type K8sObjectRef } from './errors.js';

/** What the watcher lists and watches. Paths are the cluster-wide collections (all namespaces). */
export const K8S_RESOURCES = {
  Namespace: { apiVersion: 'v1', path: '/api/v1/namespaces', namespaced: false },
  Pod: { apiVersion: 'v1', path: '/api/v1/pods', namespaced: true },
  Service: { apiVersion: 'v1', path: '/api/v1/services', namespaced: true },
  NetworkPolicy: { apiVersion: 'networking.k8s.io/v1', path: '/apis/networking.k8s.io/v1/networkpolicies', namespaced: true },
  CiliumNetworkPolicy: { apiVersion: 'cilium.io/v2', path: '/apis/cilium.io/v2/ciliumnetworkpolicies', namespaced: true },
  CiliumClusterwideNetworkPolicy: { apiVersion: 'cilium.io/v2', path: '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies', namespaced: false },
} as const;

export type K8sResourceKind = keyof typeof K8S_RESOURCES;
export const POLICY_KINDS = ['NetworkPolicy', 'CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy'] as const;
export type K8sPolicyKind = (typeof POLICY_KINDS)[number];

/** The prefix of PolicySource.file for policies that came from the API server. */
export const K8S_SOURCE_PREFIX = 'k8s://';

/** A pod of this node, as the agent's endpoint registry needs it (pods are the kubelet's; the agent only registers them). */
export interface K8sEndpointSpec {
  /** `namespace/name`, the registry's key. */
  id: string;
  uid: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  /** The namespace's labels at the time (identity labels `io.cilium.k8s.namespace.labels.*`). */
  namespaceLabels: Record<string, string>;
  serviceAccount: string;
  /** status.podIPs (IPv4 and/or IPv6), in the API's order. */
  ips: string[];
  /** containers[].ports with a name: what named ports in policies resolve to. */
  namedPorts: Array<{ name: string; port: number; protocol: 'TCP' | 'UDP' | 'SCTP' }>;
  nodeName: string;
  /** status.qosClass: with the uid it names the pod's cgroup (kubepods-<qos>-pod<uid>). */
  qosClass: string | undefined;
  /** containerd/cri-o ids (`containerd://…`) of the running containers, to find their netns and cgroup. */
  containerIds: string[];
}

export interface K8sServiceSpec {
  id: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  /** spec.selector; undefined for services without one (endpoints managed by hand). */
  selector: Record<string, string> | undefined;
  clusterIPs: string[];
  ports: Array<{ name: string | undefined; port: number; protocol: 'TCP' | 'UDP' | 'SCTP'; targetPort: number | string | undefined }>;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(ref: K8sObjectRef, field: string, what: string): K8sError {
  return new K8sError('MESHD_ERR_K8S_INVALID_OBJECT', `${formatObjectRef(ref)}: ${field} ${what}; the object was ignored`, {
    object: ref,
    field,
    hint: 'the API server should never send this; check for a broken admission webhook or CRD schema',
  });
}

/** metadata.name and (for namespaced kinds) metadata.namespace; throws when they are missing. */
export function objectRefOf(kind: K8sResourceKind, obj: unknown): K8sObjectRef {
  const meta = isObject(obj) && isObject(obj['metadata']) ? obj['metadata'] : undefined;
  const name = meta?.['name'];
  const namespace = meta?.['namespace'];
  const ref: K8sObjectRef = { kind, name: typeof name === 'string' ? name : '<no name>' };
  if (typeof namespace === 'string') ref.namespace = namespace;
  if (!meta) throw invalid(ref, 'metadata', 'is missing');
  if (typeof name !== 'string' || name === '') throw invalid(ref, 'metadata.name', 'is missing');
  if (K8S_RESOURCES[kind].namespaced && (typeof namespace !== 'string' || namespace === '')) throw invalid(ref, 'metadata.namespace', 'is missing');
  return ref;
}

function stringMap(ref: K8sObjectRef, field: string, v: unknown): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw invalid(ref, field, 'is not a map of strings');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw invalid(ref, `${field}.${k}`, `is not a string (${JSON.stringify(val)})`);
    out[k] = val;
  }
  return out;
}

function array(ref: K8sObjectRef, field: string, v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(ref, field, 'is not a list');
  return v;
}

function protocolOf(ref: K8sObjectRef, field: string, v: unknown): 'TCP' | 'UDP' | 'SCTP' {
  if (v === undefined) return 'TCP';
  if (v === 'TCP' || v === 'UDP' || v === 'SCTP') return v;
  throw invalid(ref, field, `is not TCP, UDP or SCTP (${JSON.stringify(v)})`);
}

function portNumber(ref: K8sObjectRef, field: string, v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) return v;
  throw invalid(ref, field, `is not a port number 1-65535 (${JSON.stringify(v)})`);
}

export function namespaceLabelsOf(obj: unknown): Record<string, string> {
  const ref = objectRefOf('Namespace', obj);
  return stringMap(ref, 'metadata.labels', ((obj as Json)['metadata'] as Json)['labels']);
}

/**
 * The endpoint spec of a pod, or undefined when the pod is no policy endpoint (yet or any more):
 * host-network pods (they are the host's identity), pods without an IP, finished pods.
 */
export function podEndpointSpec(obj: unknown, namespaceLabels: Record<string, string>): K8sEndpointSpec | undefined {
  const ref = objectRefOf('Pod', obj);
  const pod = obj as Json;
  const meta = pod['metadata'] as Json;
  const spec = isObject(pod['spec']) ? pod['spec'] : undefined;
  if (!spec) throw invalid(ref, 'spec', 'is missing');
  const status = pod['status'] === undefined ? {} : pod['status'];
  if (!isObject(status)) throw invalid(ref, 'status', 'is not an object');
  const labels = stringMap(ref, 'metadata.labels', meta['labels']);
  const uid = meta['uid'];
  if (typeof uid !== 'string' || uid === '') throw invalid(ref, 'metadata.uid', 'is missing');
  const phase = status['phase'];
  if (spec['hostNetwork'] === true || phase === 'Succeeded' || phase === 'Failed') return undefined;

  const ips: string[] = [];
  array(ref, 'status.podIPs', status['podIPs']).forEach((item, i) => {
    const ip = isObject(item) ? item['ip'] : undefined;
    if (typeof ip !== 'string' || isIP(ip) === 0) throw invalid(ref, `status.podIPs[${i}].ip`, `is not an IP address (${JSON.stringify(ip)})`);
    ips.push(ip);
  });
  // Older API servers (and some fixtures) only fill status.podIP.
  if (ips.length === 0 && status['podIP'] !== undefined) {
    const ip = status['podIP'];
    if (typeof ip !== 'string' || isIP(ip) === 0) throw invalid(ref, 'status.podIP', `is not an IP address (${JSON.stringify(ip)})`);
    ips.push(ip);
  }
  if (ips.length === 0) return undefined;

  const namedPorts: K8sEndpointSpec['namedPorts'] = [];
  const seenPortNames = new Set<string>();
  array(ref, 'spec.containers', spec['containers']).forEach((c, ci) => {
    if (!isObject(c)) throw invalid(ref, `spec.containers[${ci}]`, 'is not an object');
    array(ref, `spec.containers[${ci}].ports`, c['ports']).forEach((p, pi) => {
      const field = `spec.containers[${ci}].ports[${pi}]`;
      if (!isObject(p)) throw invalid(ref, field, 'is not an object');
      const port = portNumber(ref, `${field}.containerPort`, p['containerPort']);
      const protocol = protocolOf(ref, `${field}.protocol`, p['protocol']);
      const name = p['name'];
      if (name === undefined) return;
      if (typeof name !== 'string' || name === '') throw invalid(ref, `${field}.name`, 'is not a port name');
      // Kubernetes refuses duplicate names within a container, not across containers: the first wins, like Cilium.
      if (seenPortNames.has(name)) return;
      seenPortNames.add(name);
      namedPorts.push({ name, port, protocol });
    });
  });

  const containerIds: string[] = [];
  array(ref, 'status.containerStatuses', status['containerStatuses']).forEach((s, i) => {
    const id = isObject(s) ? s['containerID'] : undefined;
    if (id === undefined) return;
    if (typeof id !== 'string') throw invalid(ref, `status.containerStatuses[${i}].containerID`, 'is not a string');
    containerIds.push(id);
  });

  const sa = spec['serviceAccountName'] ?? 'default';
  if (typeof sa !== 'string') throw invalid(ref, 'spec.serviceAccountName', 'is not a string');
  const nodeName = spec['nodeName'];
  if (typeof nodeName !== 'string') throw invalid(ref, 'spec.nodeName', 'is missing (the pod is not scheduled)');
  const qos = status['qosClass'];
  return {
    id: `${ref.namespace}/${ref.name}`,
    uid,
    name: ref.name,
    namespace: ref.namespace!,
    labels,
    namespaceLabels: { ...namespaceLabels },
    serviceAccount: sa,
    ips,
    namedPorts,
    nodeName,
    qosClass: typeof qos === 'string' ? qos : undefined,
    containerIds,
  };
}

export function serviceSpecOf(obj: unknown): K8sServiceSpec {
  const ref = objectRefOf('Service', obj);
  const svc = obj as Json;
  const spec = isObject(svc['spec']) ? svc['spec'] : undefined;
  if (!spec) throw invalid(ref, 'spec', 'is missing');
  const clusterIPs: string[] = [];
  array(ref, 'spec.clusterIPs', spec['clusterIPs'] ?? (typeof spec['clusterIP'] === 'string' ? [spec['clusterIP']] : [])).forEach((ip, i) => {
    if (ip === 'None') return; // headless
    if (typeof ip !== 'string' || isIP(ip) === 0) throw invalid(ref, `spec.clusterIPs[${i}]`, `is not an IP address (${JSON.stringify(ip)})`);
    clusterIPs.push(ip);
  });
  const ports = array(ref, 'spec.ports', spec['ports']).map((p, i) => {
    const field = `spec.ports[${i}]`;
    if (!isObject(p)) throw invalid(ref, field, 'is not an object');
    const targetPort = p['targetPort'];
    if (targetPort !== undefined && typeof targetPort !== 'string' && typeof targetPort !== 'number') throw invalid(ref, `${field}.targetPort`, 'is not a number or a port name');
    const name = p['name'];
    if (name !== undefined && typeof name !== 'string') throw invalid(ref, `${field}.name`, 'is not a string');
    return { name, port: portNumber(ref, `${field}.port`, p['port']), protocol: protocolOf(ref, `${field}.protocol`, p['protocol']), targetPort };
  });
  return {
    id: `${ref.namespace}/${ref.name}`,
    name: ref.name,
    namespace: ref.namespace!,
    labels: stringMap(ref, 'metadata.labels', (svc['metadata'] as Json)['labels']),
    selector: spec['selector'] === undefined || spec['selector'] === null ? undefined : stringMap(ref, 'spec.selector', spec['selector']),
    clusterIPs,
    ports,
  };
}

/** `k8s://<Kind>/<namespace>/<name>` (cluster-wide kinds: `k8s://<Kind>/<name>`). */
export function policySourceFile(ref: K8sObjectRef): string {
  return ref.namespace ? `${K8S_SOURCE_PREFIX}${ref.kind}/${ref.namespace}/${ref.name}` : `${K8S_SOURCE_PREFIX}${ref.kind}/${ref.name}`;
}

/** Annotations that are copies of the object or tool bookkeeping, not policy. */
const DROPPED_ANNOTATIONS = new Set(['kubectl.kubernetes.io/last-applied-configuration']);

/**
 * The policy source of a policy object. The loader accepts the API server's objects as they come
 * (server-set metadata and status included), but only what defines the policy is kept: status
 * updates and resourceVersion bumps then leave the text, and so the applied policy, unchanged.
 * List items carry no apiVersion/kind: they are set from the resource listed.
 */
export function policySourceOf(kind: K8sPolicyKind, obj: unknown): { ref: K8sObjectRef; source: PolicySource } {
  const ref = objectRefOf(kind, obj);
  const o = obj as Json;
  const meta = o['metadata'] as Json;
  const annotations = stringMap(ref, 'metadata.annotations', meta['annotations']);
  for (const a of DROPPED_ANNOTATIONS) delete annotations[a];
  const metadata: Json = { name: ref.name };
  if (ref.namespace !== undefined) metadata['namespace'] = ref.namespace;
  if (meta['labels'] !== undefined) metadata['labels'] = stringMap(ref, 'metadata.labels', meta['labels']);
  if (Object.keys(annotations).length > 0) metadata['annotations'] = annotations;
  const doc: Json = { apiVersion: K8S_RESOURCES[kind].apiVersion, kind, metadata };
  for (const field of ['spec', 'specs']) if (o[field] !== undefined) doc[field] = o[field];
  // Pretty JSON: problems point at a line of their own (file:line:col in the logs).
  return { ref, source: { file: policySourceFile(ref), text: `${JSON.stringify(doc, null, 2)}\n` } };
}
