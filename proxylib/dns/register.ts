// Registers the DNS filter with the listener compiler when proxylib/dns is imported (proxylib's
// public entry imports it): as a terminal network filter for DNS over TCP chains, and as a UDP
// listener filter for DNS over UDP. A network RBAC filter may precede it on TCP.
import { registerNetworkFilter, registerUdpListenerFilter } from '../config/index.js';
import { DNS_POLICY_TYPE } from './compile-policy.js';
import { compileDnsTcpFilter } from './tcp-filter.js';
import { compileDnsUdpFilter } from './udp-filter.js';

registerNetworkFilter(DNS_POLICY_TYPE, compileDnsTcpFilter, { terminal: true });
registerUdpListenerFilter(DNS_POLICY_TYPE, compileDnsUdpFilter);
