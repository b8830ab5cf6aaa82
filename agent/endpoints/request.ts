// Checking a pod run request before anything is created: every problem is a 400 with the field.
import { EndpointError } from './errors.js';

export interface PodRunRequest {
  name: string;
  /** Default `default`. */
  namespace?: string;
  labels: Record<string, string>;
  command: string[];
  /** Added to the command's environment (which otherwise holds only PATH). */
  env?: Record<string, string>;
}

export interface CheckedPodRunRequest {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  command: string[];
  env: Record<string, string>;
}

export const DEFAULT_NAMESPACE = 'default';
/** Kubernetes names and namespaces (RFC 1123 labels). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Kubernetes label keys: optional DNS-subdomain prefix, then a name of [A-Za-z0-9._-]. */
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function invalid(message: string, hint?: string): EndpointError {
  return new EndpointError('MESHD_ERR_ENDPOINT_INVALID_REQUEST', message, hint === undefined ? {} : { hint });
}

function dnsLabel(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length > 63 || !DNS_LABEL.test(v)) {
    throw invalid(`${what} ${JSON.stringify(v)} is not a valid name`, 'use lowercase letters, digits and inner dashes, at most 63 characters');
  }
  return v;
}

function stringMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`${what} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') throw invalid(`${what}.${k} must be a string, not ${typeof x}`);
    out[k] = x;
  }
  return out;
}

/** Validates a request as it arrives over the API (any JSON), filling the defaults. */
export function checkPodRunRequest(raw: unknown): CheckedPodRunRequest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw invalid('the request must be an object {name, namespace, labels, command}');
  const r = raw as Record<string, unknown>;
  const name = dnsLabel(r['name'], 'pod name');
  const namespace = dnsLabel(r['namespace'] ?? DEFAULT_NAMESPACE, 'namespace');
  const labels = stringMap(r['labels'], 'labels');
  for (const [k, v] of Object.entries(labels)) {
    if (k.length > 253 || !LABEL_KEY.test(k)) throw invalid(`label key ${JSON.stringify(k)} is not a valid Kubernetes label key`, 'e.g. app, org, app.kubernetes.io/name');
    if (v.length > 63 || !LABEL_VALUE.test(v)) throw invalid(`label ${k}: value ${JSON.stringify(v)} is not a valid Kubernetes label value`, 'letters, digits, "-", "_", "." and at most 63 characters');
  }
  const command = r['command'];
  if (!Array.isArray(command) || command.length === 0 || command.some((c) => typeof c !== 'string') || command[0] === '') {
    throw invalid('command must be a non-empty list of strings', 'meshd pod run --name N --labels k=v -- CMD ARGS...');
  }
  const env = stringMap(r['env'], 'env');
  for (const k of Object.keys(env)) if (!ENV_NAME.test(k)) throw invalid(`environment variable name ${JSON.stringify(k)} is not valid`);
  return { name, namespace, labels, command: command as string[], env };
}
