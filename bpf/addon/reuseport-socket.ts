// A socket bound with SO_REUSEPORT, handed to Node by fd: `net.Server.listen({ fd })` or
// `dgram.Socket.bind({ fd })`. Node 20's net and dgram cannot set SO_REUSEPORT; a restarted proxy
// needs it to listen on a TCP port its predecessor still holds (with net.ipv4.tcp_migrate_req=1
// the kernel hands the old listener's queued connections to the new one when the old closes).
// Native side: src/reuseport-socket.cc, its own module build/Release/meshd_reuseport.node (no
// libbpf). Loaded on first use; when it was not built, reusePortAvailable() is false and callers
// bind as before.
import { optionalAddon } from './optional-addon.js';

interface ReusePortAddon {
  bindReusePort(kind: 'tcp' | 'udp', address: string, port: number, ipv6Only: boolean): number;
}

const addon = optionalAddon<ReusePortAddon>('meshd_reuseport.node');

/** Whether meshd_reuseport.node was built (`make build`). */
export function reusePortAvailable(): boolean {
  return addon.available();
}

/**
 * A non-blocking, close-on-exec socket with SO_REUSEADDR and SO_REUSEPORT, bound to
 * address:port (IPv6-only when asked), not listening: give its fd to Node, which listens.
 * Throws an Error with code/errno/syscall (EADDRINUSE when a socket of another user holds the
 * port, or one without SO_REUSEPORT); throws MESHD_ERR_BPF_ADDON_MISSING-style text when not built.
 */
export function bindReusePort(kind: 'tcp' | 'udp', address: string, port: number, ipv6Only: boolean): number {
  return addon.require().bindReusePort(kind, address, port, ipv6Only);
}
