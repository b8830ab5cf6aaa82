// The id ranges and scope rule of the node-local allocator, so cluster ids fall in the same range
// and CIDR/FQDN identities stay node-local.
export { IDENTITY_RANGES, identityScopeForLabels, reservedIdentityByLabels, reservedIdentityById } from '../../policy/index.js';
