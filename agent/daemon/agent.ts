// `meshd agent`: one process holding the node's kernel datapath, identities, policies, endpoints,
// toFQDNs learning, the xDS server, flows, the local API and the metrics endpoint; the L7 proxy
// is a separate, adopted process (docs/adr/0007-agent-process-model.md). Components start in
// dependency order and stop in reverse. Stopping leaves pods, pinned BPF objects and the proxy
// running: a restarted agent picks them all up again (`meshd teardown` removes them).
import { mkdirSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { Datapath, type IpcacheTable } from '../../bpf/index.js';
import { IdentityAllocator, RESERVED_IDENTITIES, Repository, SelectorCache, selectorKey } from '../../policy/index.js';
import type { CachedSelector, LabelSelector } from '../../policy/index.js';
import type { IpCacheEntry } from '../../xds/index.js';
import { setupNode, type NodeNetwork } from '../pods/index.js';
import { EndpointPolicyRegenerator, FqdnManager, UdpPeerActivity, type PolicyUpdater } from '../fqdn/index.js';
import { agentSocketPath, startApiServer, type ApiRoute, type ApiServer } from '../api/index.js';
import { EndpointManager, K8sPodRegistry, refusePodRun, type EndpointInfo } from '../endpoints/index.js';
import { K8sWatcher, createKubeConfig } from '../k8s/index.js';
import { PolicyStore } from '../policy-store/index.js';
import { FlowCollector, FlowStore, agentFlowEnrichment, flowRoutes } from '../flows/index.js';
import { AgentMetrics, type MetricsServer } from '../metrics/index.js';
import { proxyLinkRoutes } from '../proxy-link/index.js';
import { inspectRoutes, pinnedMapStats } from '../inspect/index.js';
import { XdsPublisher, proxyPortPlan, type ProxyPortPlan, type XdsNodePlan, type XdsPublishInput } from '../xds-publish/index.js';
import { ProxySupervisor, findEnvoy } from '../proxy-supervisor/index.js';
import { COMMANDS } from '../cli/commands.js';
import { AgentError } from './errors.js';
import { acquireStateDirLock } from './lock.js';
import { createAgentLogger, componentLogger, type Logger } from './logger.js';
import { resolveAgentOptions, type AgentOptions, type ResolvedAgentOptions } from './options.js';
import { Reconciler, describe as describeScope, type ReconcileScope } from './reconciler.js';
import { coreRoutes } from './core-routes.js';
import { CidrIdentities } from './cidr-identities.js';
import { syncIngressDevices } from './tproxy-ingress.js';
import { openClusterState, type ClusterState } from '../cluster/index.js';
import {
  clusterPolicyRoutes,
  dropStaleRemoteEntries,
  feedPolicies,
  feedRemoteIpcache,
  feedSelectorCache,
  isClusterIdentity,
  routeOtherNodes,
  writeClusterRecord,
  CLUSTER_RECORD_FILE,
} from './cluster-link.js';

/** The reserved identity of the node itself (Cilium's reserved:host). */
const HOST_IDENTITY = 1;

/** Every handle of a running agent: what route handlers, metrics and tests read. */
export interface AgentServices {
  options: ResolvedAgentOptions;
  logger: Logger;
  node: NodeNetwork;
  datapath: Datapath;
  allocator: IdentityAllocator;
  selectorCache: SelectorCache;
  repository: Repository;
  endpoints: EndpointManager;
  /** --etcd: the cluster state (identities, ipcache, nodes, policies); undefined on a single node. */
  cluster: ClusterState | undefined;
  /** --k8s: the API watcher and the registry of the kubelet's pods (undefined otherwise). */
  k8s: { watcher: K8sWatcher; pods: K8sPodRegistry } | undefined;
  policies: PolicyStore;
  fqdn: FqdnManager;
  regenerator: EndpointPolicyRegenerator;
  xds: XdsPublisher;
  flows: FlowStore;
  flowCollector: FlowCollector;
  metrics: AgentMetrics;
  /** undefined when the agent runs no proxy (runProxy: false). */
  proxy: ProxySupervisor | undefined;
  /** envoy mode: the built-in proxy that serves the Kafka and DNS listeners beside Envoy. */
  builtinHelper: ProxySupervisor | undefined;
  ports: ProxyPortPlan;
  reconciler: Reconciler;
  /** Resolves once every change so far reached kernel and xDS. */
  reconcile(): Promise<void>;
  startedAt: Date;
}

/** A component that was started, and how to stop it (run in reverse order). */
interface Started {
  name: string;
  stop(): Promise<void> | void;
}

export class Agent {
  readonly services: AgentServices;
  readonly #stack: Started[];
  #stopping: Promise<void> | undefined;
  readonly #stopped: Promise<void>;
  #resolveStopped!: () => void;

  private constructor(services: AgentServices, stack: Started[]) {
    this.services = services;
    this.#stack = stack;
    this.#stopped = new Promise((resolve) => (this.#resolveStopped = resolve));
  }

  get options(): ResolvedAgentOptions {
    return this.services.options;
  }

  get logger(): Logger {
    return this.services.logger;
  }

  /** Resolves when stop() has finished. */
  get stopped(): Promise<void> {
    return this.#stopped;
  }

  /**
   * Starts every component in dependency order. On any failure the components already started
   * are stopped again (in reverse) and the error is thrown: a coded AgentError, or the failing
   * layer's own coded error.
   */
  static async start(input: AgentOptions = {}): Promise<Agent> {
    const options = resolveAgentOptions(input);
    // Before anything is touched: a missing Envoy binary is the operator's to fix, not a half-started node.
    if (options.proxy === 'envoy' && options.runProxy) findEnvoy();
    try {
      mkdirSync(options.stateDir, { recursive: true, mode: 0o755 });
    } catch (err) {
      throw new AgentError('MESHD_ERR_AGENT_STATE_DIR', `cannot create the state directory ${options.stateDir}: ${(err as Error).message}`, { hint: 'run the agent as root, or give a writable --state-dir', cause: err });
    }
    const lock = acquireStateDirLock(options.stateDir);
    const logger = input.logger ?? createAgentLogger({ level: options.logLevel });
    const stack: Started[] = [{ name: 'lock', stop: () => lock.release() }];
    const progress = { step: 'node' };
    try {
      return await Agent.#startComponents(options, logger, stack, progress);
    } catch (err) {
      logger.error({ step: progress.step, err: errorFields(err) }, 'agent: start failed; stopping what was started');
      await unwind(stack, logger);
      // Coded errors of the failing layer say best what is wrong; others get the step's name.
      if (typeof (err as { code?: unknown }).code === 'string' && String((err as { code: string }).code).startsWith('MESHD_ERR_')) throw err;
      throw new AgentError('MESHD_ERR_AGENT_START', `${progress.step} could not start: ${(err as Error).message ?? String(err)}`, { cause: err });
    }
  }

  static async #startComponents(options: ResolvedAgentOptions, logger: Logger, stack: Started[], progress: { step: string }): Promise<Agent> {
    const startedAt = new Date();
    const log = (c: string): Logger => componentLogger(logger, c);
    logger.info({ stateDir: options.stateDir, pinRoot: options.pinRoot, node: options.nodeName, prefix: options.nodePrefix, proxy: options.proxy }, 'agent: starting');
    const ports = proxyPortPlan(options.proxyPortBase);

    // The node: gateway interface, blackhole routes, cgroup tree of this prefix, and its pod
    // ranges (--pod-cidr4/6; agent/pods' defaults otherwise). The one place the ranges enter
    // agent/pods: everything after reads them from `node` (EndpointManager's createPod too).
    const node = await setupNode({
      prefix: options.nodePrefix,
      ...(options.podCidr4 !== undefined ? { podCidr4: options.podCidr4 } : {}),
      ...(options.podCidr6 !== undefined ? { podCidr6: options.podCidr6 } : {}),
    });

    progress.step = 'datapath';
    // Kernel datapath: reuses every pinned map and link of a previous agent.
    const bpfLog = log('bpf');
    const datapath = Datapath.open({
      pinRoot: options.pinRoot,
      proxyCgroup: node.proxyCgroup,
      podsCgroup: node.podsCgroup,
      nodeProxyAddress: { ipv4: node.gateway4, ipv6: node.gateway6 },
      // Every new allowed connection becomes a kernel flow (issue 8: `meshd observe` shows allowed
      // connections, not only denies and redirects); the event is one ring-buffer record per connect.
      sampleAllowed: 1,
      logger: { debug: (m) => bpfLog.debug(m), info: (m) => bpfLog.info(m), warn: (m) => bpfLog.warn(m) },
    });
    stack.push({ name: 'datapath', stop: () => datapath.close() });
    upsertHostEntries(datapath.ipcache, node);
    // --ingress-device: BPF TPROXY for clients on other nodes (routing, tcx links, stale pins).
    syncIngressDevices(datapath, options.ingressDevices, log('bpf'));

    progress.step = 'identities';
    const { allocator, warnings: identityWarnings } = await IdentityAllocator.open(options.stateDir);
    for (const w of identityWarnings) log('identity').warn({ code: w.code }, w.message);
    stack.push({ name: 'identities', stop: () => allocator.flush() });
    const selectorCache = new SelectorCache();
    for (const r of RESERVED_IDENTITIES) selectorCache.addIdentity(r.id, r.labels);

    // Cluster mode: join before anything allocates an identity or loads a policy; resolves once
    // the local mirrors hold every identity, pod IP, node and policy of the cluster.
    let cluster: ClusterState | undefined;
    if (options.cluster) {
      progress.step = 'cluster state (etcd)';
      const clusterLog = log('cluster');
      cluster = await openClusterState({
        endpoints: options.cluster.endpoints,
        nodeName: options.nodeName,
        prefix: options.cluster.prefix,
        leaseTtlSeconds: options.cluster.leaseTtlSeconds,
        localAllocator: allocator,
        nodeIp: options.nodeIp ?? '',
        podCidrs: [node.podCidr4, node.podCidr6],
        logger: clusterLog,
      });
      const joined = cluster;
      // No revoke on a stop: a restarted agent takes its records over (`meshd teardown` revokes).
      stack.push({ name: 'cluster', stop: () => joined.close() });
      const record = { endpoints: options.cluster.endpoints, prefix: options.cluster.prefix, nodeName: options.nodeName };
      writeClusterRecord(options.stateDir, { ...record, leaseId: joined.session.leaseId });
      stack.push({ name: 'cluster-record', stop: joined.session.onLeaseRenewed(async (leaseId) => writeClusterRecord(options.stateDir, { ...record, leaseId })) });
      stack.push({ name: 'cluster-identities', stop: feedSelectorCache(joined, selectorCache) });
      clusterLog.info({ etcd: options.cluster.endpoints, prefix: options.cluster.prefix, leaseId: joined.session.leaseId, nodes: joined.nodes.list().map((n) => n.name), identities: joined.identities.identities().length }, 'cluster: joined');
    }
    const repository = new Repository();

    // Changes reported while the components restore (before the first full pass, which covers
    // them all) are not queued: nothing waits on them, and the pass would only be repeated.
    const reconcileLog = log('reconcile');
    let isStarted = false;
    let runReconcile: (scope: ReconcileScope) => void = () => undefined;
    const reconciler = new Reconciler({ debounceMs: options.reconcileDebounceMs, logger: reconcileLog, run: (scope) => runReconcile(scope) });
    stack.push({ name: 'reconciler', stop: () => reconciler.close() });
    progress.step = 'policy store';
    const policies = await PolicyStore.open({
      stateDir: options.stateDir,
      repository,
      logger: log('policy'),
      ...(options.policyDir !== undefined ? { policyDir: options.policyDir } : {}),
      onChange: () => (isStarted ? reconciler.request({ all: true, policies: true }) : Promise.resolve()),
    });
    stack.push({ name: 'policies', stop: () => policies.close() });
    if (cluster) {
      progress.step = 'cluster policies';
      const feed = await feedPolicies({ cluster, policies, logger: log('cluster') });
      stack.push({ name: 'cluster-policies', stop: () => feed.stop() });
    }

    const auditModeOf = (endpoint: string): boolean => options.policyAuditMode || policies.selectsInAuditMode(repository.endpointPolicy(endpoint));
    progress.step = 'endpoints';
    const endpoints = await EndpointManager.open({
      stateDir: options.stateDir,
      node,
      datapath,
      // Cluster mode: label identities are the cluster's (CIDR/FQDN ones stay the node's).
      allocator: cluster ? cluster.identities : allocator,
      selectorCache,
      repository,
      logger: log('endpoints'),
      ...(cluster ? { publisher: clusterPublisher(cluster) } : {}),
      auditModeOf,
      onChange: (ids) => (isStarted ? reconciler.request({ endpoints: ids }) : Promise.resolve()),
    });
    stack.push({ name: 'endpoints', stop: () => endpoints.close() });
    if (cluster) {
      const joined = cluster;
      const isLocalIp = (ip: string): boolean => endpoints.byIp(ip) !== undefined;
      // Not in Kubernetes mode: the kubelet's pods (global-range ids too) are registered only later.
      const stale = options.k8s ? [] : dropStaleRemoteEntries({ cluster, ipcache: datapath.ipcache, isLocalIp });
      if (stale.length > 0) log('cluster').info({ entries: stale }, 'cluster: removed kernel ipcache entries of pods that went away while the agent was down');
      stack.push({
        name: 'cluster-ipcache',
        stop: feedRemoteIpcache({ cluster, nodeName: options.nodeName, ipcache: datapath.ipcache, isLocalIp, logger: log('cluster'), changed: () => void (isStarted ? reconciler.request({}) : undefined) }),
      });
      stack.push({
        name: 'cluster-reassign',
        stop: joined.identities.onIdentityReassigned((labels, oldId, newId) => {
          void endpoints
            .reassignIdentity(labels, oldId, newId)
            .then((ids) => (ids.length > 0 && isStarted ? reconciler.request({ endpoints: ids }) : undefined))
            .catch((err: unknown) => log('cluster').error({ err: errorFields(err) }, 'cluster: cannot move pods to their re-assigned identity'));
        }),
      });
      if (options.nodeIp !== undefined) {
        stack.push({ name: 'cluster-routes', stop: routeOtherNodes({ cluster, nodeName: options.nodeName, ownCidrs: [node.podCidr4, node.podCidr6], logger: log('cluster') }) });
      }
    }

    // Kubernetes mode: the kubelet's pods, registered as endpoints beside (never instead of) the
    // EndpointManager's, which then holds only what an earlier non-Kubernetes agent left.
    const k8sPods = options.k8s
      ? new K8sPodRegistry({
          datapath,
          // Cluster mode (--k8s --etcd): the cluster's identities, the pods published to etcd.
          allocator: cluster ? cluster.identities : allocator,
          selectorCache,
          repository,
          logger: log('k8s-pods'),
          ...(cluster ? { publisher: clusterPublisher(cluster) } : {}),
          auditModeOf,
          reservedEndpointIds: () => endpoints.list().map((e) => e.endpointId),
          onChange: (ids) => (isStarted ? reconciler.request({ endpoints: ids }) : Promise.resolve()),
        })
      : undefined;
    if (cluster && k8sPods) {
      const pods = k8sPods;
      stack.push({
        name: 'cluster-reassign-k8s',
        stop: cluster.identities.onIdentityReassigned((labels, oldId, newId) => {
          void pods
            .reassignIdentity(labels, oldId, newId)
            .then((ids) => (ids.length > 0 && isStarted ? reconciler.request({ endpoints: ids }) : undefined))
            .catch((err: unknown) => log('cluster').error({ err: errorFields(err) }, 'cluster: cannot move Kubernetes pods to their re-assigned identity'));
        }),
      });
    }
    const allEndpoints = (): EndpointInfo[] => [...endpoints.list(), ...(k8sPods?.list() ?? [])];

    const regenerator = new EndpointPolicyRegenerator({
      repository,
      selectorCache,
      datapath,
      endpointIdOf: (id) => endpoints.endpointIdOf(id) ?? k8sPods?.endpointIdOf(id),
      proxyPortOf: ports.kernel,
    });

    // Identities coming and going (pods, learned IPs) change selections: queue those selectors.
    // (Not while a full pass runs: it regenerates every endpoint anyway.)
    let isFullPass = false;
    const unsubscribe = selectorCache.onChange((key) => {
      if (isStarted && !isFullPass) void reconciler.request({ selectorKeys: [key] });
    });
    stack.push({ name: 'selector-listener', stop: unsubscribe });

    // FqdnManager rewrites the kernel itself before a DNS answer is released; the queued keys it
    // handled are dropped, and only the xDS snapshot (its IP sets) is left to the reconciler.
    const fqdnUpdater: PolicyUpdater = {
      selectionsChanged: (keys) => {
        regenerator.selectionsChanged(keys);
        reconciler.forgetSelectorKeys(keys);
        if (isStarted) void reconciler.request({});
      },
    };
    progress.step = 'fqdn';
    const fqdnLog = log('fqdn');
    const { manager: fqdn, warnings: fqdnWarnings } = await FqdnManager.open({
      stateDir: options.stateDir,
      allocator,
      selectorCache,
      ipcache: datapath.ipcache,
      policyUpdater: fqdnUpdater,
      policies: repository.listPolicies(),
      flowActivity: new UdpPeerActivity(datapath),
      onWarning: (w) => fqdnLog.warn({ code: w.code }, w.message),
    });
    for (const w of fqdnWarnings) fqdnLog.warn({ code: w.code }, w.message);
    stack.push({ name: 'fqdn', stop: () => fqdn.close() });

    progress.step = 'xds server';
    // xDS: the server and the node's snapshot(s).
    const xdsLog = log('xds');
    const nodes: XdsNodePlan[] =
      options.proxy === 'envoy'
        ? [
            { nodeId: options.nodeName, target: 'envoy' },
            // Envoy has no Kafka or DNS filter: the built-in proxy serves those beside it.
            { nodeId: `${options.nodeName}-builtin`, target: 'builtin', kinds: ['kafka', 'dns'] },
          ]
        : [{ nodeId: options.nodeName, target: 'builtin' }];
    const xds = await XdsPublisher.start(
      { stateDir: options.stateDir, logger: xdsLog, nodes, proxyAddresses: [node.gateway4, node.gateway6], ports, transparentIngress: options.ingressDevices.length > 0 },
      (w) => xdsLog.warn({ code: w.code }, w.message),
    );
    stack.push({ name: 'xds', stop: () => xds.close() });

    const metrics = new AgentMetrics();
    const flows = new FlowStore({});
    const unsubscribeFlows = flows.onFlow((f) => metrics.recordFlow(f));
    stack.push({ name: 'flow-metrics', stop: unsubscribeFlows });

    const auditFlags = new Map<string, boolean>();
    const xdsSelectors = new Map<string, CachedSelector>();
    const cidrIdentities = new CidrIdentities({ allocator, selectorCache, ipcache: datapath.ipcache });
    runReconcile = (scope: ReconcileScope): void => {
      if (scope.all) {
        isFullPass = true;
        try {
          if (scope.policies) {
            const loaded = repository.listPolicies();
            cidrIdentities.update(loaded);
            fqdn.updatePolicies(loaded);
          }
          regenerator.regenerateAll();
        } finally {
          isFullPass = false;
        }
      } else {
        // One call: in-place trie updates where safe, and one batched swap (one RCU grace period)
        // for the rest, instead of a grace period per endpoint.
        regenerator.regenerateMany(scope.endpoints);
        if (scope.selectorKeys.size > 0) regenerator.selectionsChanged(scope.selectorKeys);
      }
      if (scope.all || scope.endpoints.size > 0) {
        for (const ep of allEndpoints()) {
          const audit = auditModeOf(ep.id);
          if (auditFlags.get(ep.id) !== audit) {
            if (auditFlags.has(ep.id) || audit) (k8sPods?.endpointIdOf(ep.id) !== undefined ? k8sPods : endpoints).refreshAuditMode(ep.id);
            auditFlags.set(ep.id, audit);
          }
        }
      }
      const outcome = xds.publish(xdsInput(repository, selectorCache, xdsSelectors, datapath.ipcache));
      reconcileLog.debug({ scope: describeScope(scope), version: outcome.version, changed: outcome.changed, ms: Math.round(outcome.durationMs * 10) / 10 }, 'reconcile: done');
      if (outcome.changed) trackPush(outcome.version);
    };
    reconciler.onRun((e) => metrics.recordPolicyCompute(e.durationMs / 1000));
    const unsubscribeNacks = xds.onNack((e) => metrics.recordXdsNack(e.nodeId));
    stack.push({ name: 'xds-metrics', stop: unsubscribeNacks });
    // Push time as the metric defines it: new snapshot → the proxy ACKed it (bounded wait).
    // One push is timed at a time: under a burst of changes the histogram samples, rather than
    // every push holding a waiter that each later push wakes.
    let isTimingPush = false;
    const trackPush = (version: number): void => {
      if (!proxyNodeId || isTimingPush) return;
      isTimingPush = true;
      const t0 = performance.now();
      xds
        .waitForSync({ nodeId: proxyNodeId, version, timeoutMs: 30_000, quietMs: 0 })
        .then(
          () => metrics.recordXdsPush((performance.now() - t0) / 1000),
          () => undefined,
        )
        .finally(() => (isTimingPush = false));
    };
    let proxyNodeId: string | undefined;

    progress.step = 'first reconcile';
    // Every endpoint's kernel policy from what was restored, then the first snapshot.
    isStarted = true;
    try {
      runReconcile({ all: true, policies: true, endpoints: new Set(), selectorKeys: new Set() });
    } catch (err) {
      // The kernel side is written per endpoint as it goes; a translation the proxy cannot be
      // given must not keep the node's agent down. An adopted proxy keeps its last configuration.
      reconcileLog.error({ err: errorFields(err) }, 'reconcile: the first pass failed; the agent starts without a new xDS snapshot');
    }

    progress.step = 'proxy';
    // The proxy: adopted when it still runs, else started; it must hold the snapshot first.
    let proxy: ProxySupervisor | undefined;
    let builtinHelper: ProxySupervisor | undefined;
    if (options.runProxy) {
      const proxyLog = log('proxy');
      const agentSocket = proxyHasOption('agent-socket') ? agentSocketPath(options.stateDir) : undefined;
      if (agentSocket === undefined) proxyLog.warn({}, 'proxy: this meshd proxy has no --agent-socket option; DNS answers are not learned and proxy flows not reported');
      const common = {
        stateDir: options.stateDir,
        pinRoot: options.pinRoot,
        xdsSocket: xds.socketPath,
        proxyCgroup: node.proxyCgroup,
        logger: proxyLog,
        readyTimeoutMs: options.proxyReadyTimeoutMs,
        waitInSync: (nodeId: string, timeoutMs: number) => xds.waitForSync({ nodeId, timeoutMs }),
        extraArgs: proxyHasOption('dns-response-max-delay') ? ['--dns-response-max-delay', String(options.dnsResponseMaxDelayMs)] : [],
      };
      proxy = await ProxySupervisor.start({ ...common, mode: options.proxy, nodeId: options.nodeName, agentSocket: options.proxy === 'builtin' ? agentSocket : undefined });
      stack.push({ name: 'proxy', stop: () => proxy!.release() });
      proxyNodeId = options.nodeName;
      if (options.proxy === 'envoy') {
        builtinHelper = await ProxySupervisor.start({ ...common, role: 'builtin', mode: 'builtin', nodeId: `${options.nodeName}-builtin`, agentSocket });
        stack.push({ name: 'builtin-helper', stop: () => builtinHelper!.release() });
      }
    }

    progress.step = 'flow collector';
    // Flows from the kernel's events (and, through the API, from the proxy).
    const flowCollector = new FlowCollector({
      store: flows,
      enrichment: agentFlowEnrichment({ endpoints: { list: allEndpoints, byIp: (ip) => endpoints.byIp(ip) ?? k8sPods?.byIp(ip) }, identityLabels: (id) => selectorCache.labelsOf(id), repository }),
      events: datapath.events(),
      logger: log('flows'),
    });
    stack.push({ name: 'flow-collector', stop: () => flowCollector.close() });

    const services: AgentServices = {
      options,
      logger,
      node,
      datapath,
      allocator,
      selectorCache,
      repository,
      endpoints,
      cluster,
      k8s: undefined,
      policies,
      fqdn,
      regenerator,
      xds,
      flows,
      flowCollector,
      metrics,
      proxy,
      builtinHelper,
      ports,
      reconciler,
      reconcile: () => reconciler.request({}),
      startedAt,
    };

    if (options.k8s && k8sPods) {
      progress.step = 'kubernetes watcher';
      // The watcher's changes are reconciled as they come (its first sync is awaited below).
      reconciler.resume();
      services.k8s = await startK8sWatcher(options.k8s, { policies, pods: k8sPods, logger: log('k8s'), stack });
    }

    progress.step = 'API server';
    // The local API, with every component's routes. In Kubernetes mode the kubelet's pods are
    // endpoints too, and pods are the kubelet's to make: `meshd pod run` is refused.
    const routes: ApiRoute[] = [
      ...coreRoutes(services),
      ...(k8sPods ? k8sEndpointRoutes(endpoints.routes(), k8sPods) : endpoints.routes()),
      ...(cluster ? clusterPolicyRoutes(policies.routes(), cluster, policies) : policies.routes()),
      ...flowRoutes(flows),
      ...proxyLinkRoutes({ fqdn, ingestProxyFlows: (records) => flowCollector.ingestProxyFlows(records) }),
      ...inspectRoutes(k8sPods ? { ...services, endpoints: { list: allEndpoints, get: (id: string) => endpoints.get(id) ?? k8sPods.get(id) } } : services),
    ];
    const api: ApiServer = await startApiServer({ socketPath: agentSocketPath(options.stateDir), routes, logger: log('api') });
    stack.push({ name: 'api', stop: () => api.close() });

    progress.step = 'metrics endpoint';
    let metricsServer: MetricsServer | undefined;
    if (options.metrics !== undefined) {
      metrics.setBpfMapEntriesSource(() => pinnedMapStats(options.pinRoot).flatMap((m) => (m.entries === null ? [] : [{ map: m.name, entries: m.entries }])));
      metricsServer = await metrics.serve(options.metrics);
      stack.push({ name: 'metrics', stop: () => metricsServer!.close() });
      log('metrics').info({ url: metricsServer.url }, 'metrics: serving');
    }

    reconciler.resume();
    const agent = new Agent(services, stack);
    logger.info(
      {
        api: agentSocketPath(options.stateDir),
        xds: xds.socketPath,
        xdsVersion: xds.version,
        endpoints: allEndpoints().length,
        policies: policies.list().length,
        k8sNode: options.k8s?.nodeName,
        clusterNodes: cluster?.nodes.list().length,
        proxyPid: proxy?.info().pid,
        proxyAdopted: proxy?.info().adopted,
        metrics: metricsServer?.url,
        ms: Date.now() - startedAt.getTime(),
      },
      'agent: ready',
    );
    return agent;
  }

  /**
   * Drains and stops every component in reverse order. Pods, pinned BPF objects and the proxy
   * stay. Idempotent; resolves when everything stopped.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.logger.info({}, 'agent: stopping');
      await unwind(this.#stack, this.logger);
      this.logger.info({}, 'agent: stopped');
      this.#resolveStopped();
    })();
    return this.#stopping;
  }
}

/**
 * Starts the API watcher with the PolicyStore and the pod registry as its sinks, and waits (bounded)
 * until every kind was listed once, so a ready agent enforces what the cluster says. It is stopped
 * before the policy store and the registry close (pushed after them on the stack).
 */
async function startK8sWatcher(
  k8s: NonNullable<ResolvedAgentOptions['k8s']>,
  o: { policies: PolicyStore; pods: K8sPodRegistry; logger: Logger; stack: Started[] },
): Promise<{ watcher: K8sWatcher; pods: K8sPodRegistry }> {
  const kubeConfig = createKubeConfig(k8s.kubeconfig === undefined ? {} : { kubeconfig: k8s.kubeconfig });
  o.stack.push({ name: 'k8s-pods', stop: () => o.pods.close() });
  const watcher = await K8sWatcher.start({ kubeConfig, nodeName: k8s.nodeName, policies: o.policies, endpoints: o.pods, logger: o.logger });
  o.stack.push({ name: 'k8s-watcher', stop: () => watcher.close() });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), k8s.syncTimeoutMs)));
  const synced = await Promise.race([watcher.synced().then(() => false), timedOut]);
  clearTimeout(timer);
  if (synced) {
    o.logger.warn({ node: k8s.nodeName, waitedMs: k8s.syncTimeoutMs, lists: watcher.listCounts() }, 'kubernetes: not every kind was listed in time; starting with what there is (the watcher keeps retrying, see MESHD_ERR_K8S_API)');
  } else {
    o.logger.info({ node: k8s.nodeName, pods: o.pods.list().length, policies: o.policies.list().length }, 'kubernetes: synced');
  }
  return { watcher, pods: o.pods };
}

