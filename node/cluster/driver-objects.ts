/**
 * Large values of a driver connected to a cluster, which has no node store in its process.
 *
 * On its node's host, they go through the node's handoff folder in /dev/shm (shm-handoff.ts): a
 * put is written there at the call (its capture) and the node takes it into its store; an object it
 * reads is staged there by the node and each get reads a copy, until the driver's owner lets go of
 * the object and the driver removes the file.
 *
 * Elsewhere (or with no folder), over TCP: its puts leave as descriptors of bytes it keeps until
 * the node has pulled them into its store (the put is acknowledged or rejected), and a stored value
 * it reads is pulled into its own memory first (object-transfer.ts does the chunks both ways).
 */
import type { Address, ObjectId } from '../../core/ids.js';
import type { Delivered, Message, MessageOf } from '../../core/protocol.js';
import type { Port, Router } from '../runtime/router.js';
import { isMessageBatch } from '../runtime/router.js';
import { ObjectStoreFullError } from '../errors.js';
import { flatLayout, flattenValue, isMappedData, isRemoteStoredData } from '../runtime/stored-values.js';
import type { ForeignStoredData, MappedData, PulledData, RemoteStoredData, StoredLayout } from '../runtime/stored-values.js';
import { holdPulledBytes, releasePulledBytes, setMappedReader } from '../runtime/values.js';
import type { EncodedData } from '../runtime/values.js';
import { HandoffFullError } from '../store/shm-handoff.js';
import type { ShmHandoff } from '../store/shm-handoff.js';
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
  /** The files of this driver's puts in the handoff folder, by object, until the node acknowledges them. */
  private readonly mappedPuts = new Map<ObjectId, string>();
  /** The files the node staged for this driver to read, with their object. */
  private readonly mappedReads = new Map<string, ObjectId>();

  constructor(
    /** The driver's address: its chunks are served and received there. */
    private readonly address: Address,
    /** The driver's router: upstream to the cluster, locally to its owner component. */
    private readonly router: Router,
    options: Partial<TransferOptions> = {},
    /** The node's handoff folder, when the node is on this host; with its name for this driver's files. */
    private handoff?: { readonly folder: ShmHandoff; readonly driverKey: string },
  ) {
    this.puller = new ObjectPuller(address, (to, message) => this.send(to, message), options);
    this.readThrough(handoff);
  }

  private readThrough(handoff: { readonly folder: ShmHandoff } | undefined): void {
    if (handoff === undefined) {
      setMappedReader(undefined);
      return;
    }
    setMappedReader((data) => {
      const bytes = new Uint8Array(data.totalBytes);
      handoff.folder.readInto(data.file, bytes);
      return bytes;
    });
  }

  /**
   * The driver reattached to a resumed head, whose node (and folder) is new: later puts and reads go
   * through that node's folder, or over TCP when it has none. The former head's files went with it;
   * the owner counts its node dead, so what only they held is rebuilt by lineage or lost.
   */
  reattach(handoff: { readonly folder: ShmHandoff; readonly driverKey: string } | undefined): void {
    if (this.handoff !== undefined) this.handoff.folder.close();
    this.mappedPuts.clear();
    this.mappedReads.clear();
    this.handoff = handoff;
    this.readThrough(handoff);
  }

  /** Whether large values go through the node's shared mapping. */
  get mapped(): boolean {
    return this.handoff !== undefined;
  }

  /**
   * Writes a large put into the node's handoff folder now (one copy of each part, which captures it)
   * and returns its descriptor; undefined when this driver has no folder (the put goes over TCP).
   * Throws ObjectStoreFullError naming the folder's bound when it is full even after this driver let
   * go of what its owner no longer holds.
   */
  putMapped(objectId: ObjectId, data: EncodedData): MappedData | undefined {
    if (this.handoff === undefined) return undefined;
    const { sizeBytes, layout } = flatLayout(data);
    const file = `p-${this.handoff.driverKey}-${objectId}`;
    const parts = [{ at: 0, bytes: data.body }, ...data.blobs.map((blob, index) => ({ at: layout.blobs[index]?.[0] ?? 0, bytes: new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength) }))];
    try {
      this.writeMapped(file, sizeBytes, parts);
    } catch (error) {
      if (error instanceof HandoffFullError) throw new ObjectStoreFullError(error.message);
      throw error;
    }
    this.mappedPuts.set(objectId, file);
    return { mappedObjectId: objectId, file, totalBytes: sizeBytes, layout };
  }

  private writeMapped(file: string, sizeBytes: number, parts: { at: number; bytes: Uint8Array }[]): void {
    const folder = this.handoff?.folder;
    if (folder === undefined) return;
    try {
      folder.write(file, sizeBytes, parts);
    } catch (error) {
      if (!(error instanceof HandoffFullError)) throw error;
      // Values the owner let go of may be all that fills it.
      this.releaseUnheld();
      folder.write(file, sizeBytes, parts);
    }
  }

  /**
   * Captures a large put at the call, in one copy: into the node's handoff folder when it has one
   * (`putMapped`), else laid out as the node will pull it, kept here until the node acknowledges it
   * and sent as a descriptor. The capture and the layout were two copies of the whole value (the
   * owner's capture, then the outbound port's flattening), each into memory never written before,
   * which costs 20 to 45 us a page on this machine's VM: 0.3 to 0.7 s apiece for 64 MiB.
   */
  putCaptured(objectId: ObjectId, data: EncodedData): MappedData | RemoteStoredData | undefined {
    if (this.handoff !== undefined) return this.putMapped(objectId, data);
    const { bytes, layout } = flattenValue(data);
    this.held.set(objectId, bytes);
    return this.heldDescriptor(objectId, bytes, layout);
  }

  /** Takes back a put captured by `putCaptured` whose put event then failed. */
  dropCapturedPut(objectId: ObjectId): void {
    this.held.delete(objectId);
    this.dropMappedPut(objectId);
  }

  /** The descriptor that a put's bytes held here travel as: the node pulls them from this driver. */
  private heldDescriptor(objectId: ObjectId, bytes: Uint8Array, layout: StoredLayout): RemoteStoredData {
    return { remoteObjectId: objectId, nodeId: `driver ${this.address}`, holder: this.address, totalBytes: bytes.byteLength, layout };
  }

  /** Takes back a put written by `putMapped` whose put event then failed. */
  dropMappedPut(objectId: ObjectId): void {
    const file = this.mappedPuts.get(objectId);
    if (file === undefined) return;
    this.mappedPuts.delete(objectId);
    this.handoff?.folder.remove(file);
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
        // What the owner sends may follow its letting go of a value read through the mapping.
        this.sweepMappedSoon();
        if (!isMessageBatch(value)) {
          port.postMessage(value);
          return;
        }
        const messages = value.messages.map((message) => {
          if (message.type !== 'object/put-requested' || !isEncodedData(message.data)) return message;
          const { bytes, layout } = flattenValue(message.data);
          this.held.set(message.objectId, bytes);
          return { ...message, data: this.heldDescriptor(message.objectId, bytes, layout) };
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
    this.sweepMappedSoon();
    // A sweep walks every pulled value, so it runs every so many messages, not at each one.
    if (++this.messagesSinceSweep >= sweepEveryMessages) this.releaseUnheld();
    if (message.type === 'object/chunk-requested') this.send(message.requester, serveChunk(message, (objectId) => this.held.get(objectId)));
    else if (message.type === 'object/chunk-sent' || message.type === 'object/chunk-failed') this.puller.onReply(message);
    else if (message.type === 'object/fetched' && isRemoteStoredData(message.data)) this.pullFetched({ ...message, data: message.data }, to);
    else {
      // A copy staged for this driver: its file is this driver's to remove once the owner lets go.
      if (message.type === 'object/fetched' && isMappedData(message.data)) {
        // As at each pull: the files of values the owner let go of go first, so the folder keeps room.
        this.releaseUnheld();
        this.mappedReads.set(message.data.file, message.objectId);
      }
      // Pulls from a dead node end now; the owner hears of the death itself just after.
      if (message.type === 'node/died') this.puller.abandonNode(message.nodeId);
      // The put's bytes are in the node's store now (or never will be): this copy is no longer needed.
      if (message.type === 'object/put-acked' || message.type === 'object/put-rejected') {
        this.held.delete(message.objectId);
        // The node removed the file once it read it; this covers a put it never got to.
        this.dropMappedPut(message.objectId);
      }
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
    const stillHeld = this.stillHeld;
    if (stillHeld === undefined) return;
    releasePulledBytes(stillHeld);
    this.releaseMapped();
  }

  /** Whether a sweep of the staged files is due at the end of this turn. */
  private mappedSweepQueued = false;

  /**
   * Removes the staged files of values the owner let go of, at the end of this turn (once, however
   * many messages pass in it): a file takes shared memory that the bound counts, so it goes soon,
   * and a sweep walks only the files staged for this driver, which are few.
   */
  private sweepMappedSoon(): void {
    if (this.mappedReads.size === 0 || this.mappedSweepQueued) return;
    this.mappedSweepQueued = true;
    setImmediate(() => {
      this.mappedSweepQueued = false;
      this.releaseMapped();
    });
  }

  private releaseMapped(): void {
    const stillHeld = this.stillHeld;
    if (stillHeld === undefined) return;
    for (const [file, objectId] of this.mappedReads) {
      if (stillHeld(objectId)) continue;
      this.mappedReads.delete(file);
      this.handoff?.folder.remove(file);
    }
  }

  /** Stops the pulls under way, and lets go of the pulled values and of this driver's files in the handoff folder. */
  close(): void {
    this.puller.close();
    releasePulledBytes(() => false);
    if (this.handoff !== undefined) {
      setMappedReader(undefined);
      this.handoff.folder.removeDriver(this.handoff.driverKey);
      this.mappedReads.clear();
      this.mappedPuts.clear();
    }
  }
}
