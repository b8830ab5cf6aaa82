// Public entry of agent/endpoints: pods run through the agent as policy endpoints (issue 8).
export { EndpointManager } from './endpoint-manager.js';
export type { EndpointInfo, EndpointStatus, EndpointManagerOptions, EndpointLogger, EndpointIdentitySource, EndpointPublisher } from './endpoint-manager.js';
export { checkPodRunRequest, DEFAULT_NAMESPACE } from './request.js';
export type { PodRunRequest, CheckedPodRunRequest } from './request.js';
export { spawnInPod, podExists, resolveExecutable, processStartTime, isSameProcessRunning } from './pod-process.js';
export type { PodPlace, SpawnInPodOptions } from './pod-process.js';
export { ENDPOINTS_STATE_FILE, endpointsStatePath, loadEndpointsState, decodeEndpointsState } from './endpoints-state-file.js';
export type { EndpointsState, StoredEndpoint } from './endpoints-state-file.js';
export { ENDPOINT_ERROR_CODES, EndpointError } from './errors.js';
export type { EndpointErrorCode } from './errors.js';
export { K8sPodRegistry, findPodCgroup, listPodCgroups, refusePodRun, K8S_REGISTRY_ERROR_CODES, K8sRegistryError } from './k8s-registry.js';
export type { K8sPodRegistryOptions, K8sRegistryErrorCode } from './k8s-registry.js';
