// One registry of every message type meshd knows (Envoy's, the well-known types, meshd's own), so
// Any values and "@type" JSON resolve, and unknown types are errors rather than silently dropped.
import { createRegistry, type DescMessage, type Registry } from '@bufbuild/protobuf';
import {
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
  file_google_protobuf_field_mask,
} from '@bufbuild/protobuf/wkt';
import { GENERATED_FILES } from '../generated/index.js';
import { typeNameOfUrl } from './type-urls.js';

export const xdsRegistry: Registry = createRegistry(
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_empty,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
  file_google_protobuf_wrappers,
  file_google_protobuf_field_mask,
  ...GENERATED_FILES,
);

/** The message schema a type URL names, or undefined. */
export function messageSchemaOfUrl(typeUrl: string): DescMessage | undefined {
  return xdsRegistry.getMessage(typeNameOfUrl(typeUrl));
}
