/**
 * The ids index with events gathered on demand (debugger/entity-index.ts) against the index it
 * replaced, which built every id's list of events as the pass went: the same ids, kinds and events,
 * however the pairs were batched, from one recorder or from several interleaved (as two workers'
 * batches arrive), and on a real trace replayed in one thread and in worker threads.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import * as E from 'fp-ts/lib/Either.js';
import { SeededRandom } from '../../../core/sim/index.js';
import { decodeTrace } from '../../../core/trace/decode.js';
import type { AnyEvent, ComponentCore } from '../../../core/component.js';
import { applyDirect } from '../../../core/step.js';
import { entitiesOf } from '../../../debugger/entities.js';
import type { EntityKind, EntityRef } from '../../../debugger/entities.js';
import { EntityIndex, EntityRecorder, entityKindBits } from '../../../debugger/entity-index.js';
import { ComponentsReplay } from '../../../debugger/replay-step.js';
import { defaultCores, loadTrace } from '../../../debugger/trace-index.js';
import type { TraceIndex } from '../../../debugger/trace-index.js';
import { searchMask } from '../../../debugger/view.js';
import { parallelReplayer } from '../../../node/trace/parallel-replay.js';
import { debugTraceText } from '../../support/debugger-traces.js';

/** The index as it used to be built: per id a set of kinds and a list of events, as each event came. */
function referenceIndex(named: readonly (readonly EntityRef[])[]): Map<string, { kinds: Set<EntityKind>; events: number[] }> {
  const entities = new Map<string, { kinds: Set<EntityKind>; events: number[] }>();
  named.forEach((refs, index) => {
    let last = '';
    for (const entity of refs) {
      if (entity.id === last) continue;
      last = entity.id;
      let known = entities.get(entity.id);
      if (known === undefined) {
        known = { kinds: new Set(), events: [] };
        entities.set(entity.id, known);
      }
      known.kinds.add(entity.kind);
      if (known.events[known.events.length - 1] !== index) known.events.push(index);
    }
  });
  return entities;
}

/** What an index says about every id, in a form to compare. */
function answers(index: ReadonlyMap<string, { readonly kinds: ReadonlySet<EntityKind>; readonly events: readonly number[] }>, ids: Iterable<string>): unknown[] {
  return [...ids].sort().map((id) => {
    const entry = index.get(id);
    return [id, entry === undefined ? undefined : [[...entry.kinds].sort(), [...entry.events]]];
  });
}

/** Random events naming ids from a small pool, with repeats inside an event and right after each other. */
function randomNames(random: SeededRandom, events: number): EntityRef[][] {
  const pool = Array.from({ length: 40 }, (_unused, id) => `id${id}`);
  return Array.from({ length: events }, () =>
    Array.from({ length: random.int(0, 6) }, () => ({ id: pool[random.int(0, pool.length - 1)] ?? '', kind: entityKindBits[random.int(0, entityKindBits.length - 1)] ?? 'task' })).flatMap((ref) => (random.int(0, 4) === 0 ? [ref, { ...ref, kind: 'owner' as const }] : [ref])),
  );
}

const folder = mkdtempSync(join(tmpdir(), 'tsray-entity-index-'));

