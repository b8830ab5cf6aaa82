// Envoy's matchers (string, regex, header, query parameter, CIDR) compiled into predicates, for the
// RBAC filters, route matching and filter chain selection of meshd's built-in proxy. Each compile
// function takes the proto message and its field path and returns Compiled<predicate>: problems
// carry paths below the given one, so the xDS client can NACK with exact field paths.
export { compileStringMatcher, compileRegexMatcher, compileFullMatchRegex, asciiLower, NOT_IMPLEMENTED } from './string-matcher.js';
export type { StringPredicate, MatchInput } from './string-matcher.js';
export { compileHeaderMatcher, compileHeaderMatcherWithName, parseInt64 } from './header-matcher.js';
export type { HeaderLookup, HeaderPredicate, CompiledHeaderMatcher } from './header-matcher.js';
export { compileCidrRange, compileCidrRangeDetailed, isIpAddress } from './cidr-matcher.js';
export type { AddressPredicate, CompiledCidr } from './cidr-matcher.js';
export { compileQueryParameterMatcher, parseQueryParameters, percentDecode } from './query-matcher.js';
export type { QueryParameters, QueryPredicate } from './query-matcher.js';
