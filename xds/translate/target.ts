// Which translation a node gets: Envoy identifies itself with user_agent_name "envoy" in its Node
// (every Envoy build does); anything else is treated as meshd's built-in proxy.
import type { TranslationTarget } from './input.js';

export function translationTargetOf(node: { userAgentName: string }): TranslationTarget {
  return node.userAgentName.toLowerCase() === 'envoy' ? 'envoy' : 'builtin';
}
