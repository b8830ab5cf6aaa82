// The gRPC services of the xDS server: AggregatedDiscoveryService and the per-type services, each in
// SotW and Delta. Definitions come from the generated service descriptors, with @bufbuild codecs as
// grpc-js (de)serializers; responses are already bytes (encode-response.ts), so serializing is a view.
import * as grpc from '@grpc/grpc-js';
import { fromBinary, toBinary, type DescMessage, type DescService, type MessageShape } from '@bufbuild/protobuf';
import { TYPE_URL } from '../codec/index.js';
import { AggregatedDiscoveryService } from '../generated/envoy/service/discovery/v3/ads_pb.js';
import { ListenerDiscoveryService } from '../generated/envoy/service/listener/v3/lds_pb.js';
import { RouteDiscoveryService } from '../generated/envoy/service/route/v3/rds_pb.js';
import { ClusterDiscoveryService } from '../generated/envoy/service/cluster/v3/cds_pb.js';
import { EndpointDiscoveryService } from '../generated/envoy/service/endpoint/v3/eds_pb.js';
import { SecretDiscoveryService } from '../generated/envoy/service/secret/v3/sds_pb.js';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '../generated/envoy/service/discovery/v3/discovery_pb.js';
import { SotwStream } from './sotw.js';
import { DeltaStream } from './delta.js';
import type { StreamBase } from './stream-base.js';
import type { ServerContext } from './server-context.js';

interface ServedService {
  descriptor: DescService;
  /** Short name for logs and StreamInfo.service. */
  name: string;
  /** undefined for ADS: the type comes with each request. */
  typeUrl: string | undefined;
}

export const SERVED_SERVICES: readonly ServedService[] = [
  { descriptor: AggregatedDiscoveryService, name: 'ads', typeUrl: undefined },
  { descriptor: ListenerDiscoveryService, name: 'listeners', typeUrl: TYPE_URL.listener },
  { descriptor: RouteDiscoveryService, name: 'routes', typeUrl: TYPE_URL.route },
  { descriptor: ClusterDiscoveryService, name: 'clusters', typeUrl: TYPE_URL.cluster },
  { descriptor: EndpointDiscoveryService, name: 'endpoints', typeUrl: TYPE_URL.endpoint },
  { descriptor: SecretDiscoveryService, name: 'secrets', typeUrl: TYPE_URL.secret },
];

/** The gRPC path of a method, e.g. `/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources`. */
export function methodPath(service: DescService, methodName: string): string {
  return `/${service.typeName}/${methodName}`;
}

/** grpc-js ServiceDefinition for a generated service; response serialization is the identity on pre-encoded bytes. */
export function grpcDefinitionOf(service: DescService): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<MessageShape<DescMessage>, unknown>> = {};
  for (const m of service.methods) {
    def[m.localName] = {
      path: methodPath(service, m.name),
      originalName: m.name,
      requestStream: m.methodKind === 'client_streaming' || m.methodKind === 'bidi_streaming',
      responseStream: m.methodKind === 'server_streaming' || m.methodKind === 'bidi_streaming',
      requestSerialize: (msg: MessageShape<DescMessage>) => Buffer.from(toBinary(m.input, msg)),
      requestDeserialize: (bytes: Buffer) => fromBinary(m.input, bytes),
      responseSerialize: (bytes: unknown) => {
        const b = bytes as Uint8Array;
        return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
      },
      responseDeserialize: (bytes: Buffer) => fromBinary(m.output as DescMessage, bytes),
    };
  }
  return def as grpc.ServiceDefinition;
}

type Duplex = grpc.ServerDuplexStream<DiscoveryRequest | DeltaDiscoveryRequest, Uint8Array>;

/** Handlers for one service: Stream* → SotW, Delta* → Delta, Fetch* (REST-style) → UNIMPLEMENTED. */
export function handlersOf(served: ServedService, ctx: ServerContext): grpc.UntypedServiceImplementation {
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const m of served.descriptor.methods) {
    if (m.methodKind === 'unary') {
      handlers[m.localName] = (_call: unknown, callback: grpc.sendUnaryData<never>) =>
        callback({ code: grpc.status.UNIMPLEMENTED, details: `${m.name} is not served: meshd serves xDS over streams only (SotW and Delta)` });
      continue;
    }
    const isDelta = m.name.startsWith('Delta');
    handlers[m.localName] = (call: Duplex) => {
      let stream: StreamBase;
      let onRequest: (req: unknown) => void;
      if (isDelta) {
        const delta = new DeltaStream(ctx, call, served.name, 'delta', served.typeUrl);
        onRequest = (req) => delta.onRequest(req as DeltaDiscoveryRequest);
        stream = delta;
      } else {
        const sotw = new SotwStream(ctx, call, served.name, 'sotw', served.typeUrl);
        onRequest = (req) => sotw.onRequest(req as DiscoveryRequest);
        stream = sotw;
      }
      call.on('data', (req: unknown) => {
        try {
          onRequest(req);
        } catch (err) {
          ctx.logger.error({ stream: stream.info.id, err }, 'xds: request handling failed');
          call.emit('error', { code: grpc.status.INTERNAL, details: `meshd xDS server error: ${err instanceof Error ? err.message : String(err)}` });
          stream.onCancelled();
        }
      });
      call.on('end', () => stream.end());
      call.on('cancelled', () => stream.onCancelled());
      call.on('close', () => stream.onCancelled());
      call.on('error', () => stream.onCancelled());
    };
  }
  return handlers;
}