/** The EndpointManager's routes in Kubernetes mode: `GET /v1/endpoints` and the pod list show both registries; `POST /v1/pods` is refused. */
function k8sEndpointRoutes(managerRoutes: ApiRoute[], pods: K8sPodRegistry): ApiRoute[] {
  const refused = async (): Promise<never> => refusePodRun();
  return managerRoutes.map((r): ApiRoute => {
    if (r.method === 'POST' && r.path === '/v1/pods') return { ...r, handler: refused };
    if (r.method === 'GET' && r.path === '/v1/endpoints') {
      return { ...r, handler: async (req) => ({ endpoints: [...((await r.handler(req)) as { endpoints: unknown[] }).endpoints, ...pods.statuses()] }) };
    }
    if (r.method === 'GET' && r.path === '/v1/pods') {
      return { ...r, handler: async (req) => ({ pods: [...((await r.handler(req)) as { pods: unknown[] }).pods, ...pods.list()] }) };
    }
    return r;
  });
}

/** Stops the stack's components in reverse; one failing is logged and the rest still stop. */
async function unwind(stack: Started[], logger: Logger): Promise<void> {
  while (stack.length > 0) {
    const c = stack.pop()!;
    try {
      await c.stop();
      logger.debug({ component: c.name }, 'agent: stopped component');
    } catch (err) {
      logger.warn({ component: c.name, err: errorFields(err) }, 'agent: a component failed to stop');
    }
  }
}

