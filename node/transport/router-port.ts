/**
 * The transport as a port of node/runtime/router.ts: `router.addRemote('raylet:n2', routerPort(peer))`
 * sends that address's messages over TCP, one batch per turn as the router already makes for worker
 * threads, and the receiving side hands each arrived message to its own router with
 * `router.forward(message, message.to)`. Messages keep the envelope the sending router stamped.
 */
import type { Port } from '../runtime/router.js';
import { isMessageBatch } from '../runtime/router.js';
import type { RoutedMessage } from './frames.js';

/** Anything that sends batches of routed messages: a Peer, or a TransportClient (which reconnects). */
export interface MessageLink {
  send(messages: readonly RoutedMessage[]): boolean;
}

/**
 * A router port over `link`. The router cannot take a send error in the middle of its flush, so a
 * bound that is reached (QueueLimitError, FrameTooLargeError) or a client that has given up goes to
 * `onError`, and that batch is not sent. The router has no way to wait, so this port ignores
 * backpressure: it suits control messages, while bulk data (object chunks) should go through the
 * link's own `send` and `whenWritable`.
 */
export function routerPort(link: MessageLink, onError: (error: Error) => void): Port {
  return {
    postMessage(value: unknown): void {
      if (!isMessageBatch(value)) return;
      try {
        // The router adds `to` to every message it batches for another port (router.ts `route`).
        link.send(value.messages as unknown as readonly RoutedMessage[]);
      } catch (error) {
        onError(error instanceof Error ? error : new Error(String(error)));
      }
    },
  };
}
