// CIDR parsing and containment for fromCIDR/toCIDR, CIDR identities and the ipcache.
export { parseCidr, parseIp, prefixContains, ipInPrefix } from './prefix.js';
export type { Prefix, ParseCidrResult, ParseIpResult } from './prefix.js';
export { formatIpAddress } from './ip-address.js';
export type { IpFamily } from './ip-address.js';
