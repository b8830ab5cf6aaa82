// Per-type protocol rules that the cache needs to decide *what* to send.
import { TYPE_URL, typeNameOfUrl } from '../codec/index.js';

/**
 * LDS and CDS are full-state in SotW: every response carries every subscribed resource of the type,
 * and a resource missing from a response is deleted by the client (xDS protocol, "Grouping resources
 * into responses"; grpc-js-xds `allResourcesRequiredInSotW`). Every other type may be sent in parts.
 */
export function isFullStateInSotw(typeUrl: string): boolean {
  return typeUrl === TYPE_URL.listener || typeUrl === TYPE_URL.cluster;
}

/** The fields of a node the cache and server use. */
export interface XdsNode {
  id: string;
  cluster: string;
  userAgentName: string;
}

/** Envoy does not know meshd's own types (NACKing them at best), so an Envoy node never gets them. */
export function isTypeVisibleToNode(node: XdsNode, typeUrl: string): boolean {
  if (node.userAgentName.toLowerCase() !== 'envoy') return true;
  return typeNameOfUrl(typeUrl).startsWith('envoy.');
}
