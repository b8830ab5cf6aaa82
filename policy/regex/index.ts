export type { CompiledRegex } from './full-match-regex.js';
export { checkRegex, compileFullMatchRegex, fullMatch } from './full-match-regex.js';
