// Errors of the proxy ↔ agent link (agent/proxy-link). Codes are append-only; each has a section
// in docs/errors.md.
import { MeshdError } from '../../policy/index.js';

export const PROXY_LINK_ERROR_CODES = {
  MESHD_ERR_PROXY_LINK_INVALID_BODY: 'a proxy sent the agent a DNS answer or a flow batch that is not of the expected shape',
} as const;

export type ProxyLinkErrorCode = keyof typeof PROXY_LINK_ERROR_CODES;

export class ProxyLinkError extends MeshdError {
  override readonly code: ProxyLinkErrorCode;
  constructor(code: ProxyLinkErrorCode, message: string, hint?: string) {
    super(code, message, hint);
    this.name = 'ProxyLinkError';
    this.code = code;
  }
}
