// Topic id → name, learned from the broker's own answers. Requests of ID-only versions (Fetch v13+,
// DeleteTopics v6+ by id, Metadata v10+ by id, ...) carry topic ids, but policy is written in topic
// names: the proxy names an id only from what a broker told it, never from the client.

import type { KafkaMessage } from '../protocol/index.js';

export const ZERO_TOPIC_ID = '00000000-0000-0000-0000-000000000000';
export const DEFAULT_TOPIC_NAME_CACHE_SIZE = 100_000;

const METADATA = 3;
const CREATE_TOPICS = 19;
const DESCRIBE_TOPIC_PARTITIONS = 75;

/** A broker as a Metadata response lists it (kept so a deny response can list brokers too). */
export interface KafkaBrokerAddress {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/**
 * Bounded LRU of topic id → name. One cache should serve one Kafka cluster (ids are random UUIDs,
 * so sharing is safe from collisions, but a cache per upstream cluster keeps one cluster's broker
 * from naming another cluster's ids).
 *
 * Recency is refreshed lazily, because lookups run per topic id of every Fetch: a hit moves its
 * entry to the young end only when it has aged past half the capacity (an entry used within the
 * last maxEntries/2 insertions is safe from eviction anyway), so a hot id costs one Map lookup.
 */
export class TopicNameCache {
  readonly maxEntries: number;
  // Map keeps insertion order: the first key is the least recently used one.
  private readonly entries = new Map<string, { name: string; tick: number }>();
  private tick = 0;
  private readonly refreshAge: number;
  private brokers: readonly KafkaBrokerAddress[] = [];

  constructor(maxEntries = DEFAULT_TOPIC_NAME_CACHE_SIZE) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError(`TopicNameCache size must be a positive integer, got ${maxEntries}`);
    this.maxEntries = maxEntries;
    this.refreshAge = Math.floor(maxEntries / 2);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The name a broker gave this id, or undefined (never for the zero uuid). */
  nameOf(topicId: string): string | undefined {
    const entry = this.entries.get(topicId);
    if (entry === undefined) return undefined;
    if (this.tick - entry.tick >= this.refreshAge) {
      this.entries.delete(topicId);
      entry.tick = ++this.tick;
      this.entries.set(topicId, entry);
    }
    return entry.name;
  }

  learn(topicId: string, name: string): void {
    if (topicId === ZERO_TOPIC_ID || name === '') return;
    if (this.entries.has(topicId)) this.entries.delete(topicId);
    else if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(topicId, { name, tick: ++this.tick });
  }

  /** The brokers of the last Metadata response learned from ([] before any). */
  knownBrokers(): readonly KafkaBrokerAddress[] {
    return this.brokers;
  }

  /**
   * Learns from a decoded response: Metadata v10+, CreateTopics v7+ and DescribeTopicPartitions
   * name topic ids; other responses are ignored, so callers may pass any response.
   */
  learnFromResponse(apiKey: number, apiVersion: number, body: KafkaMessage): void {
    if (apiKey === METADATA) {
      const brokers = body['brokers'];
      if (Array.isArray(brokers) && brokers.length > 0) this.brokers = brokers.map(brokerOf);
      if (apiVersion >= 10) this.learnTopics(body['topics']);
    } else if ((apiKey === CREATE_TOPICS && apiVersion >= 7) || apiKey === DESCRIBE_TOPIC_PARTITIONS) {
      this.learnTopics(body['topics']);
    }
  }

  private learnTopics(topics: unknown): void {
    if (!Array.isArray(topics)) return;
    for (const topic of topics as KafkaMessage[]) {
      const id = topic['topicId'];
      const name = topic['name'];
      if (typeof id === 'string' && typeof name === 'string') this.learn(id, name);
    }
  }
}

function brokerOf(b: KafkaMessage): KafkaBrokerAddress {
  const rack = b['rack'];
  return {
    nodeId: Number(b['nodeId']),
    host: String(b['host']),
    port: Number(b['port']),
    rack: typeof rack === 'string' ? rack : null,
  };
}
