// Flow records leave the proxy on a diagnostics channel: the agent's observer subscribes without
// proxylib importing agent, and with no subscriber a record costs one `hasSubscribers` check.
import diagnostics_channel from 'node:diagnostics_channel';
import { FLOW_CHANNEL, type FlowRecord } from './types.js';

const channel = diagnostics_channel.channel(FLOW_CHANNEL);

/** Publishes one record on `meshd:flow`. */
export function publishFlow(record: FlowRecord): void {
  if (channel.hasSubscribers) channel.publish(record);
}

/** True when someone listens: callers may skip building a record nobody reads. */
export function isFlowObserved(): boolean {
  return channel.hasSubscribers;
}

/** Subscribes to every flow record; returns the unsubscribe (tests and the agent's observer). */
export function subscribeFlows(onRecord: (record: FlowRecord) => void): () => void {
  const handler = (message: unknown): void => onRecord(message as FlowRecord);
  diagnostics_channel.subscribe(FLOW_CHANNEL, handler);
  return () => {
    diagnostics_channel.unsubscribe(FLOW_CHANNEL, handler);
  };
}
