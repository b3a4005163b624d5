/**
 * A cluster node's side of moving objects between processes (object-transfer.ts does the chunks):
 *
 * - As a holder, it serves chunks of the objects in its store at `objects:<node>`, and remembers
 *   which nodes copied each, so that freeing the object here frees those copies too (Ray's owner
 *   frees every location; here the primary copy's node tells the secondary ones).
 * - As a reader's node, it turns an `object/fetched` that names bytes in another process (a
 *   RemoteStoredData) into one that names a copy in this node's store: pulled once, recorded by the
 *   raylet (`object/copy-stored`, so its bytes are counted and freed like any object's), and reused
 *   for every later reader here.
 * - For a put whose bytes are in another process (a driver connected over TCP), it pulls them into
 *   the store before the raylet sees the put.
 * - With a driver on this host, objects go through the node's handoff folder instead of chunks
 *   (shm-handoff.ts): the node reads a driver's put from its file into the store, and stages an
 *   object a driver reads in a file of its own.
 */
import type { Address, NodeId, ObjectId } from '../../core/ids.js';
import { ownerOfObject, rayletAddress } from '../../core/ids.js';
import type { Delivered, Message, MessageOf } from '../../core/protocol.js';
import type { RayletEvent, RayletState } from '../../core/raylet/index.js';
import type { NodeStore } from '../runtime/node-store.js';
import type { Router } from '../runtime/router.js';
import type { ForeignStoredData, MappedData, RemoteStoredData, StoredData, StoredLayout } from '../runtime/stored-values.js';
import { pinWhileReachable } from '../store/reader-pins.js';
import type { ShmHandoff } from '../store/shm-handoff.js';
import { formatBytes } from '../transport/limits.js';
import { nodeOfAddress } from './node-routing.js';
import { ObjectPuller, TransferError, layoutBytes, objectsAddress, serveChunk } from './object-transfer.js';
import { readSpilledRange } from '../store/spill-space.js';
import type { TransferOptions } from './object-transfer.js';

type Fetched = Delivered<MessageOf<'object/fetched'>>;
type RemoteFetched = Fetched & { readonly data: RemoteStoredData };

/** What a node's transfers need of it. */
export interface NodeObjectsHost {
  readonly nodeId: NodeId;
  readonly router: Router;
  readonly nodeStore: NodeStore;
  rayletState(): RayletState;
  applyRaylet(event: RayletEvent): void;
  /** The folder shared with the drivers on this host, if the node made one. */
  readonly handoff?: ShmHandoff;
  /**
   * Whether the chunks of node `nodeId`'s objects come over a connection straight from it (the head's,
   * or a direct link made now if need be, peer-links.ts); false (or absent): they are relayed by the head.
   */
  directLink?(nodeId: NodeId): Promise<boolean>;
}

/** One node's object transfers. */
export class NodeObjects {
  readonly address: Address;
  readonly puller: ObjectPuller;
  /** The nodes that copied each object of this store, so that its free reaches them. */
  private readonly copiesAt = new Map<ObjectId, Set<NodeId>>();
  /** The copies this node made of other nodes' objects (for the log line when each is freed). */
  private readonly copies = new Set<ObjectId>();
  /** The readers waiting for a copy under way, by object. */
  private readonly waiting = new Map<ObjectId, { readonly message: RemoteFetched; readonly to: Address }[]>();
  /** Drivers' puts being read from the handoff folder, by object (a put delivered twice joins the first). */
  private readonly taking = new Map<ObjectId, Promise<StoredData>>();
  /** Numbers the files staged for drivers, so that no two are alike. */
  private stagedCount = 0;
  /** The drivers already told that the handoff folder was full (said once each). */
  private readonly toldFull = new Set<string>();

  constructor(
    private readonly host: NodeObjectsHost,
    options: Partial<TransferOptions> = {},
  ) {
    this.address = objectsAddress(host.nodeId);
    this.puller = new ObjectPuller(this.address, (to, message) => host.router.send(this.address, 0, to, message), options);
    host.router.addLocal(this.address, (message) => this.onMessage(message));
  }

  /** A message for this node's transfer address: a chunk to serve, or one of a pull under way (nothing else is sent here). */
  private onMessage(message: Delivered<Message>): void {
    if (message.type === 'object/chunk-requested') this.serve(message);
    else if (message.type === 'object/chunk-sent' || message.type === 'object/chunk-failed') this.puller.onReply(message);
  }

