/**
 * The object store across real worker threads: one worker writes 64 MiB into the store, another
 * reads it without copying (its view's buffer is the shared buffer itself, and a byte the main
 * thread writes afterwards shows through), a too-large write fails in the worker with
 * ObjectStoreFull, and a dead worker's pins are returned.
 *
 * This file is both the test (main thread) and the workers' code (worker threads), so that the
 * worker side is compiled and type-checked with it.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ObjectArena } from '../../../node/store/arena.js';
import { ObjectStore, ObjectStoreFull } from '../../../node/store/object-store.js';
import { ObjectStoreClient } from '../../../node/store/object-store-client.js';
import { isObjectStoreRequest, ObjectStoreServer } from '../../../node/store/object-store-rpc.js';

const mib = 1024 * 1024;
const objectBytes = 64 * mib;

/** Commands the test sends to a worker; each answers with `{ done: command, ... }`. */
type Command =
  | { readonly command: 'write'; readonly objectId: string; readonly sizeBytes: number }
  | { readonly command: 'read'; readonly objectId: string }
  | { readonly command: 'peek'; readonly index: number }
  | { readonly command: 'release' }
  | { readonly command: 'forget' };

type Answer = { readonly done: Command['command'] } & Record<string, unknown>;

function runWorker(): void {
  const port = parentPort;
  if (port === null) throw new Error('the worker side needs a parent port');
  const client = new ObjectStoreClient((workerData as { buffer: SharedArrayBuffer }).buffer, (request) => port.postMessage(request));
  let held: Float64Array | undefined;
  const answer = async (command: Command): Promise<Answer> => {
    switch (command.command) {
      case 'write': {
        try {
          const bytes = await client.create(command.objectId, command.sizeBytes);
          const doubles = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
          for (let index = 0; index < doubles.length; index += 1) doubles[index] = index * 0.5;
          await client.seal(command.objectId, { type: 'Float64Array', length: doubles.length });
          return { done: 'write', offset: bytes.byteOffset };
        } catch (error) {
          return { done: 'write', errorName: (error as Error).name, isFull: error instanceof ObjectStoreFull, message: (error as Error).message };
        }
      }
      case 'read': {
        const read = await client.read(command.objectId, (buffer, entry) => new Float64Array(buffer, entry.offset, entry.sizeBytes / 8));
        if (read === undefined) return { done: 'read', found: false };
        held = read.view;
        let intact = true;
        for (let index = 0; index < held.length; index += 1) if (held[index] !== index * 0.5) intact = false;
        return { done: 'read', found: true, intact, sameBuffer: held.buffer === client.buffer, metadata: read.metadata, offset: held.byteOffset };
      }
      case 'peek':
        return { done: 'peek', value: held?.[command.index] };
      case 'release':
        if (held !== undefined) await client.release(held);
        held = undefined;
        return { done: 'release' };
      case 'forget':
        // Drops the view without releasing it, then collects until its finalizer has sent the unpin.
        held = undefined;
        setFlagsFromString('--expose-gc');
        for (let round = 0; round < 10; round += 1) {
          (runInNewContext('gc') as () => void)();
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        return { done: 'forget' };
    }
  };
  port.on('message', (message: unknown) => {
    if (client.handleReply(message)) return;
    void answer(message as Command).then((reply) => port.postMessage(reply));
  });
}

/** A worker wired to the store's server, with a way to send it a command and await the answer. */
class TestWorker {
  readonly worker: Worker;
  private readonly waiting: ((answer: Answer) => void)[] = [];

  constructor(
    readonly clientId: string,
    store: ObjectStore,
    server: ObjectStoreServer,
  ) {
    this.worker = new Worker(new URL(import.meta.url), { workerData: { buffer: store.buffer } });
    this.worker.on('message', (message: unknown) => {
      if (isObjectStoreRequest(message)) this.worker.postMessage(server.handle(clientId, message));
      else this.waiting.shift()?.(message as Answer);
    });
  }

  ask(command: Command): Promise<Answer> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.worker.postMessage(command);
    });
  }
}

function runTests(): void {
  const store = new ObjectStore(new ObjectArena({ capacityBytes: 96 * mib, prefault: 'eager' }));
  const server = new ObjectStoreServer(store);
  const writer = new TestWorker('writer', store, server);
  const reader = new TestWorker('reader', store, server);

  after(async () => {
    await writer.worker.terminate();
    await reader.worker.terminate();
  });

  void test('a worker writes 64 MiB and another reads it in place, without a copy', async () => {
    const written = await writer.ask({ command: 'write', objectId: 'big', sizeBytes: objectBytes });
    assert.equal(typeof written.offset, 'number');
    assert.deepEqual(store.get('big'), { offset: written.offset, sizeBytes: objectBytes, metadata: { type: 'Float64Array', length: objectBytes / 8 } });
    const read = await reader.ask({ command: 'read', objectId: 'big' });
    assert.deepEqual(read, { done: 'read', found: true, intact: true, sameBuffer: true, metadata: { type: 'Float64Array', length: objectBytes / 8 }, offset: written.offset });
    // A byte written now, after the reader built its view, shows through that view: no copy.
    new Float64Array(store.buffer, written.offset as number, objectBytes / 8)[12345] = -1;
    assert.deepEqual(await reader.ask({ command: 'peek', index: 12345 }), { done: 'peek', value: -1 });
  });

  void test('the reader pin keeps a deleted object until released', async () => {
    assert.equal(store.delete('big'), true);
    assert.equal(store.usedBytes, objectBytes);
    await reader.ask({ command: 'release' });
    assert.equal(store.usedBytes, 0);
  });

  void test('a view collected without release ends its pin', async () => {
    await writer.ask({ command: 'write', objectId: 'dropped', sizeBytes: mib });
    await reader.ask({ command: 'read', objectId: 'dropped' });
    store.delete('dropped');
    assert.equal(store.usedBytes, mib);
    await reader.ask({ command: 'forget' });
    assert.equal(store.usedBytes, 0);
  });

  void test('a write that cannot fit fails in the worker with ObjectStoreFull and its sizes', async () => {
    await writer.ask({ command: 'write', objectId: 'first', sizeBytes: objectBytes });
    const failed = await writer.ask({ command: 'write', objectId: 'second', sizeBytes: objectBytes });
    assert.deepEqual(failed, {
      done: 'write',
      errorName: 'ObjectStoreFullError',
      isFull: true,
      message: `need ${objectBytes} bytes, ${objectBytes} of ${96 * mib} in use; free objects or raise objectStoreMemory`,
    });
    assert.equal(store.objectCount, 1);
  });

  void test('when a reader dies, dropping it as a client returns its pins', async () => {
    await reader.ask({ command: 'read', objectId: 'first' });
    store.delete('first');
    assert.equal(store.usedBytes, objectBytes);
    await reader.worker.terminate();
    server.dropClient(reader.clientId);
    assert.equal(store.usedBytes, 0);
  });
}

// Last, so that the class above is initialized before either side runs.
if (isMainThread) runTests();
else runWorker();
