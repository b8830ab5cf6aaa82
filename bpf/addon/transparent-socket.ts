// A TCP socket with IP_TRANSPARENT (IPV6_TRANSPARENT), bound and handed to Node by fd:
// `net.Server.listen({ fd })`. BPF TPROXY (bpf/progs/tc.bpf.c, docs/adr/0003 "Ingress L7 for
// clients from other nodes") assigns connections addressed to a pod to such a listener; the
// accepted socket's local address is then the pod's address and port — the connection's
// original destination, no SO_ORIGINAL_DST needed. Node 20's net cannot set the option.
// Native side: src/transparent-socket.cc, its own module build/Release/meshd_transparent.node
// (no libbpf), loaded on first use; transparentAvailable() is false when it was not built.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface TransparentAddon {
  bindTransparent(address: string, port: number, ipv6Only: boolean, reusePort: boolean): number;
}

const ADDON_PATH = fileURLToPath(new URL('../../../bpf/addon/build/Release/meshd_transparent.node', import.meta.url));
let addon: TransparentAddon | null | undefined;

function load(): TransparentAddon | null {
  if (addon === undefined) addon = existsSync(ADDON_PATH) ? (createRequire(import.meta.url)(ADDON_PATH) as TransparentAddon) : null;
  return addon;
}

/** Whether meshd_transparent.node was built (`make build`). */
export function transparentAvailable(): boolean {
  return load() !== null;
}

/**
 * A non-blocking, close-on-exec TCP socket with IP_TRANSPARENT / IPV6_TRANSPARENT and
 * SO_REUSEADDR (and SO_REUSEPORT when asked: port handover), bound to address:port
 * (IPv6-only when asked), not listening: give its fd to Node, which listens. Needs
 * CAP_NET_ADMIN (EPERM otherwise). Throws an Error with code/errno/syscall; a plain Error
 * naming `make build` when the module was not built.
 */
export function bindTransparent(address: string, port: number, options: { ipv6Only: boolean; reusePort?: boolean }): number {
  const a = load();
  if (a === null) throw new Error(`meshd_transparent.node is missing at ${ADDON_PATH}: run make build`);
  return a.bindTransparent(address, port, options.ipv6Only, options.reusePort === true);
}
