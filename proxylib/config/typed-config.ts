// Decoding the google.protobuf.Any of a typed_config through the shared xDS registry, with problems
// at the Any's path: an unknown type URL or undecodable bytes is a NACK, never a crash.
import type { DescMessage, Message } from '@bufbuild/protobuf';
import type { Any } from '@bufbuild/protobuf/wkt';
import { unpackAny, typeNameOfUrl } from '../../xds/index.js';
import type { Problems } from './problems.js';

export interface UnpackedConfig {
  typeName: string;
  schema: DescMessage;
  message: Message;
}

export function unpackTypedConfig(p: Problems, path: string, any: Any): UnpackedConfig | undefined {
  try {
    const { schema, message } = unpackAny(any);
    return { typeName: schema.typeName, schema, message };
  } catch (err) {
    p.add(path, `cannot decode ${typeNameOfUrl(any.typeUrl) || 'an Any without type'}: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

/** The type name an Any carries (`type.googleapis.com/a.b.C` → `a.b.C`). */
export function typeNameOfAny(any: Any): string {
  return typeNameOfUrl(any.typeUrl);
}
