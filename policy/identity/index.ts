// Security identities: reserved ones, entity expansion, allocation with persistence, CIDR/FQDN
// identity labels, and the selector cache that maps policy selectors to identity ids.
export { RESERVED_IDENTITIES, reservedIdentityByName, reservedIdentityById, reservedIdentityByLabels, worldIdentityOf } from './reserved-identities.js';
export type { ReservedIdentity, ReservedIdentityName } from './reserved-identities.js';
export { entitySelectors } from './entity-selectors.js';
export { IdentityAllocator } from './identity-allocator.js';
export type { Identity } from './identity-allocator.js';
export { IDENTITY_RANGES, identityScopeForLabels, identityScopeOfId } from './identity-scope.js';
export type { IdentityScope } from './identity-scope.js';
export { IDENTITY_STATE_FILE } from './identity-state-file.js';
export { cidrIdentityLabels, fqdnIdentityLabels } from './cidr-identity-labels.js';
export { SelectorCache } from './selector-cache.js';
export type { CachedSelector, SelectionChangeListener } from './selector-cache.js';
export { IdentityError, IDENTITY_ERROR_CODES } from './errors.js';
export type { IdentityErrorCode, IdentityWarning } from './errors.js';
