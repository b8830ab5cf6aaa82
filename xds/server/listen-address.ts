// Listen addresses: 'unix:/path' or 'host:port' (port 0 → ephemeral). A socket file left by a dead
// server is removed first (as Cilium does for xds.sock); a live one is left alone and binding fails.
import { connect } from 'node:net';
import { lstat, unlink } from 'node:fs/promises';
import { XdsServerError } from '../cache/index.js';

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export function parseListenAddress(address: string): ListenAddress {
  if (address.startsWith('unix:')) {
    const path = address.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path.startsWith('/')) throw badAddress(address, 'a unix socket needs an absolute path');
    return { kind: 'unix', path };
  }
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(address);
  if (!m) throw badAddress(address, 'expected unix:/path or host:port');
  const port = Number(m[2]);
  if (port > 65535) throw badAddress(address, 'the port is above 65535');
  return { kind: 'tcp', host: m[1]!, port };
}

function badAddress(address: string, why: string): XdsServerError {
  return new XdsServerError('MESHD_ERR_XDS_BAD_ADDRESS', `listen address "${address}": ${why}`, 'use unix:/run/meshd/xds.sock or 127.0.0.1:18000');
}

/** Removes a unix socket file nobody listens on; leaves anything else for bind to report. */
export async function removeStaleSocket(path: string): Promise<void> {
  let isSocket = false;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch {
    return;
  }
  if (!isSocket) return;
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (!alive) await unlink(path).catch(() => undefined);
}
