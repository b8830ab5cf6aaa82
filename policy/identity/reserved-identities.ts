// Reserved numeric identities (cilium pkg/identity/numericidentity.go) and their labels.
//
// Every world identity carries `reserved:world`, and the split ones also their family label
// (`reserved:world-ipv4`/`-ipv6`), so the `world` entity is one selector that takes 2, 9, 10 and
// every CIDR/FQDN identity, while `world-ipv4` takes 9 and the IPv4 CIDR identities only.
// They also carry `cidr:0.0.0.0/0` / `cidr:::/0`, which every CIDR identity of the family
// carries too: `toCIDR: 0.0.0.0/0` (with or without `except`) then selects unmatched world
// traffic, as Cilium does by treating a zero-length CIDR as the world entity, and a CIDR
// identity computed for a /0 is exactly the world identity of its family.
import { LabelSet } from '../labels/index.js';
import type { IpFamily } from '../cidr/index.js';

export type ReservedIdentityName =
  | 'host'
  | 'world'
  | 'unmanaged'
  | 'health'
  | 'init'
  | 'remote-node'
  | 'kube-apiserver'
  | 'ingress'
  | 'world-ipv4'
  | 'world-ipv6';

export interface ReservedIdentity {
  readonly id: number;
  readonly name: ReservedIdentityName;
  readonly labels: LabelSet;
}

const V4_WORLD = ['reserved:world', 'cidr:0.0.0.0/0'];
const V6_WORLD = ['reserved:world', 'cidr:::/0'];

function reserved(id: number, name: ReservedIdentityName, ...extraLabels: string[]): ReservedIdentity {
  return Object.freeze({ id, name, labels: LabelSet.parse([`reserved:${name}`, ...extraLabels]) });
}

const WORLD_IPV4 = reserved(9, 'world-ipv4', ...V4_WORLD);
const WORLD_IPV6 = reserved(10, 'world-ipv6', ...V6_WORLD);

export const RESERVED_IDENTITIES: readonly ReservedIdentity[] = Object.freeze([
  reserved(1, 'host'),
  reserved(2, 'world', ...V4_WORLD, ...V6_WORLD),
  reserved(3, 'unmanaged'),
  reserved(4, 'health'),
  reserved(5, 'init'),
  reserved(6, 'remote-node'),
  reserved(7, 'kube-apiserver'),
  reserved(8, 'ingress'),
  WORLD_IPV4,
  WORLD_IPV6,
]);

const BY_NAME = new Map<string, ReservedIdentity>(RESERVED_IDENTITIES.map((r) => [r.name, r]));
const BY_ID = new Map(RESERVED_IDENTITIES.map((r) => [r.id, r]));
const BY_LABELS = new Map(RESERVED_IDENTITIES.map((r) => [r.labels.canonicalKey, r]));

export function reservedIdentityByName(name: string): ReservedIdentity | undefined {
  return BY_NAME.get(name);
}

export function reservedIdentityById(id: number): ReservedIdentity | undefined {
  return BY_ID.get(id);
}

/** Only an exact label set maps to a reserved identity. */
export function reservedIdentityByLabels(labels: LabelSet): ReservedIdentity | undefined {
  return BY_LABELS.get(labels.canonicalKey);
}

/** The world identity of an address family: the labels every CIDR identity starts from. */
export function worldIdentityOf(family: IpFamily): ReservedIdentity {
  return family === 4 ? WORLD_IPV4 : WORLD_IPV6;
}