  private serve(request: MessageOf<'object/chunk-requested'>): void {
    const store = this.host.nodeStore.store;
    const entry = store.get(request.objectId);
    const reply = serveChunk(request, () => {
      if (entry === undefined) {
        // A spilled object is served from its file, one chunk read at a time.
        const spilled = this.host.nodeStore.spill?.get(request.objectId);
        return spilled === undefined ? undefined : { byteLength: spilled.totalBytes, read: (offset: number, lengthBytes: number) => readSpilledRange(spilled, offset, lengthBytes) };
      }
      const layout = entry.metadata as StoredLayout;
      return new Uint8Array(store.buffer, entry.offset, layoutBytes({ offset: 0, body: layout.body, blobs: layout.blobs }));
    });
    // The chunk is a view of the store, encoded when the router sends it: the pin keeps the object's
    // memory from reuse until the view is collected, even if the object is freed meanwhile.
    if (reply.type === 'object/chunk-sent' && entry !== undefined) pinWhileReachable(reply.bytes as Uint8Array, store.buffer, entry.offset);
    if (reply.type === 'object/chunk-sent' && request.offset === 0) {
      const copier = request.requester.startsWith('objects:') ? nodeOfAddress(request.requester) : undefined;
      if (copier !== undefined && copier !== this.host.nodeId) {
        let nodes = this.copiesAt.get(request.objectId);
        if (nodes === undefined) this.copiesAt.set(request.objectId, (nodes = new Set()));
        nodes.add(copier);
      }
    }
    this.host.router.send(this.address, 0, request.requester, reply);
  }

  /** Objects of this store were deleted: the copies other nodes took of them go too. */
  onDeleted(objectIds: readonly ObjectId[]): void {
    const byNode = new Map<NodeId, ObjectId[]>();
    for (const objectId of objectIds) {
      if (this.copies.delete(objectId)) process.stderr.write(`tsray: node ${this.host.nodeId} freed its copy of object ${objectId}\n`);
      const nodes = this.copiesAt.get(objectId);
      if (nodes === undefined) continue;
      this.copiesAt.delete(objectId);
      for (const nodeId of nodes) {
        const list = byNode.get(nodeId) ?? [];
        list.push(objectId);
        byNode.set(nodeId, list);
      }
    }
    for (const [nodeId, ids] of byNode) this.host.router.send(this.address, 0, rayletAddress(nodeId), { type: 'object/free-requested', objectIds: ids });
  }

  /**
   * An `object/fetched` for a reader of this node names bytes in another process: hands the reader
   * this node's copy, pulling it first unless it is here already.
   */
  onRemoteFetched(message: RemoteFetched, to: Address): void {
    const { objectId } = message;
    const local = this.localCopy(objectId);
    if (local !== undefined) {
      this.host.router.forward({ ...message, data: local }, to);
      return;
    }
    const waiters = this.waiting.get(objectId);
    if (waiters !== undefined) {
      waiters.push({ message, to });
      return;
    }
    const state = this.host.rayletState();
    const capacity = state.config.objectStoreCapacityBytes;
    if (state.usedBytes + message.sizeBytes > capacity) {
      this.refuse([{ message, to }], `object ${objectId} (${formatBytes(message.sizeBytes)}) is on node ${message.data.nodeId}, and the object store of node ${this.host.nodeId} has no room for a copy (${state.usedBytes} of ${capacity} bytes in use; objectStoreMemory); free objects on this node or read it on node ${message.data.nodeId}`);
      return;
    }
    this.waiting.set(objectId, [{ message, to }]);
    void this.copy(message).then(
      (data) => this.settle(objectId, (waiter) => this.host.router.forward({ ...waiter.message, data }, waiter.to)),
      (error: unknown) => {
        const failure = error instanceof Error ? error : new Error(String(error));
        if (failure instanceof TransferError && failure.gone) {
          // The holder lost it: the reader's owner learns as from a raylet without it, and rebuilds or asks again.
          this.settle(objectId, (waiter) => this.host.router.send(this.address, 0, waiter.to, { type: 'object/fetch-failed', objectId, nodeId: message.data.nodeId }));
          return;
        }
        this.refuse(this.take(objectId), failure.message);
      },
    );
  }

