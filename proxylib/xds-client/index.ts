// Public entry of the proxy's xDS client (Delta ADS).
export { DeltaXdsClient, formatNackDetail } from './delta-ads-client.js';
export type { XdsClientOptions, XdsClientStatus, XdsClientEvent, XdsTypeStatus, XdsNodeInfo, NackRecord } from './delta-ads-client.js';
export { parseXdsAddress, splitHostPort } from './address.js';
export type { XdsAddress } from './address.js';
