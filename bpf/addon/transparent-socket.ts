// A TCP socket with IP_TRANSPARENT (IPV6_TRANSPARENT), bound and handed to Node by fd:
// `net.Server.listen({ fd })`. BPF TPROXY (bpf/progs/tc.bpf.c, docs/adr/0003 "Ingress L7 for
// clients from other nodes") assigns connections addressed to a pod to such a listener; the
// accepted socket's local address is then the pod's address and port — the connection's
// original destination, no SO_ORIGINAL_DST needed. Node 20's net cannot set the option.
// Native side: src/transparent-socket.cc, its own module build/Release/meshd_transparent.node
// (no libbpf), loaded on first use; transparentAvailable() is false when it was not built.
import { optionalAddon } from './optional-addon.js';

interface TransparentAddon {
  bindTransparent(address: string, port: number, ipv6Only: boolean, reusePort: boolean): number;
}

const addon = optionalAddon<TransparentAddon>('meshd_transparent.node');

/** Whether meshd_transparent.node was built (`make build`). */
export function transparentAvailable(): boolean {
  return addon.available();
}

/**
 * A non-blocking, close-on-exec TCP socket with IP_TRANSPARENT / IPV6_TRANSPARENT and
 * SO_REUSEADDR (and SO_REUSEPORT when asked: port handover), bound to address:port
 * (IPv6-only when asked), not listening: give its fd to Node, which listens. Needs
 * CAP_NET_ADMIN (EPERM otherwise). Throws an Error with code/errno/syscall; a plain Error
 * naming `make build` when the module was not built.
 */
export function bindTransparent(address: string, port: number, options: { ipv6Only: boolean; reusePort?: boolean }): number {
  return addon.require().bindTransparent(address, port, options.ipv6Only, options.reusePort === true);
}
