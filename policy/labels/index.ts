// Cilium labels, label sets and label selectors; the identity model is built on them.
export { LABEL_SOURCES, parseLabel, parseSelectorKey, formatLabel, compareLabels } from './label.js';
export type { Label } from './label.js';
export { LabelSet, labelSetKey } from './label-set.js';
export {
  matchesSelector,
  matchesRequirement,
  selectorKey,
  selectorFromMatchLabels,
  withRequirement,
  selectorConstrainsKey,
  makeRequirement,
} from './selector.js';
export { endpointLabels } from './endpoint-labels.js';
export type { EndpointLabelSource } from './endpoint-labels.js';
export {
  POD_NAMESPACE_LABEL,
  NAMESPACE_LABELS_PREFIX,
  SERVICE_ACCOUNT_LABEL,
  CLUSTER_LABEL,
  NAMESPACE_NAME_LABEL,
  DEFAULT_CLUSTER_NAME,
} from './well-known-labels.js';
