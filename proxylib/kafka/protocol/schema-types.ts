// Shapes of the descriptor tables that generated/messages.ts holds and the codec interprets.
// They mirror Kafka's JSON message schemas (protocol facts only), with version ranges parsed.

/** Inclusive version range; `hi` is 32767 for an open range ("3+"). */
export type KafkaVersionRange = readonly [lo: number, hi: number];

export const KAFKA_VERSION_OPEN = 32767;

export interface KafkaFieldDescriptor {
  /** Property name in values: the schema name with its first letter lower-cased. */
  readonly n: string;
  /** Schema type: int8, int16, int32, int64, uint16, uint32, float64, bool, uuid, string, bytes,
   *  records, struct, or an array `[]` + one of those. */
  readonly t: string;
  /** versions */
  readonly v: KafkaVersionRange | null;
  /** nullableVersions */
  readonly nv?: KafkaVersionRange | null;
  /** taggedVersions */
  readonly tv?: KafkaVersionRange | null;
  readonly tag?: number;
  /** The schema's `default`, as written there ("-1", "0x7fffffff", "null", "true", -1, false...). */
  readonly d?: string | number | boolean;
  /** ignorable: true */
  readonly ig?: true;
  /** A field-level flexibleVersions override (RequestHeader's ClientId is never compact). */
  readonly fv?: KafkaVersionRange | null;
  /** Entity type (topicName, groupId, transactionalId, brokerId, producerId). */
  readonly e?: string;
  /** The struct of a struct or struct-array field. */
  readonly s?: KafkaStructDescriptor;
}

export interface KafkaStructDescriptor {
  /** TypeScript type name of the struct (message name + struct name; the message name for roots). */
  readonly name: string;
  readonly fields: readonly KafkaFieldDescriptor[];
}

export interface KafkaMessageDescriptor {
  readonly apiKey: number | undefined;
  readonly kind: 'request' | 'response' | 'header' | 'data';
  /** Schema name: ProduceRequest, RequestHeader, ConsumerProtocolSubscription. */
  readonly name: string;
  readonly valid: KafkaVersionRange;
  readonly flexible: KafkaVersionRange | null;
  readonly latestVersionUnstable: boolean;
  readonly root: KafkaStructDescriptor;
}

/** A tagged field the schema of that version does not define, kept to be written back as it came. */
export interface KafkaRawTaggedField {
  tag: number;
  data: Buffer;
}
