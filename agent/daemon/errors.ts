// Errors of the agent daemon (agent/daemon, agent/xds-publish, agent/proxy-supervisor). Codes are
// append-only; each has a section in docs/errors.md; callers match on `code`, never on the class.
import { MeshdError } from '../../policy/index.js';

export const AGENT_ERROR_CODES = {
  MESHD_ERR_AGENT_ALREADY_RUNNING: 'another agent holds the lock of the state directory',
  MESHD_ERR_AGENT_INVALID_OPTION: 'an agent option has a value the agent cannot use',
  MESHD_ERR_AGENT_STATE_DIR: 'the state directory cannot be created or written',
  MESHD_ERR_AGENT_STATE_FILE_CORRUPT: 'a JSON state file of the agent is corrupt; it was moved aside',
  MESHD_ERR_AGENT_ENVOY_NOT_FOUND: '--proxy envoy was asked for, but no envoy binary is in PATH',
  MESHD_ERR_AGENT_PROXY_START: 'the node proxy did not start, or did not accept its first configuration in time',
  MESHD_ERR_AGENT_START: 'a component of the agent failed to start; the ones already started were stopped',
  MESHD_ERR_AGENT_TEARDOWN: 'teardown could not remove everything the agent made',
  MESHD_ERR_AGENT_CLUSTER_PUBLISH: 'a policy change was applied on this node but could not be written to etcd for the other nodes',
} as const;

export type AgentErrorCode = keyof typeof AGENT_ERROR_CODES;

export class AgentError extends MeshdError {
  override readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, options.hint);
    this.name = 'AgentError';
    this.code = code;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}
