// One GET of a collection from the API server, as raw JSON. Hand-written on node:http(s) because the
// typed clients of @kubernetes/client-node deserialize into model classes that rename fields
// (NetworkPolicy's `from` becomes `_from`) and drop unknown ones: policies must reach the loader as
// the API server stores them, and list items must have the shape of watch events. The client's
// KubeConfig still provides the agent (TLS, proxy) and the authentication headers.
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { K8sError } from './errors.js';

/** A list response larger than this is refused rather than buffered (a node's lists are far smaller). */
const MAX_LIST_BYTES = 256 * 1024 * 1024;

export interface HttpStatusError extends Error {
  statusCode: number;
}

export async function getJson(kc: KubeConfig, path: string, query: Record<string, string | undefined>, timeoutMs = 60_000): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new K8sError('MESHD_ERR_K8S_CONFIG', 'the Kubernetes client configuration has no current cluster', { hint: 'check --kubeconfig, or run in a pod with a service account' });
  const url = new URL(cluster.server + path);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
  const init = await kc.applyToFetchOptions({});
  const headers: Record<string, string> = { accept: 'application/json' };
  new Headers(init.headers as ConstructorParameters<typeof Headers>[0]).forEach((value, key) => {
    headers[key] = value;
  });
  const request = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers, agent: init.agent as http.Agent | undefined, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_LIST_BYTES) {
          req.destroy(new Error(`GET ${path}: the response is larger than ${MAX_LIST_BYTES} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) {
          const err = new Error(`GET ${path}: HTTP ${res.statusCode ?? '?'} ${statusMessage(body)}`) as HttpStatusError;
          err.statusCode = res.statusCode ?? 0;
          reject(err);
          return;
        }
        try {
          resolve(JSON.parse(body));
        } catch (e) {
          reject(new Error(`GET ${path}: the response is not JSON (${(e as Error).message})`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** The message of a metav1.Status body, when the API server sent one. */
function statusMessage(body: string): string {
  try {
    const s = JSON.parse(body) as { message?: unknown };
    if (typeof s.message === 'string') return s.message;
  } catch {
    // not a Status: the status line is all there is
  }
  return '';
}
