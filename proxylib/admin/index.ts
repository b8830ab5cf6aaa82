// Public entry of the proxy's admin HTTP server.
export { startAdminServer } from './admin-server.js';
export type { AdminServer, AdminSources } from './admin-server.js';
