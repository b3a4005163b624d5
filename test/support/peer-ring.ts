/**
 * An actor class for deadlock tests: two actors given each other as peers, each running one call at
 * a time, and a `ping` of depth 2 or more waits inside a call for a call that queues behind it.
 */
import * as tsray from '../../node/index.js';

/** What is called through a peer's handle (the class's own type nests without end). */
export interface Pinged {
  ping(depth: number): Promise<number>;
}

/** Calls its peer with one depth less and waits for the answer, inside the call. */
export class Peer {
  peer: tsray.ActorHandle<Pinged> | undefined;
  setPeer(peer: tsray.ActorHandle<Pinged>): boolean {
    this.peer = peer;
    return true;
  }
  async ping(depth: number): Promise<number> {
    if (depth === 0 || this.peer === undefined) return depth;
    return await tsray.get(this.peer.ping.remote(depth - 1));
  }
}
