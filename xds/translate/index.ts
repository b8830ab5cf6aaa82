// Resolved policy → Envoy (or built-in proxy) resources for one node: a pure, deterministic function.
export { translateNode } from './translate.js';
export type { IpCacheEntry } from './ip-sets.js';
export { XdsTranslateError, XDS_TRANSLATE_ERROR_CODES } from './errors.js';
export type { XdsTranslateErrorCode } from './errors.js';
export type { RedirectKey, RedirectL7, RedirectOutcome, SecretRef, Skipped, Translation, TranslationInput, TranslationOptions, TranslationTarget } from './input.js';
export { translationTargetOf } from './target.js';
