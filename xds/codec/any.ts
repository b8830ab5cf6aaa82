// Any packing with the shared registry: resources travel as Any in every xDS response.
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { AnySchema, type Any } from '@bufbuild/protobuf/wkt';
import { messageSchemaOfUrl } from './registry.js';
import { typeUrlOf } from './type-urls.js';
import { XdsCodecError } from './errors.js';

export function packAny<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Any {
  return create(AnySchema, { typeUrl: typeUrlOf(schema.typeName), value: toBinary(schema, message) });
}

/** Decodes an Any whose type the registry knows; throws XdsCodecError otherwise. */
export function unpackAny(any: Any): { schema: DescMessage; message: MessageShape<DescMessage> } {
  const schema = messageSchemaOfUrl(any.typeUrl);
  if (!schema) throw new XdsCodecError([{ code: 'MESHD_ERR_XDS_UNKNOWN_TYPE_URL', path: '$["@type"]', message: `unknown type "${any.typeUrl}"` }]);
  try {
    return { schema, message: fromBinary(schema, any.value) };
  } catch (err) {
    throw new XdsCodecError([{ code: 'MESHD_ERR_XDS_DECODE', path: '$', message: `${schema.typeName}: ${err instanceof Error ? err.message : String(err)}` }]);
  }
}
