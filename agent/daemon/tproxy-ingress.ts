// Ingress L7 for clients on other nodes (issue 9, BPF TPROXY, docs/adr/0003): the agent's half.
// `--ingress-device IFNAME` names the devices that carry traffic from other nodes; on each, the
// datapath's tc program assigns a connection to a local pod with ingress L7 rules to the proxy's
// IP_TRANSPARENT listener. That needs, per node, the fwmark rule and local-delivery route of
// setupTproxyRouting(), and the xDS ingress listeners marked transparent (see the agent).
//
// The routing belongs to the devices: it is installed when at least one device is configured,
// and removed (here, by an agent configured without devices, and by `meshd teardown`) only when
// this pin root had devices attached, so an agent that never used BPF TPROXY never removes a rule
// another agent in the same network namespace relies on.
import { setupTproxyRouting, teardownTproxyRouting, type Datapath } from '../../bpf/index.js';
import type { Logger } from './logger.js';

export interface IngressDeviceSync {
  /** Devices whose tcx link is attached now (reused pins included). */
  attached: string[];
  /** Devices pinned by an earlier agent and no longer configured: detached and unpinned. */
  detached: string[];
  /** Whether the fwmark rule and route are installed (true) or were removed (false); undefined: left as they were. */
  routing: boolean | undefined;
}

/** A device name as `ip link` shows it: 1 to 15 bytes, no '/', no white space, not '.' or '..'. */
export function isDeviceName(name: string): boolean {
  return /^[^\s/:]{1,15}$/.test(name) && name !== '.' && name !== '..';
}

/**
 * Makes the node's BPF TPROXY state match `devices`: the routing first (a connection assigned to
 * the proxy before it exists would be forwarded to the pod instead), then one tcx link per
 * device (an earlier agent's pin is reused), then the pinned devices no longer configured are
 * detached. Throws the datapath's coded error (MESHD_ERR_DATAPATH_ROUTING, MESHD_ERR_DATAPATH_ATTACH
 * for a device that does not exist in the agent's network namespace).
 */
export function syncIngressDevices(datapath: Datapath, devices: readonly string[], logger: Logger): IngressDeviceSync {
  const wanted = [...new Set(devices)];
  const result: IngressDeviceSync = { attached: [], detached: [], routing: undefined };
  if (wanted.length > 0) {
    try {
      setupTproxyRouting();
      result.routing = true;
      for (const ifname of wanted) {
        datapath.attachIngressDevice(ifname);
        result.attached.push(ifname);
      }
    } catch (err) {
      // The agent does not start: with no device pinned, `meshd teardown` would not know the
      // routing is ours, so it goes now (best effort; the start error is what matters).
      if (datapath.ingressDevices().length === 0) {
        try {
          teardownTproxyRouting();
        } catch (cleanupErr) {
          logger.warn({ err: (cleanupErr as Error).message }, 'ingress devices: could not remove the BPF TPROXY routing after a failed start');
        }
      }
      throw err;
    }
  }
  for (const ifname of datapath.ingressDevices()) {
    if (wanted.includes(ifname)) continue;
    if (datapath.detachIngressDevice(ifname)) result.detached.push(ifname);
  }
  if (wanted.length === 0 && result.detached.length > 0) {
    teardownTproxyRouting();
    result.routing = false;
  }
  if (result.attached.length > 0 || result.detached.length > 0) {
    logger.info({ attached: result.attached, detached: result.detached, routing: result.routing }, 'ingress devices: BPF TPROXY for clients on other nodes');
  }
  return result;
}
