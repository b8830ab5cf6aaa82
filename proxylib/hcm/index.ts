// The HTTP connection manager's protocol-independent part: the per-request decision (path
// normalization → HTTP RBAC → route) and local replies (mappers, the gRPC trailers-only mapping).
export type { HeaderList, HttpRequestHead, DownstreamFacts, RequestDecision, DecideRequest } from './types.js';
export { decideRequest } from './decide-request.js';
export {
  LOCAL_REPLY_BODY,
  GRPC_STATUS,
  mapLocalReply,
  upstreamPickFailureReply,
  grpcStatusOfHttpStatus,
  grpcLocalReplyHeaders,
  encodeGrpcMessage,
  isGrpcContentType,
  type MappedLocalReply,
} from './local-reply.js';
