// `meshd status`, `endpoint list`, `identity list`, `bpf policy get`, and `xds status` (joined
// to the `xds` group): what the running agent holds.
import type { CommandNode } from '../command-spec.js';

export const INSPECT_SPECS: CommandNode[] = [];
export const XDS_LIVE_SPECS: CommandNode[] = [];
