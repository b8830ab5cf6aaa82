// Public entry of the config store: the proxy's accepted, compiled configuration (a ConfigView).
export { ConfigStore } from './config-store.js';
export type { ResourceCompilers, AcceptedResource } from './config-store.js';
export type * from './types.js';
export { defaultCompilers } from './default-compilers.js';
