// Which topic-id → name cache a connection reads and feeds. Clients learn topic ids from Metadata on
// one broker connection and use them (Fetch v13+) on another, so a cache must outlive a connection;
// but a name is trusted only from a broker that speaks for the same cluster, or a peer could map the
// id of a topic it is denied to a name it is allowed. So caches are scoped:
//   INGRESS — the upstream is the endpoint itself (one broker): one cache per endpoint;
//   EGRESS  — the upstream brokers are the peers: one cache per endpoint and broker identity (the
//             brokers of one cluster share an identity); for world peers, whose identity says
//             nothing about who they are, one cache per broker address.
// Both maps are bounded (least recently used out first).
import { TopicNameCache } from './api/index.js';

const MAX_CACHES = 1024;
const ENTRIES_PER_CACHE = 10_000;
/** Reserved world identities (world, world-ipv4, world-ipv6): shared by every outside address. */
const WORLD_IDENTITIES: ReadonlySet<number> = new Set([2, 9, 10]);

const caches = new Map<string, TopicNameCache>();

export interface TopicCacheScope {
  direction: 'ingress' | 'egress';
  endpoint: string;
  /** The broker: the connection's original destination, with its identity when known. */
  upstreamAddress: string;
  upstreamIdentity: number | undefined;
}

export function topicCacheKey(scope: TopicCacheScope): string {
  if (scope.direction === 'ingress') return `ingress|${scope.endpoint}`;
  const id = scope.upstreamIdentity;
  const broker = id === undefined || WORLD_IDENTITIES.has(id) ? `ip:${scope.upstreamAddress}` : `identity:${id}`;
  return `egress|${scope.endpoint}|${broker}`;
}

export function topicCacheFor(scope: TopicCacheScope): TopicNameCache {
  const key = topicCacheKey(scope);
  let cache = caches.get(key);
  if (cache) {
    caches.delete(key);
    caches.set(key, cache);
    return cache;
  }
  cache = new TopicNameCache(ENTRIES_PER_CACHE);
  if (caches.size >= MAX_CACHES) {
    const oldest = caches.keys().next();
    if (!oldest.done) caches.delete(oldest.value);
  }
  caches.set(key, cache);
  return cache;
}
