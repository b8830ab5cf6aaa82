// Public entry of the xDS layer: the control server, its snapshot cache, the translation of resolved
// policy into Envoy resources, and the protobuf plumbing they share. Other layers import only from here.
export * from './codec/index.js';
export * from './snapshot-file/index.js';
export * from './cache/index.js';
export * from './server/index.js';
export * from './resources/index.js';
export * from './translate/index.js';
export * as envoy from './envoy-types.js';
