// The store's compile functions: proxylib/config's, one per resource kind. Injectable (ConfigStore's
// constructor) so the store holds no opinion on what is supported: that is the compiler's job.
import { compileCluster, compileListener, compileLoadAssignment, compileRouteConfiguration, compileSecret } from '../config/index.js';
import type { ResourceCompilers } from './config-store.js';

export const defaultCompilers: ResourceCompilers = {
  listener: compileListener,
  route: compileRouteConfiguration,
  cluster: compileCluster,
  endpoints: compileLoadAssignment,
  secret: compileSecret,
};
