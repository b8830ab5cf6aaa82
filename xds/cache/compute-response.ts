// What a watch answers, given a node's snapshot and the stream's subscription. Pure functions, so the
// protocol rules (research/xds.md §1.2, §1.3) are unit-testable without a server.
import { isFullStateInSotw, isTypeVisibleToNode } from './type-rules.js';
import type { Snapshot } from './snapshot.js';
import type { XdsResource } from './resource.js';
import type { SubscriptionView, WatchRequest, WatchResponse } from './watch.js';

const NOTHING: ReadonlyMap<string, XdsResource> = new Map();

function visibleResources(snapshot: Snapshot, req: WatchRequest): ReadonlyMap<string, XdsResource> {
  return isTypeVisibleToNode(req.node, req.typeUrl) ? snapshot.resources(req.typeUrl) : NOTHING;
}

/** The subscribed part of `all`; a wildcard gets `all` itself, not a copy (this runs per stream per push). */
function subscribedResources(all: ReadonlyMap<string, XdsResource>, sub: SubscriptionView): ReadonlyMap<string, XdsResource> {
  if (sub.isWildcard) return all;
  const out = new Map<string, XdsResource>();
  for (const name of sub.names) {
    const r = all.get(name);
    if (r) out.set(name, r);
  }
  return out;
}

function versions(snapshot: Snapshot, req: WatchRequest): { versionInfo: string; systemVersionInfo: string } {
  const versionInfo = snapshot.typeVersion(req.typeUrl);
  return { versionInfo, systemVersionInfo: snapshot.version ?? versionInfo };
}

/** SotW: the response to send, or undefined when the client is up to date (the watch then waits). */
export function computeSotwResponse(snapshot: Snapshot, req: WatchRequest, sub: SubscriptionView): WatchResponse | undefined {
  const visible = isTypeVisibleToNode(req.node, req.typeUrl);
  const desired = subscribedResources(visibleResources(snapshot, req), sub);
  const { versionInfo, systemVersionInfo } = versions(snapshot, req);
  const removed = [...sub.returned.keys()].filter((name) => !desired.has(name));
  const isFullState = isFullStateInSotw(req.typeUrl);
  const firstAnswer = !sub.hasResponded;
  if (isFullState) {
    // A client reconnecting with the version it already holds has exactly this full state; the spec
    // lets the server skip the resend for wildcard LDS/CDS (research/xds.md §1.7).
    if (firstAnswer && sub.isWildcard && req.versionInfo !== '' && req.versionInfo === versionInfo) return undefined;
    const changed = removed.length > 0 || desired.size !== sub.returned.size || [...desired.values()].some((r) => sub.returned.get(r.name) !== r.version);
    if (!changed && !firstAnswer) return undefined;
    return { typeUrl: req.typeUrl, versionInfo, systemVersionInfo, resources: [...desired.values()], removed, isFullState };
  }
  // Other types may be sent in parts: only what changed or was newly subscribed. Absence means nothing
  // to the client, so removals are bookkeeping. A first wildcard (or filtered) request gets an answer
  // even when empty, so the client is not left waiting for its initial fetch timeout.
  const resources = [...desired.values()].filter((r) => sub.returned.get(r.name) !== r.version);
  if (resources.length === 0 && removed.length === 0 && !(firstAnswer && (sub.isWildcard || !visible))) return undefined;
  return { typeUrl: req.typeUrl, versionInfo, systemVersionInfo, resources, removed, isFullState };
}

/** Delta: changed or newly subscribed resources, and removed_resources for what the client must drop. */
export function computeDeltaResponse(snapshot: Snapshot, req: WatchRequest, sub: SubscriptionView): WatchResponse | undefined {
  const all = visibleResources(snapshot, req);
  const desired = subscribedResources(all, sub);
  const { versionInfo, systemVersionInfo } = versions(snapshot, req);
  const resources = [...desired.values()].filter((r) => sub.mustAnswer.has(r.name) || sub.returned.get(r.name) !== r.version);
  const removed = new Set<string>();
  // Held by the client but gone (also wildcard-covered ones, and those claimed on reconnect: istio#41494).
  for (const name of sub.returned.keys()) if (!desired.has(name)) removed.add(name);
  // A subscribed name that does not exist is answered at once as removed (the client's timer is a safety net).
  for (const name of sub.mustAnswer) if (!desired.has(name)) removed.add(name);
  // A first wildcard request is answered even when empty (the client's initial fetch completes), unless
  // the client reconnected holding resources that are all still current.
  const answerEmpty = !sub.hasResponded && sub.isWildcard && sub.returned.size === 0;
  if (resources.length === 0 && removed.size === 0 && !answerEmpty) return undefined;
  return { typeUrl: req.typeUrl, versionInfo, systemVersionInfo, resources, removed: [...removed], isFullState: false };
}
