// Public entry of the bpf layer: the Datapath the agent drives (endpoints, ipcache, atomic
// policy replacement, original destinations, verdict events) and the native addon beneath it.
export * from './datapath/index.js';
export * from './addon/index.js';
