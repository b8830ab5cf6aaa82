// Flow records of the built-in proxy (one per HTTP request or TCP connection) on `meshd:flow`.
export { FLOW_CHANNEL } from './types.js';
export type { DnsFlowRecord, FlowPeer, FlowRecord, FlowVerdict, HttpFlowRecord, KafkaFlowRecord, TcpFlowRecord } from './types.js';
export { isFlowObserved, publishFlow, subscribeFlows } from './publish.js';