  /** Whether the raylet counts room in this store for a copy of `sizeBytes` now. */
  hasRoomFor(sizeBytes: number): boolean {
    const state = this.host.rayletState();
    return state.usedBytes + sizeBytes <= state.config.objectStoreCapacityBytes;
  }

  /**
   * A put whose bytes are in another process: pulls them into the store and hands back the local
   * descriptor, or the reason it could not.
   */
  async pullPut(objectId: ObjectId, data: RemoteStoredData): Promise<StoredData> {
    return (await this.pullInto(objectId, data)).data;
  }

  /**
   * A driver on this host put a value into the handoff folder: reads it into the store (one copy)
   * and removes its file; resolves with the stored descriptor, or rejects with why it could not.
   */
  takeMapped(objectId: ObjectId, data: MappedData): Promise<StoredData> {
    const joined = this.taking.get(objectId);
    if (joined !== undefined) return joined;
    const taking = this.readMapped(objectId, data).finally(() => {
      this.taking.delete(objectId);
      this.host.handoff?.remove(data.file);
    });
    this.taking.set(objectId, taking);
    return taking;
  }

  private async readMapped(objectId: ObjectId, data: MappedData): Promise<StoredData> {
    const folder = this.host.handoff;
    if (folder === undefined) throw new Error(`a put of object ${objectId} names a file of a shared mapping that node ${this.host.nodeId} does not have`);
    const store = this.host.nodeStore;
    const present = store.store.get(objectId);
    if (present !== undefined) return { storedObjectId: objectId, layout: present.metadata as StoredLayout };
    if (!Number.isSafeInteger(data.totalBytes) || layoutBytes({ offset: 0, body: data.layout.body, blobs: data.layout.blobs }) !== Math.max(data.totalBytes, 1)) {
      throw new Error(`the put of object ${objectId} describes ${String(data.totalBytes)} bytes that its layout does not span`);
    }
    const offset = await store.reserve(objectId, data.totalBytes);
    if (offset === undefined) {
      throw new Error(`the object store of node ${this.host.nodeId} is full: ${formatBytes(data.totalBytes)} for object ${objectId} do not fit (${store.store.usedBytes} of ${store.store.capacityBytes} bytes in use; objectStoreMemory)`);
    }
    try {
      // Off the main thread: the reservation is no reader's until it is sealed.
      await folder.readIntoAsync(data.file, new Uint8Array(store.store.buffer, offset, data.totalBytes));
    } catch (error) {
      if (store.store.get(objectId) === undefined) store.store.delete(objectId);
      throw new Error(`the put of object ${objectId} could not be read from the shared mapping: ${(error as Error).message}`);
    }
    return store.seal(objectId, offset, data.layout);
  }

  /**
   * Stages an object of this store in the handoff folder for driver `driverKey` on this host (one
   * copy out of the store, off the main thread) and resolves with what the driver reads it by.
   * Undefined, at once or once the copy failed, when it cannot (the object is gone, or the folder is
   * full: said once per driver in the node's log), so it goes over TCP.
   */
  stageFor(driverKey: string, objectId: ObjectId, data: StoredData): Promise<MappedData | undefined> | undefined {
    const folder = this.host.handoff;
    const store = this.host.nodeStore.store;
    const entry = store.get(objectId);
    if (folder === undefined || entry === undefined || entry.offset !== data.layout.offset) return undefined;
    const layout: StoredLayout = { offset: 0, body: data.layout.body, blobs: data.layout.blobs };
    const totalBytes = layoutBytes(layout);
    const file = `g-${driverKey}-${objectId}-${++this.stagedCount}`;
    const source = new Uint8Array(store.buffer, entry.offset, totalBytes);
    // The copy runs after this turn: the pin keeps the object's memory from reuse while the view is
    // reachable, even if the object is freed meanwhile.
    pinWhileReachable(source, store.buffer, entry.offset);
    const said = (error: unknown): undefined => {
      if (!this.toldFull.has(driverKey)) {
        this.toldFull.add(driverKey);
        process.stderr.write(`tsray: node ${this.host.nodeId} sends object ${objectId} to driver ${driverKey} over TCP: ${(error as Error).message}\n`);
      }
      return undefined;
    };
    try {
      return folder.writeAsync(file, totalBytes, [{ at: 0, bytes: source }]).then(() => ({ mappedObjectId: objectId, file, totalBytes, layout }), said);
    } catch (error) {
      return said(error);
    }
  }