/** The EndpointManager's view of the shared ipcache. */
function clusterPublisher(cluster: ClusterState): { publish(e: { ip: string; identity: number; pod: string }): Promise<void>; unpublish(ip: string): Promise<void>; ownsIdentity(id: number): boolean } {
  return {
    publish: (e) => cluster.ipcache.publish(e),
    unpublish: (ip) => cluster.ipcache.unpublish(ip),
    ownsIdentity: isClusterIdentity,
  };
}

/** The node's own addresses as the host identity: pods reach the node (and its proxy) there. */
function upsertHostEntries(ipcache: IpcacheTable, node: NodeNetwork): void {
  ipcache.upsert(`${node.gateway4}/32`, HOST_IDENTITY);
  ipcache.upsert(`${node.gateway6}/128`, HOST_IDENTITY);
}

/** The agent's view for translateNode; `registered` keeps the selectors xDS registered (once each). */
function xdsInput(repository: Repository, selectorCache: SelectorCache, registered: Map<string, CachedSelector>, ipcache: IpcacheTable): XdsPublishInput {
  return {
    endpoints: repository.resolveAll(),
    identitiesOf: (s: LabelSelector) => {
      const key = selectorKey(s);
      let c = registered.get(key);
      if (!c) registered.set(key, (c = selectorCache.register(s)));
      return c.selections();
    },
    ipcache: ipcache.entries().map(([prefix, identity]): IpCacheEntry => ({ prefix, identity })),
  };
}

/** Whether `meshd proxy` of this build takes the option (--agent-socket came with agent/proxy-link). */
function proxyHasOption(name: string): boolean {
  const proxy = COMMANDS.commands.find((c) => c.name === 'proxy');
  return proxy?.kind === 'command' && proxy.options.some((o) => o.name === name);
}

function errorFields(err: unknown): object {
  const e = err as { code?: unknown; message?: unknown; hint?: unknown; stack?: unknown };
  return { code: e?.code, message: e?.message ?? String(err), hint: e?.hint };
}

/** Removes the runtime files an agent leaves in its state directory (teardown). */
export function removeRuntimeFiles(stateDir: string): string[] {
  const files = ['meshd.sock', 'xds.sock', 'agent.lock', 'proxy.json', 'proxy-builtin.json', 'envoy-bootstrap.yaml', CLUSTER_RECORD_FILE];
  for (const f of files) rmSync(join(stateDir, f), { force: true });
  return files;
}
