export type { FqdnMatcher } from './fqdn-matcher.js';
export { compileFqdnMatcher, fqdnSelectorString, normalizeDnsName } from './fqdn-matcher.js';
export {
  MAX_FQDN_LENGTH,
  validateMatchName,
  validateMatchPattern,
  validateServerName,
} from './validate-name.js';
