// Public entry of the Kafka protocol codec: schemas of every API key and version (Apache Kafka's
// JSON message schemas, see messages.json), headers, bodies, frames. No policy here.
export { KAFKA_SCHEMA_SOURCE } from './generated/messages.js';
export type * from './generated/messages.js';
export { KAFKA_MESSAGE_DESCRIPTORS } from './generated/messages.js';
export type { KafkaFieldDescriptor, KafkaMessageDescriptor, KafkaRawTaggedField, KafkaStructDescriptor, KafkaVersionRange } from './schema-types.js';
export { KAFKA_APIS, kafkaApiInfo, type KafkaApiInfo } from './registry.js';
export {
  decodeRequestHeader,
  decodeRequestBody,
  encodeRequest,
  decodeResponse,
  encodeResponse,
  defaultMessage,
  requestHeaderVersion,
  responseHeaderVersion,
  decodeKafkaData,
  encodeKafkaData,
  defaultKafkaData,
  type KafkaDataSchemaName,
  type KafkaMessage,
  type KafkaRequestHeader,
} from './codec.js';
export { KafkaProtocolError, KAFKA_ERROR_CODES, type KafkaErrorCode } from './errors.js';
export { KafkaFrameSplitter, DEFAULT_MAX_FRAME_BYTES, kafkaFrameWithSize } from './frame-splitter.js';
export type { KafkaFrameParts } from './frame-splitter.js';
export { KafkaReader } from './reader.js';
export { KafkaWriter } from './writer.js';
export { sampleMessage } from './sample-message.js';
