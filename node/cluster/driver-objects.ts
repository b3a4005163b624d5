/**
 * Large values of a driver connected over TCP, which has no node store in its process: its puts
 * leave as descriptors of bytes it keeps until the head's node has pulled them into its store (the
 * put is acknowledged or rejected), and a stored value it reads is pulled into its own memory first
 * (object-transfer.ts does the chunks both ways). The bytes cross the connection once each way; the
 * driver does not map its node's store.
 */
import type { Address, ObjectId } from '../../core/ids.js';
import type { Delivered, Message, MessageOf } from '../../core/protocol.js';
import type { Port, Router } from '../runtime/router.js';
import { isMessageBatch } from '../runtime/router.js';
import { flattenValue, isRemoteStoredData } from '../runtime/stored-values.js';
import type { ForeignStoredData, PulledData, RemoteStoredData } from '../runtime/stored-values.js';
import { holdPulledBytes, releasePulledBytes } from '../runtime/values.js';
import type { EncodedData } from '../runtime/values.js';
import type { RawLanding, RoutedMessage } from '../transport/index.js';
import { ObjectPuller, TransferError, serveChunk } from './object-transfer.js';
import type { TransferOptions } from './object-transfer.js';

/** Whether core data is an encoded value's bytes (not a descriptor). */
function isEncodedData(data: unknown): data is EncodedData {
  return typeof data === 'object' && data !== null && (data as { body?: unknown }).body instanceof Uint8Array && Array.isArray((data as { blobs?: unknown }).blobs);
}

/** How many messages from the cluster may pass between sweeps of the pulled values (a pull sweeps too). */
const sweepEveryMessages = 256;

/** A driver's object transfers. */
export class DriverObjects {
  readonly puller: ObjectPuller;
  /** The bytes of puts not yet in the node's store, by object. */
  private readonly held = new Map<ObjectId, Uint8Array>();

  constructor(
    /** The driver's address: its chunks are served and received there. */
    private readonly address: Address,
    /** The driver's router: upstream to the cluster, locally to its owner component. */
    private readonly router: Router,
    options: Partial<TransferOptions> = {},
  ) {
    this.puller = new ObjectPuller(address, (to, message) => this.send(to, message), options);
  }

  private send(to: Address, message: Message): void {
    this.router.send(this.address, 0, to, message);
  }

  private forward(message: Delivered<Message>, to: Address): void {
    this.router.forward(message, to);
  }

  /** How many puts' bytes wait to be pulled. */
  get heldCount(): number {
    return this.held.size;
  }

  /** The port to the cluster, with each put's bytes kept here and a descriptor sent in their place. */
  outbound(port: Port): Port {
    return {
      postMessage: (value: unknown): void => {
        if (!isMessageBatch(value)) {
          port.postMessage(value);
          return;
        }
        const messages = value.messages.map((message) => {
          if (message.type !== 'object/put-requested' || !isEncodedData(message.data)) return message;
          const { bytes, layout } = flattenValue(message.data);
          this.held.set(message.objectId, bytes);
          const data: RemoteStoredData = { remoteObjectId: message.objectId, nodeId: `driver ${this.address}`, holder: this.address, totalBytes: bytes.byteLength, layout };
          return { ...message, data };
        });
        port.postMessage({ ...value, messages });
      },
    };
  }

  /** Where the raw bytes of a chunk for this driver's pulls land: in the pull's target (ObjectPuller.landingFor). */
  landRaw(message: RoutedMessage, lengthBytes: number): RawLanding | undefined {
    return message.to === this.address ? this.puller.landingFor(message, lengthBytes) : undefined;
  }

  /** Messages handled since pulled values were last swept. */
  private messagesSinceSweep = 0;

  /** Whether the driver's owner still keeps a fetched value (set once the owner exists). */
  stillHeld: ((objectId: ObjectId) => boolean) | undefined;

  /** A message from the cluster for this driver: transfer messages are handled here, the rest go on. */
  onMessage(message: Delivered<Message>, to: Address): void {
    // A sweep walks every pulled value, so it runs every so many messages, not at each one.
    if (++this.messagesSinceSweep >= sweepEveryMessages) this.releaseUnheld();
    if (message.type === 'object/chunk-requested') this.send(message.requester, serveChunk(message, (objectId) => this.held.get(objectId)));
    else if (message.type === 'object/chunk-sent' || message.type === 'object/chunk-failed') this.puller.onReply(message);
    else if (message.type === 'object/fetched' && isRemoteStoredData(message.data)) this.pullFetched({ ...message, data: message.data }, to);
    else {
      // Pulls from a dead node end now; the owner hears of the death itself just after.
      if (message.type === 'node/died') this.puller.abandonNode(message.nodeId);
      // The put's bytes are in the node's store now (or never will be): this copy is no longer needed.
      if (message.type === 'object/put-acked' || message.type === 'object/put-rejected') this.held.delete(message.objectId);
      this.forward(message, to);
    }
  }

  /** Pulls a stored value into this process's memory, then hands the owner its parts. */
  private pullFetched(message: Delivered<MessageOf<'object/fetched'>> & { readonly data: RemoteStoredData }, to: Address): void {
    const remote = message.data;
    this.puller.pull({ objectId: message.objectId, holder: remote.holder, nodeId: remote.nodeId, totalBytes: remote.totalBytes }, () => Promise.resolve(new Uint8Array(remote.totalBytes))).then(
      (bytes) => {
        // The owner's state and log keep a descriptor; the bytes stay in this process's memory.
        this.releaseUnheld();
        holdPulledBytes(message.objectId, bytes);
        const data: PulledData = { pulledObjectId: message.objectId, layout: remote.layout };
        this.forward({ ...message, data }, to);
      },
      (error: unknown) => {
        if (error instanceof TransferError && error.gone) {
          // The holder lost it: the owner learns as from a raylet without it, and rebuilds or asks again.
          this.router.send(`objects:${this.address}`, 0, to, { type: 'object/fetch-failed', objectId: message.objectId, nodeId: remote.nodeId });
          return;
        }
        const reason = error instanceof Error ? error.message : String(error);
        process.stderr.write(`tsray: ${reason}\n`);
        const data: ForeignStoredData = { foreignObjectId: message.objectId, nodeId: remote.nodeId, reason };
        this.forward({ ...message, data }, to);
      },
    );
  }

  /** Drops the pulled values the owner no longer keeps (checked at each pull and every sweepEveryMessages messages). */
  private releaseUnheld(): void {
    this.messagesSinceSweep = 0;
    if (this.stillHeld !== undefined) releasePulledBytes(this.stillHeld);
  }

  /** Stops the pulls under way, and lets go of the pulled values. */
  close(): void {
    this.puller.close();
    releasePulledBytes(() => false);
  }
}
