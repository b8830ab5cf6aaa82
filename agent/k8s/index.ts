// Public entry of agent/k8s: the agent's Kubernetes mode (issue 9). The agent creates the client
// configuration (createKubeConfig), then K8sWatcher.start with its PolicyStore as the policy sink
// and its endpoint registry as the endpoint sink; see docs/kubernetes.md.
export { K8sWatcher, createKubeConfig } from './watcher.js';
export type { K8sWatcherOptions, K8sPolicySink, K8sEndpointSink, K8sServiceSink, K8sWatcherLogger } from './watcher.js';
export { K8S_RESOURCES, POLICY_KINDS, K8S_SOURCE_PREFIX, podEndpointSpec, serviceSpecOf, namespaceLabelsOf, policySourceOf, policySourceFile, objectRefOf } from './objects.js';
export type { K8sEndpointSpec, K8sServiceSpec, K8sResourceKind, K8sPolicyKind } from './objects.js';
export { K8S_ERROR_CODES, K8sError, formatObjectRef } from './errors.js';
export type { K8sErrorCode, K8sObjectRef } from './errors.js';
