// The xDS server address of `meshd proxy --xds`: `unix:/absolute/path` or `host:port` (IPv6 as
// `[addr]:port`), turned into a grpc-js target.
import { ProxyError } from '../errors.js';

export type XdsAddress = { kind: 'unix'; path: string; target: string } | { kind: 'tcp'; host: string; port: number; target: string };

export function parseXdsAddress(address: string): XdsAddress {
  if (address.startsWith('unix:')) {
    const path = address.slice('unix:'.length);
    if (!path.startsWith('/')) throw badAddress(address, 'a unix socket path must be absolute');
    return { kind: 'unix', path, target: `unix:${path}` };
  }
  const hp = splitHostPort(address);
  if (!hp) throw badAddress(address, 'expected host:port, [ipv6]:port or unix:/path');
  const { host, port, bracketed } = hp;
  if (port < 1 || port > 65535) throw badAddress(address, 'the port must be 1-65535');
  return { kind: 'tcp', host, port, target: bracketed ? `ipv6:[${host}]:${port}` : `${host}:${port}` };
}

/** `host:port` or `[ipv6]:port` split (brackets removed; no whitespace in a host), or undefined; the port is not range-checked. The one host:port grammar of --xds, --admin and the admin server. */
export function splitHostPort(address: string): { host: string; port: number; bracketed: boolean } | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(address);
  if (!m) return undefined;
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]), bracketed: m[1] !== undefined };
}

function badAddress(address: string, why: string): ProxyError {
  return new ProxyError('MESHD_ERR_PROXY_BAD_ADDRESS', `bad xDS server address "${address}": ${why}`, 'give --xds as host:port (e.g. 127.0.0.1:18000) or unix:/run/meshd/xds.sock');
}
