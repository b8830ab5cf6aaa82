// One stream's subscription to one type, shared by SotW and Delta (go-control-plane's
// stream/v3/subscription.go): wildcard flag, explicit names, and what the client holds.
import type { SubscriptionView } from '../cache/index.js';

const WILDCARD = '*';

export class Subscription implements SubscriptionView {
  isWildcard = false;
  readonly names = new Set<string>();
  readonly returned = new Map<string, string>();
  readonly mustAnswer = new Set<string>();
  hasResponded = false;
  /** The legacy rule: an empty request means wildcard only until a name was ever sent (xDS "wildcard"). */
  private hasEverNamed = false;

  /** SotW: `resource_names` is the full subscription in every request (research/xds.md §1.2). */
  setSotwNames(resourceNames: readonly string[]): void {
    const explicit = resourceNames.filter((n) => n !== WILDCARD);
    const legacyWildcard = resourceNames.length === 0 && !this.hasEverNamed;
    if (explicit.length > 0) this.hasEverNamed = true;
    this.isWildcard = resourceNames.includes(WILDCARD) || legacyWildcard;
    this.names.clear();
    for (const n of explicit) this.names.add(n);
    // Forget what was sent for names no longer subscribed, so a later re-subscription gets them again.
    if (!this.isWildcard) for (const n of [...this.returned.keys()]) if (!this.names.has(n)) this.returned.delete(n);
  }

  /**
   * Delta: subscribe/unsubscribe lists change the subscription (honoured even with a stale nonce).
   * `initialVersions` (first request of a stream) are the versions the client already holds.
   */
  applyDelta(subscribe: readonly string[], unsubscribe: readonly string[], isFirst: boolean, initialVersions: Readonly<Record<string, string>>): void {
    if (isFirst && subscribe.length === 0 && !this.hasEverNamed) this.isWildcard = true;
    for (const n of subscribe) {
      if (n === WILDCARD) {
        this.isWildcard = true;
        continue;
      }
      this.hasEverNamed = true;
      this.names.add(n);
      // A subscribe for a name the client already has is still answered: it may have dropped it.
      this.returned.delete(n);
      this.mustAnswer.add(n);
    }
    for (const n of unsubscribe) {
      if (n === WILDCARD) {
        this.isWildcard = false;
        continue;
      }
      this.names.delete(n);
      this.mustAnswer.delete(n);
      // With '*' still on, the resource is answered again (or removed): the xDS spec's unsubscribe rule.
      this.returned.delete(n);
    }
    if (!this.isWildcard && unsubscribe.includes(WILDCARD)) {
      for (const n of [...this.returned.keys()]) if (!this.names.has(n)) this.returned.delete(n);
    }
    // Envoy lists known names in resource_names_subscribe on reconnect too (envoy#16063): the claimed
    // versions win, so unchanged resources are not sent again.
    for (const [name, version] of Object.entries(initialVersions)) {
      this.returned.set(name, version);
      this.mustAnswer.delete(name);
    }
  }

  /** Bookkeeping once a SotW response is queued for the client. */
  recordSotwSent(resources: ReadonlyArray<{ name: string; version: string }>, removed: readonly string[], isFullState: boolean): void {
    if (isFullState) this.returned.clear();
    for (const n of removed) this.returned.delete(n);
    for (const r of resources) this.returned.set(r.name, r.version);
    this.hasResponded = true;
  }

  /** Bookkeeping once a Delta response is queued for the client. */
  recordDeltaSent(resources: ReadonlyArray<{ name: string; version: string }>, removed: readonly string[]): void {
    for (const n of removed) {
      this.returned.delete(n);
      this.mustAnswer.delete(n);
    }
    for (const r of resources) {
      this.returned.set(r.name, r.version);
      this.mustAnswer.delete(r.name);
    }
    this.hasResponded = true;
  }
}
