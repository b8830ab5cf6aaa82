// The key layout under the cluster prefix (default `meshd`). Segments that carry free text (label
// keys, IPs, policy names) are base64url-encoded so that no value can contain `/` and walk into
// another part of the tree.
//
//   <p>/identities/id/<id>                 → JSON string[] of labels   (no lease: the master record)
//   <p>/identities/labels/<enc(labels)>    → "<id>"                    (no lease: the label index)
//   <p>/identities/refs/<enc(labels)>/<node> → "<id>"                  (node lease: who uses it)
//   <p>/ipcache/<enc(ip)>                  → JSON IpcacheEntry          (node lease)
//   <p>/nodes/<enc(node)>                  → JSON ClusterNode           (node lease)
//   <p>/policies/<enc(kind)>/<enc(ns)>/<enc(name)> → JSON ClusterPolicyDocument (no lease)

export function encodeSegment(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

export function decodeSegment(segment: string): string {
  return Buffer.from(segment, 'base64url').toString('utf8');
}

/** The smallest key greater than every key starting with `prefix` (etcd's range_end for a prefix). */
export function prefixRangeEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix, 'utf8');
  for (let i = bytes.length - 1; i >= 0; i--) {
    if (bytes[i]! < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = bytes[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

export class ClusterKeys {
  constructor(readonly root: string) {}

  get identityIds(): string { return `${this.root}/identities/id/`; }
  get identityLabels(): string { return `${this.root}/identities/labels/`; }
  get identityRefs(): string { return `${this.root}/identities/refs/`; }
  get ipcache(): string { return `${this.root}/ipcache/`; }
  get nodes(): string { return `${this.root}/nodes/`; }
  get policies(): string { return `${this.root}/policies/`; }

  identityId(id: number): string { return `${this.identityIds}${id}`; }
  identityLabelKey(labelKey: string): string { return `${this.identityLabels}${encodeSegment(labelKey)}`; }
  identityRefPrefix(labelKey: string): string { return `${this.identityRefs}${encodeSegment(labelKey)}/`; }
  identityRef(labelKey: string, node: string): string { return `${this.identityRefPrefix(labelKey)}${encodeSegment(node)}`; }
  ipcacheEntry(ip: string): string { return `${this.ipcache}${encodeSegment(ip)}`; }
  node(name: string): string { return `${this.nodes}${encodeSegment(name)}`; }
  policy(kind: string, namespace: string | undefined, name: string): string {
    // An empty namespace segment stands for cluster-scoped kinds.
    return `${this.policies}${encodeSegment(kind)}/${encodeSegment(namespace ?? '')}/${encodeSegment(name)}`;
  }
}
