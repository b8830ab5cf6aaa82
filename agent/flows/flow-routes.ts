// The flow API: GET /v1/flows (a JSON list, or NDJSON while following) and GET /v1/service-map.
import type { ApiRoute } from '../api/index.js';
import { parseFlowQuery } from './flow-filter.js';
import type { FlowStore } from './flow-store.js';
import { buildServiceMap } from './service-map.js';
import type { Flow } from './types.js';

export interface FlowListResponse {
  flows: Flow[];
  /** Flows ever added and how many the ring holds: a client can tell that older ones were dropped. */
  added: number;
  capacity: number;
}

export function flowRoutes(store: FlowStore): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/v1/flows',
      handler: (req) => {
        const q = parseFlowQuery(req.query);
        if (!q.follow) {
          const stats = store.stats();
          return Promise.resolve<FlowListResponse>({ flows: store.query({ ...q.filter, last: q.last }), added: stats.added, capacity: stats.capacity });
        }
        // Subscribe before reading the backlog: both happen in this same tick, so no flow falls
        // between them, and none is sent twice.
        const live = store.follow(q.filter, req.signal);
        const backlog = store.query({ ...q.filter, last: q.last ?? 0 });
        return (async function* () {
          yield* backlog;
          yield* live;
        })();
      },
    },
    {
      method: 'GET',
      path: '/v1/service-map',
      handler: (req) => {
        const q = parseFlowQuery(req.query);
        return Promise.resolve(buildServiceMap(store.query({ ...q.filter, last: q.last })));
      },
    },
  ];
}