  /** The node `nodeId` died: the copies this node was pulling from it fail as gone (their readers' owners rebuild them). */
  onNodeDied(nodeId: NodeId): void {
    this.puller.abandonNode(nodeId);
  }

  /** The direct link to node `nodeId` broke: its pulls start again, through the head. */
  onLinkLost(nodeId: NodeId, reason: string): void {
    this.puller.retryFrom(nodeId, `the direct link to node ${nodeId} broke (${reason}); pulling through the head`);
  }

  /** Stops the pulls under way. */
  close(): void {
    this.puller.close();
  }

  /** This node's copy of `objectId`, if its store and raylet both hold it. */
  private localCopy(objectId: ObjectId): StoredData | undefined {
    const entry = this.host.nodeStore.store.get(objectId);
    if (entry === undefined || this.host.rayletState().objects[objectId] === undefined) return undefined;
    return { storedObjectId: objectId, layout: entry.metadata as StoredLayout };
  }

  /** Pulls the object into the store and has the raylet record the copy. */
  private async copy(message: RemoteFetched): Promise<StoredData> {
    const { objectId, data: remote } = message;
    const startedMs = performance.now();
    const { data, direct } = await this.pullInto(objectId, remote);
    this.host.applyRaylet({ type: 'object/copy-stored', objectId, owner: ownerOfObject(objectId), fromNodeId: remote.nodeId, data, sizeBytes: message.sizeBytes, refs: message.refs });
    if (this.host.rayletState().objects[objectId] === undefined) {
      this.host.nodeStore.delete([objectId]);
      throw new Error(`object ${objectId} was copied from node ${remote.nodeId} but node ${this.host.nodeId}'s raylet could not keep it (its owner died, or its store filled up meanwhile; objectStoreMemory)`);
    }
    this.copies.add(objectId);
    const way = direct ? 'directly' : 'through the head';
    process.stderr.write(`tsray: node ${this.host.nodeId} copied object ${objectId} (${formatBytes(remote.totalBytes)}) from node ${remote.nodeId} ${way} in ${(performance.now() - startedMs).toFixed(0)} ms\n`);
    return data;
  }

  /** Pulls the object into the store (over a direct link to its node when there can be one); whether it came directly. */
  private async pullInto(objectId: ObjectId, remote: RemoteStoredData): Promise<{ readonly data: StoredData; readonly direct: boolean }> {
    const store = this.host.nodeStore;
    const direct = (await this.host.directLink?.(remote.nodeId)) ?? false;
    let offset: number | undefined;
    try {
      await this.puller.pull({ objectId, holder: remote.holder, nodeId: remote.nodeId, totalBytes: remote.totalBytes }, async () => {
        offset = await store.reserve(objectId, remote.totalBytes);
        if (offset === undefined) {
          throw new Error(`the object store of node ${this.host.nodeId} is full: ${formatBytes(remote.totalBytes)} for object ${objectId} do not fit (${store.store.usedBytes} of ${store.store.capacityBytes} bytes in use; objectStoreMemory)`);
        }
        return new Uint8Array(store.store.buffer, offset, remote.totalBytes);
      });
    } catch (error) {
      if (offset !== undefined && store.store.get(objectId) === undefined) store.store.delete(objectId);
      throw error;
    }
    // A second put of the same object (delivered twice) joined this pull: the first to get here seals it.
    const sealed = store.store.get(objectId);
    if (sealed !== undefined) return { data: { storedObjectId: objectId, layout: sealed.metadata as StoredLayout }, direct };
    return { data: store.seal(objectId, offset ?? 0, remote.layout), direct };
  }

  private take(objectId: ObjectId): { readonly message: RemoteFetched; readonly to: Address }[] {
    const waiters = this.waiting.get(objectId) ?? [];
    this.waiting.delete(objectId);
    return waiters;
  }

  private settle(objectId: ObjectId, each: (waiter: { readonly message: RemoteFetched; readonly to: Address }) => void): void {
    for (const waiter of this.take(objectId)) each(waiter);
  }

  /** The readers get a value that fails with `reason` when read. */
  private refuse(waiters: readonly { readonly message: RemoteFetched; readonly to: Address }[], reason: string): void {
    process.stderr.write(`tsray: ${reason}\n`);
    for (const { message, to } of waiters) {
      const data: ForeignStoredData = { foreignObjectId: message.objectId, nodeId: message.data.nodeId, reason };
      this.host.router.forward({ ...message, data }, to);
    }
  }
}
