/**
 * The cluster transport (issue 10, item 3): token-authenticated TCP carrying the component messages
 * of core/protocol.ts, addressed by component address, as length-prefixed msgpack frames with
 * per-turn write coalescing, bounded frames and bounded per-peer queues with backpressure. A
 * message's large binary `bytes` (an object's chunk) go as a raw frame beside their msgpack header,
 * and the receiver's `landRaw` says where they land (frames.ts, frame-reader.ts).
 *
 * How a cluster uses it (see router-port.test.ts for both sides running):
 * - the head listens: `TransportServer.listen({ token, identity: { nodeId, role: 'gcs' }, host, port,
 *   onPeer, onMessages })`; `onPeer` routes the peer's component addresses to `routerPort(peer)`, and
 *   `onMessages` hands each message to the head's router with `router.forward(message, message.to)`;
 * - a node or driver connects: `TransportClient.connect({ host, port, token, identity, onMessages })`
 *   and routes the head's addresses (`gcs`) to `routerPort(client)`; the client reconnects by itself;
 * - the token comes from `generateClusterToken()` and `writeTokenFile()` at `start --head`, and
 *   `readTokenFile()` or `--token` elsewhere.
 */
export { TransportClient, defaultReconnectPolicy } from './client.js';
export type { ClientOptions, ReconnectPolicy } from './client.js';
export { ClusterRefusedError, ClusterUnreachableError, FrameTooLargeError, QueueLimitError } from './errors.js';
export type { CloseInfo, CloseInitiator, ConnectionStats } from './framed-socket.js';
export { FrameReader, frameHeaderBytes, frameOf } from './frame-reader.js';
export type { RawLanding } from './frame-reader.js';
export { checkFrame, decodeFrame, encodeFrame, encodeFrameBody, encodeRawFrame, isRawPart, minRawBytes, protocolVersion } from './frames.js';
export type { Frame, PeerIdentity, PeerRole, RawFrame, RoutedMessage } from './frames.js';
export { defaultTransportLimits, maxHandshakeFrameBytes, resolveLimits } from './limits.js';
export type { TransportLimits } from './limits.js';
export type { TransportLog } from './log.js';
export { encodeMessageFrames } from './message-frames.js';
export { Peer } from './peer.js';
export type { PeerHandlers } from './peer.js';
export { TransportServer } from './server.js';
export type { ServerOptions, ServerStats } from './server.js';
export { generateClusterToken, readTokenFile, tokenProblem, tokensMatch, writeTokenFile } from './token.js';
export { routerPort } from './router-port.js';
export type { MessageLink } from './router-port.js';
