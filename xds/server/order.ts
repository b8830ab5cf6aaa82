// The order in which one ADS stream receives the types of a push. Envoy's make-before-break rule (xDS
// protocol, "eventual consistency considerations"): CDS first, then EDS for those clusters, then LDS,
// then RDS, so nothing names a cluster or route the proxy does not have yet. Secrets and meshd's own
// types come before listeners because clusters and listeners that use them warm until they arrive.
import { TYPE_URL } from '../codec/index.js';

const RANK: Readonly<Record<string, number>> = {
  [TYPE_URL.cluster]: 0,
  [TYPE_URL.endpoint]: 1,
  [TYPE_URL.secret]: 2,
  [TYPE_URL.listener]: 4,
  [TYPE_URL.route]: 5,
};
const OTHER_RANK = 3;

function typeRank(typeUrl: string): number {
  return RANK[typeUrl] ?? OTHER_RANK;
}

/** Sorts type URLs in push order; types of equal rank by name, so the order is deterministic. */
export function compareTypeUrls(a: string, b: string): number {
  return typeRank(a) - typeRank(b) || (a < b ? -1 : a > b ? 1 : 0);
}
