// One encoded xDS resource. The message is encoded once when the snapshot is built and the bytes are
// shared by every stream that receives it (research/xds.md §4: marshalling dominates at fan-out).
import { createHash } from 'node:crypto';

export interface XdsResource {
  name: string;
  typeUrl: string;
  /** The encoded message (Any.value). */
  body: Uint8Array;
  /** A content hash or explicit version; equal bodies → equal versions. */
  version: string;
}

/** A content hash: stable across restarts, so a reconnecting client's versions still compare equal. */
function contentVersion(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 16);
}

export function makeResource(typeUrl: string, name: string, body: Uint8Array, version?: string): XdsResource {
  return { name, typeUrl, body, version: version ?? contentVersion(body) };
}

/** One version for a set of resources (SotW's per-type version_info): a hash of sorted name/version pairs. */
export function versionOfSet(resources: Iterable<XdsResource>): string {
  const pairs = [...resources].map((r) => `${r.name}\u0000${r.version}`).sort();
  return contentVersion(new TextEncoder().encode(pairs.join('\u0001')));
}
