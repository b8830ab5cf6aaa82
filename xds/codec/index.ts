// Protobuf plumbing shared by the xDS server, the translation and the built-in proxy: the registry of
// every message type, type URLs, Any packing, and the proto3 JSON mapping with field-path errors.
export { TYPE_URL, typeNameOfUrl, typeUrlOf } from './type-urls.js';
export type { EnvoyResourceKind, EnvoyTypeUrl } from './type-urls.js';
export { xdsRegistry, messageSchemaOfUrl } from './registry.js';
export { messageFromJson, checkMessageJson } from './json.js';
export { packAny, unpackAny } from './any.js';
export { XdsCodecError, XDS_CODEC_ERROR_CODES } from './errors.js';
export type { XdsCodecErrorCode, XdsFieldProblem } from './errors.js';
