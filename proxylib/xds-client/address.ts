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
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  if (!m) throw badAddress(address, 'expected host:port, [ipv6]:port or unix:/path');
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw badAddress(address, 'the port must be 1-65535');
  const host = m[1] ?? m[2] ?? '';
  return { kind: 'tcp', host, port, target: m[1] !== undefined ? `ipv6:[${host}]:${port}` : `${host}:${port}` };
}

function badAddress(address: string, why: string): ProxyError {
  return new ProxyError('MESHD_ERR_PROXY_BAD_ADDRESS', `bad xDS server address "${address}": ${why}`, 'give --xds as host:port (e.g. 127.0.0.1:18000) or unix:/run/meshd/xds.sock');
}
