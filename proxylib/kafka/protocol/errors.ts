// Errors of the Kafka codec. Codes are append-only and each has a section in docs/errors.md;
// callers match on `code`, never on the class.
import { MeshdError } from '../../../policy/index.js';

export const KAFKA_ERROR_CODES = {
  MESHD_ERR_KAFKA_DECODE: 'bytes that are not a valid Kafka request or response of the version the header names',
  MESHD_ERR_KAFKA_ENCODE: 'a Kafka message value that cannot be written in the requested version',
  MESHD_ERR_KAFKA_FRAME: 'a Kafka frame size that is negative or above the configured maximum',
} as const;

export type KafkaErrorCode = keyof typeof KAFKA_ERROR_CODES;

export class KafkaProtocolError extends MeshdError {
  override readonly code: KafkaErrorCode;
  /** Where in the message: `topicData[0].partitionData[1].records`; '' for the frame itself. */
  readonly path: string;
  /** Byte offset within the frame (or the value being written) where the problem was found. */
  readonly offset: number;
  /** The message without the place, for re-wrapping with a longer path. */
  readonly detail: string;
  constructor(code: KafkaErrorCode, detail: string, path = '', offset = 0, hint?: string) {
    super(code, `${detail}${path ? ` at ${path}` : ''} (offset ${offset})`, hint);
    this.name = 'KafkaProtocolError';
    this.code = code;
    this.path = path;
    this.offset = offset;
    this.detail = detail;
  }
}

/** The same error one level further out: `segment` is a field name or `[i]`. */
export function withOuterPath(err: unknown, segment: string): unknown {
  if (!(err instanceof KafkaProtocolError)) return err;
  const path = err.path === '' ? segment : err.path.startsWith('[') ? segment + err.path : `${segment}.${err.path}`;
  return new KafkaProtocolError(err.code, err.detail, path, err.offset, err.hint);
}