void describe('entity index', () => {
  after(() => rmSync(folder, { recursive: true, force: true }));

  void test('gives the ids, kinds and events the list-per-id index gave, from interleaved batches of several recorders', () => {
    const random = new SeededRandom('entity-index');
    for (let round = 0; round < 20; round++) {
      const named = randomNames(random, 300);
      const expected = referenceIndex(named);
      const workers = random.int(1, 3);
      const recorders = Array.from({ length: workers }, () => new EntityRecorder());
      const index = new EntityIndex();
      const sources = recorders.map(() => index.source());
      // Each event goes to one recorder (its component's worker); batches are cut at random and
      // arrive in any order between the recorders, but in order for each.
      named.forEach((refs, event) => {
        const worker = event % workers;
        recorders[worker]?.add(refs, event);
        const flushing = random.int(0, workers - 1);
        const recorder = recorders[flushing];
        const source = sources[flushing];
        if (recorder !== undefined && source !== undefined && random.int(0, 9) === 0) index.addBatch(recorder.take(), source);
      });
      recorders.forEach((recorder, worker) => {
        const source = sources[worker];
        if (source !== undefined) index.addBatch(recorder.take(), source);
      });
      assert.equal(index.size, expected.size);
      assert.deepEqual(answers(index, expected.keys()), answers(expected, expected.keys()));
      // Iterating gives every id once, with the same answers as asking one at a time.
      const iterated = new Map(index);
      assert.equal(iterated.size, expected.size);
      assert.deepEqual(answers(iterated, expected.keys()), answers(expected, expected.keys()));
      assert.equal(index.get('never-named'), undefined);
      // Marking the events of the ids that match, in one walk, agrees with the lists.
      const mask = new Uint8Array(named.length);
      index.markEvents((id) => id.endsWith('1'), mask);
      const wanted = new Uint8Array(named.length);
      for (const [id, entry] of expected) if (id.endsWith('1')) for (const event of entry.events) wanted[event] = 1;
      assert.deepEqual(mask, wanted);
    }
  });

  void test('recording an event field by field gives the batch of adding its entitiesOf list', () => {
    const many = Array.from({ length: 40 }, (_unused, at) => `n1.d1.t${at % 25}.r0`);
    // Repeats within an event, an id of two kinds, empty ids, an effect that repeats the event's last
    // id (adds nothing) and an earlier one of another kind (adds the kind), more than 16 ids.
    const events: { event: unknown; address: string; effects: unknown[] }[] = [
      { event: { type: 'task/submitted', taskId: 'n1.d1.t1', objectIds: ['n1.d1.t1.r0', 'n1.d1.t1.r0'], nodeId: 'n1' }, address: 'raylet:n1', effects: [] },
      { event: { type: 'x', owner: 'n1.d1', workerId: 'n1.d1', leaseId: '', spec: { taskId: 'n1.d1.t2', actorId: 'n1.d1.a1' } }, address: 'worker:n1.d1', effects: [{ type: 'ids/minted', objectId: 'n1.d1', taskId: 'n1.d1.t9' }, { type: 'ids/minted', taskId: 'n1.d1.t2' }] },
      { event: { type: 'get/requested', objectIds: many, ready: many.slice(0, 30), taskId: 'n1.d1.t3' }, address: 'worker:n1.d1', effects: [{ type: 'ids/minted', objectIds: ['n1.d1.t3', 'n1.d1.t4'], taskId: 'n1.d1.t0.r0' }] },
      { event: { type: 'y', objectId: 'n1.w1', borrower: 'n1.w1' }, address: 'worker:n1.w1', effects: [] },
      { event: { type: 'z', data: { taskId: 'n9.d9.t9' }, nodeId: '' }, address: 'gcs', effects: [] },
    ];
    const byList = new EntityRecorder();
    const byField = new EntityRecorder();
    events.forEach(({ event, address, effects }, index) => {
      byList.add([...entitiesOf(event, address), ...effects.flatMap((effect) => entitiesOf(effect))], index);
      byField.addEvent(event, address.startsWith('worker:') ? { kind: 'worker', id: address.slice(7) } : address.startsWith('raylet:') ? { kind: 'node', id: address.slice(7) } : undefined, index);
      for (const effect of effects) byField.addMore(effect);
    });
    const expected = byList.take();
    assert.ok(expected.events.length > 30);
    assert.deepEqual(byField.take(), expected);
  });

  void test('an answer given before more pairs came is not reused after', () => {
    const recorder = new EntityRecorder();
    const index = new EntityIndex();
    const source = index.source();
    recorder.add([{ id: 'n1.d1.t1', kind: 'task' }], 0);
    index.addBatch(recorder.take(), source);
    assert.deepEqual(index.get('n1.d1.t1')?.events, [0]);
    recorder.add([{ id: 'n1.d1.t1', kind: 'task' }], 5);
    index.addBatch(recorder.take(), source);
    assert.deepEqual(index.get('n1.d1.t1')?.events, [0, 5]);
    index.clear();
    assert.equal(index.size, 0);
    assert.equal(index.get('n1.d1.t1'), undefined);
  });

  void test('on a real trace, in one thread and in worker threads, the ids are those of the events and the ids the owner minted', async () => {
    const text = debugTraceText();
    const decoded = decodeTrace(text);
    assert.ok(E.isRight(decoded));
    // The ids each event names, as the replay step finds them (its event's and its effects' minted ids).
    const addresses = [...new Set(decoded.right.entries.map((entry) => entry.address))];
    const components = addresses.map((address) => decoded.right.entries.find((entry) => entry.address === address)?.component ?? 'gcs');
    const replay = new ComponentsReplay(defaultCores, addresses, components, 1000, { snapshot: () => undefined, divergence: () => undefined });
    const states = new Map<string, unknown>();
    let lastSeq = 0;
    const named = decoded.right.entries.map((entry, index) => {
      const problem = replay.step(JSON.stringify(entry), lastSeq, addresses.indexOf(entry.address), entry.seq, entry.event.type, new EntityRecorder(), index);
      lastSeq = entry.seq;
      assert.equal(problem, undefined);
      // The reference: the event's ids and those its effects minted, applied here on states of its own.
      const core = defaultCores[entry.component] as ComponentCore<unknown, AnyEvent, unknown>;
      const state = states.get(entry.address) ?? core.initial();
      states.set(entry.address, state);
      const refs = entitiesOf(entry.event, entry.address);
      for (const effect of applyDirect(core, state, entry.event)) if ((effect as AnyEvent | undefined)?.type === 'ids/minted') refs.push(...entitiesOf(effect));
      return refs;
    });
    const expected = referenceIndex(named);
    assert.ok(expected.size > 20);
    const path = join(folder, 'debug.jsonl');
    writeFileSync(path, text);
    const loaded: TraceIndex[] = [
      await loadTrace(new TextEncoder().encode(text), { pause: () => Promise.resolve(), chunkLines: 30 }),
      await loadTrace(new TextEncoder().encode(text), { pause: () => Promise.resolve(), parallel: parallelReplayer(path, { threads: 2, chunkBytes: 2048 }) }),
    ];
    for (const trace of loaded) {
      assert.equal(trace.complete, true);
      assert.equal(trace.entities.size, expected.size);
      assert.deepEqual(answers(trace.entities, expected.keys()), answers(expected, expected.keys()));
      // A search marks the events of every id containing the text, as walking each id's list did.
      const mask = searchMask(trace, 'd1.t');
      for (const [id, entry] of expected) if (id.includes('d1.t')) for (const event of entry.events) assert.equal(mask[event], 1, `${id} event ${event}`);
    }
  });
});
