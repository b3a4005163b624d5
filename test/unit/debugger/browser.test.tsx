/**
 * The debugger's screens driven with keys, frames read back (ink-testing-library), on a trace the
 * simulator makes in the test: navigation, search, filters, timelines, state and diff panes, why,
 * the invariant breakpoint, help and quitting, and the loading screen.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { cleanup, render } from 'ink-testing-library';
import { Browser, layout } from '../../../debugger/components/Browser.js';
import { Debugger } from '../../../debugger/components/Debugger.js';
import { TraceChooser } from '../../../debugger/components/TraceChooser.js';
import type { WhyFunction } from '../../../debugger/causal-chain.js';
import { timelineOf } from '../../../debugger/timeline.js';
import type { TraceIndex } from '../../../debugger/trace-index.js';
import { debugTraceText, openTrace, rechainTrace } from '../../support/debugger-traces.js';
import type { OwnerState } from '../../../core/owner/state.js';
import { tableKeys } from '../../../core/table.js';
import { press, settle } from '../../support/ink-keys.js';
import type { Instance } from '../../support/ink-keys.js';

const keys = { down: '\u001B[B', up: '\u001B[A', pageDown: '\u001B[6~', pageUp: '\u001B[5~', tab: '\t', enter: '\r', escape: '\u001B' };


/** Types `text` then Enter into a prompt opened by `key`. */
function ask(instance: Instance, key: string, text: string): Promise<string> {
  return press(instance, key, ...text.split(''), keys.enter);
}

/** The seq on the cursor row (marked ▶). */
function cursorSeq(frame: string): number {
  const row = frame.split('\n').find((line) => line.startsWith('▶'));
  assert.ok(row !== undefined, `no cursor row in:\n${frame}`);
  return Number(/^▶\s+(\d+)/.exec(row)?.[1]);
}

void describe('debugger browser', () => {
  let trace: TraceIndex;
  let quits = 0;
  const open = async (props: { why?: WhyFunction } = {}): Promise<Instance> => {
    const instance = render(<Browser trace={trace} name="stories.jsonl" width={80} height={24} onQuit={() => quits++} {...props} />);
    await settle();
    return instance;
  };
  before(async () => {
    trace = await openTrace(debugTraceText(), { snapshotEvery: 16 });
  });
  after(() => cleanup());

  void test('the first frame lists events, fits 80×24 and shows the keys', async () => {
    const frame = (await open()).lastFrame() ?? '';
    const lines = frame.split('\n');
    assert.ok(lines.length < 24, `${lines.length} lines`);
    assert.ok(lines.every((line) => line.length <= 80), 'every line fits 80 columns');
    assert.match(lines[0] ?? '', /tsray debug stories\.jsonl · \d+ events · sim seed 1/);
    assert.match(frame, /▶\s+1\s+0ms gcs\s+gcs\/started/);
    assert.match(frame, /raylet:n1\s+node\/started/);
    assert.match(lines.at(-1) ?? '', /\?:help q:quit/);
    assert.equal(lines.filter((line) => /^[▶ ]\s+\d+\s+\d+ms /.test(line)).length, layout(24).listRows, 'only the visible rows are drawn');
  });

  void test('step, back, page, first/last, and jumps to a seq and to a time', async () => {
    const instance = await open();
    assert.equal(cursorSeq(await press(instance, 'j', 'j', keys.down)), 4);
    assert.equal(cursorSeq(await press(instance, 'k', keys.up)), 2);
    const { listRows } = layout(24);
    assert.equal(cursorSeq(await press(instance, keys.pageDown)), 2 + listRows);
    assert.equal(cursorSeq(await press(instance, ' ')), 2 + 2 * listRows);
    assert.equal(cursorSeq(await press(instance, keys.pageUp)), 2 + listRows);
    const last = trace.seqs[trace.count - 1] ?? 0;
    assert.equal(cursorSeq(await press(instance, 'G')), last, 'G goes to the last event, scrolling the list');
    assert.equal(cursorSeq(await ask(instance, 'g', '100')), 100);
    const frame = await ask(instance, 'g', '999999');
    assert.match(frame, /no event at or after seq 999999; the last is seq \d+/);
    const target = trace.times.findIndex((atMs) => atMs >= 40);
    assert.equal(cursorSeq(await ask(instance, 't', '40')), trace.seqs[target]);
    assert.match(instance.lastFrame() ?? '', /first event at or after 40 ms/);
  });

  void test('keys that arrive in one read are each taken: steps, and a prompt with its text and Enter', async () => {
    const instance = await open();
    assert.equal(cursorSeq(await press(instance, 'jjj')), 4, 'three steps sent at once move three events');
    assert.equal(cursorSeq(await press(instance, 'g100\r')), 100, 'g, the seq and Enter in one read jump to the seq');
    assert.equal(cursorSeq(await press(instance, 'kg50\rj')), 51, 'keys after a prompt is submitted in the same read are taken too');
  });

  void test('search finds the next event by type or id, and n the one after', async () => {
    const instance = await open();
    const replies: number[] = [];
    for (let index = 0; index < trace.count; index++) if (trace.typeOf(index) === 'task/replied') replies.push(trace.seqs[index] ?? 0);
    assert.equal(cursorSeq(await ask(instance, '/', 'task/replied')), replies[0]);
    assert.equal(cursorSeq(await press(instance, 'n')), replies[1]);
    assert.equal(cursorSeq(await press(instance, 'n')), replies[2]);
    assert.match(await ask(instance, '/', 'no-such-thing'), /no event matches 'no-such-thing'/);
  });

  void test('filters by entity id and by event type, together, and clears', async () => {
    const instance = await open();
    const task = trace.entities.get('n1.d1.t4')?.events.length ?? 0;
    let frame = await ask(instance, 'f', 'n1.d1.t4');
    assert.match(frame, new RegExp(`filter: n1\\.d1\\.t4 \\(${task}\\)`));
    assert.match(frame, /task\/submitted crashOnce/);
    assert.doesNotMatch(frame, /gcs\/started/);
    frame = await ask(instance, 'f', 'n1.d1.t4 task/pushed');
    assert.match(frame, /2 events match 'n1\.d1\.t4 task\/pushed'/);
    const rows = frame.split('\n').filter((line) => /^[▶ ]\s+\d+\s+\d+ms /.test(line));
    assert.equal(rows.length, 2);
    assert.ok(rows.every((row) => row.includes('task/pushed n1.d1.t4')));
    frame = await ask(instance, 'f', 'n9.nothing');
    assert.match(frame, /no entity id, event type or address 'n9\.nothing'/);
    frame = await press(instance, 'f', keys.enter);
    assert.match(frame, /filter cleared/);
    assert.doesNotMatch(frame.split('\n')[0] ?? '', /filter:/);
  });

  void test('timelines: a task retried after a worker crash, an actor restart, a node, a worker', async () => {
    const instance = await open();
    let frame = await ask(instance, 'f', 'n1.d1.t4');
    frame = await press(instance, 'e');
    assert.match(frame, /timeline of n1\.d1\.t4/);
    assert.match(frame, /attempt 1: worker n1\.w\d on node n1 \(seq \d+\) → worker exited \(seq \d+\)/);
    assert.match(frame, /attempt 2: worker n1\.w\d on node n1 \(seq \d+\) → returned \(seq \d+\)/);
    frame = await ask(instance, 'f', 'n1.d1.a1');
    assert.match(frame, /life 0: PENDING/);
    assert.match(frame, /life 0: ALIVE on worker n1\.w\d node n1/);
    assert.match(frame, /life 1: RESTARTING/);
    assert.match(frame, /life 1: ALIVE on worker n1\.w\d node n1/);
    frame = await press(instance, ']');
    assert.match(frame, /\d+ events name n1\.d1\.a1:/);
    frame = await ask(instance, 'f', 'n2');
    assert.match(frame, /node n2/);
    assert.match(frame, /started \(seq 3\)/);
    const attempt = /attempt 1: worker (n1\.w\d)/.exec(timelineOf(trace, 'n1.d1.t4').join('\n'))?.[1] ?? '';
    frame = await ask(instance, 'f', attempt);
    assert.match(frame, new RegExp(`worker ${attempt.replace('.', '\\.')} on node n1`));
    assert.match(frame, /ran n1\.d1\.t4 crashOnce attempt 1/);
    assert.match(frame, /exited: exited \(seq \d+\)/);
    const nested = [...trace.entities.keys()].find((id) => /^task \S+ nested submitted/.test(timelineOf(trace, id)[0] ?? '')) ?? '';
    frame = await ask(instance, 'f', nested);
    assert.match(frame, /child task square submitted by worker:n\d\.w\d while it ran \(seq \d+\)/);
    assert.doesNotMatch(frame, /task \S+ square submitted by/);
  });

  void test('state pane folds the component at the cursor to the entity; diff shows the immer patches', async () => {
    const instance = await open();
    const submitted = trace.entities.get('n1.d1.t4')?.events[0] ?? 0;
    let frame = await ask(instance, 'g', String(trace.seqs[submitted]));
    frame = await press(instance, keys.tab);
    frame = await ask(instance, 'f', 'n1.d1.t4');
    frame = await press(instance, 's');
    assert.match(frame, new RegExp(`state of worker:n1\\.d1 after seq ${trace.seqs[submitted]}, folded to n1\\.d1\\.t4`));
    assert.match(frame, /"tasks": \{/);
    assert.match(frame, /"n1\.d1\.t4": \{/);
    frame = await press(instance, 'd');
    assert.match(frame, new RegExp(`diff of seq ${trace.seqs[submitted]} on worker:n1\\.d1 \\(immer patches\\)`));
    assert.match(frame, /^[+~] tasks\.n1\.d1\.t4 = /m);
    frame = await press(instance, 'c', 's');
    assert.match(frame, /state of (?!worker:n1\.d1 )\S+ after seq/);
  });

  void test('why walks parent links to a root, one line per step; a plugged-in why is used instead', async () => {
    let instance = await open();
    const replied = trace.entities.get('n1.d1.t4')?.events.find((index) => trace.typeOf(index) === 'task/replied') ?? 0;
    let frame = await ask(instance, 'g', String(trace.seqs[replied]));
    frame = await press(instance, 'w');
    assert.match(frame, new RegExp(`why seq ${trace.seqs[replied]}`));
    assert.match(frame, /task\/replied n1\.d1\.t4/);
    assert.match(frame, /^← seq \d+ /m);
    const chain = trace.entry(replied);
    assert.ok(chain.parent !== undefined);
    frame = await press(instance, 'p');
    assert.equal(cursorSeq(frame), chain.parent);
    const restarting = trace.entities.get('n1.d1.a1')?.events.find((index) => trace.typeOf(index) === 'actor/state-changed' && /RESTARTING/.test(JSON.stringify(trace.entry(index).event))) ?? 0;
    frame = await ask(instance, 'g', String(trace.seqs[restarting]));
    frame = await press(instance, 'w');
    assert.match(frame, /← seq \d+ @\d+ms raylet:n1 worker\/exited n1\.w\d exited/);
    assert.match(frame, /^root: a worker exit \(exited\)$/m);
    instance.unmount();
    const plugged: WhyFunction = (source, seq) => [`plugged why of ${seq}: ${source.entry(seq)?.event.type ?? '?'}`];
    instance = await open({ why: plugged });
    frame = await press(instance, 'w');
    assert.match(frame, /plugged why of 1: gcs\/started/);
  });

  void test('the invariant breakpoint bisects to the first event where the predicate holds', async () => {
    const instance = await open();
    const driver = trace.addresses.indexOf('worker:n1.d1');
    const events = trace.byAddress[driver] ?? new Int32Array();
    const holds = (position: number): boolean => tableKeys((trace.stateAt(driver, events[position] ?? 0)?.state as OwnerState).tasks).length >= 3;
    let first = -1;
    for (let position = 0; position < events.length; position++) {
      if (holds(position)) {
        first = position;
        break;
      }
    }
    assert.ok(first > 0);
    const frame = await ask(instance, 'b', 'worker:n1.d1 Object.keys(s.tasks).length >= 3');
    assert.equal(cursorSeq(frame), trace.seqs[events[first] ?? 0]);
    assert.match(frame, new RegExp(`first holds after seq ${trace.seqs[events[first] ?? 0]} on worker:n1\\.d1 \\(\\d+ states probed\\)`));
    assert.match(await ask(instance, 'b', 's.phase === "no such phase"'), /never holds on/);
    assert.match(await ask(instance, 'b', 's.('), /does not compile/);
  });

  void test('? shows the help over the panes, any key closes it, q quits', async () => {
    const instance = await open();
    let frame = await press(instance, '?');
    assert.match(frame, /Keys \(any key closes this help\)/);
    assert.match(frame, /g NUMBER/);
    assert.ok(frame.split('\n').length < 24);
    frame = await press(instance, 'x');
    assert.doesNotMatch(frame, /Keys \(any key/);
    const before = quits;
    await press(instance, 'q');
    assert.equal(quits, before + 1);
  });

  void test('the loading screen shows a progress bar, then the list', async () => {
    const text = debugTraceText();
    const failures: string[] = [];
    const instance = render(
      <Debugger
        source={new TextEncoder().encode(text)}
        name="stories.jsonl"
        width={80}
        height={24}
        loadOptions={{ chunkLines: 40, pause: () => new Promise((resolve) => setTimeout(resolve, 5)) }}
        onQuit={() => undefined}
        onFailure={(reason) => failures.push(reason)}
      />,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(
      instance.frames.some((frame) => /Opening stories\.jsonl/.test(frame) && /\[█+░+\]\s+\d+%/.test(frame)),
      'a frame with a partly filled bar',
    );
    assert.ok(
      instance.frames.some((frame) => /· replaying \d+%/.test(frame) && /▶\s+1\s+0ms gcs/.test(frame)),
      'the list is shown while the replay pass goes on',
    );
    for (let wait = 0; wait < 200 && /replaying/.test(instance.lastFrame() ?? ''); wait++) await settle();
    assert.match(instance.lastFrame() ?? '', /▶\s+1\s+0ms gcs/);
    assert.doesNotMatch(instance.lastFrame() ?? '', /replaying/);
    assert.match(instance.lastFrame() ?? '', /state of gcs after seq 1/);
    assert.deepEqual(failures, []);
    instance.unmount();
  });

  void test('a key typed once the first frame of the list is drawn, before the list listens, still counts', async () => {
    // Ink draws a frame while React commits it and attaches key handlers in effects that run later
    // (40 to 450 ms later on a loaded machine): the key is typed from inside that draw.
    const instance = render(<Debugger source={new TextEncoder().encode(debugTraceText())} name="stories.jsonl" width={80} height={24} onQuit={() => undefined} onFailure={(reason) => assert.fail(reason)} />);
    const draw = instance.stdout.write;
    let typed = false;
    instance.stdout.write = (frame: string) => {
      draw(frame);
      if (!typed && /\?:help/.test(frame)) {
        typed = true;
        instance.stdin.write('?');
      }
    };
    for (let wait = 0; wait < 200 && !/Keys \(any key closes this help\)/.test(instance.lastFrame() ?? ''); wait++) await settle();
    assert.ok(typed, 'the list was drawn');
    assert.match(instance.lastFrame() ?? '', /Keys \(any key closes this help\)/);
    instance.unmount();
  });

  void test('a trace that cannot be opened ends with its one-line reason', async () => {
    const failures: string[] = [];
    const instance = render(
      <Debugger source={new TextEncoder().encode('{"kind":"tsray-trace","formatVersion":7}\n')} name="bad.jsonl" onQuit={() => undefined} onFailure={(reason) => failures.push(reason)} />,
    );
    for (let wait = 0; wait < 100 && failures.length === 0; wait++) await settle();
    assert.equal(failures.length, 1);
    assert.match(failures[0] ?? '', /^line 1: trace format version 7 is newer than this tsray reads/);
    instance.unmount();
  });

  void test('a trace with a header and no events opens, says so, and takes keys', async () => {
    const empty = await openTrace(rechainTrace([debugTraceText().split('\n')[0] ?? '']));
    const instance = render(<Browser trace={empty} name="empty.jsonl" width={80} height={24} onQuit={() => undefined} />);
    await settle();
    assert.match(instance.lastFrame() ?? '', /empty\.jsonl · 0 events/);
    const frame = await press(instance, 'j', 'G', 'k', 'c', 'w', 'e', 'd');
    assert.match(frame, /no events to show/);
    instance.unmount();
  });

  void test('with no trace: the curated list, or how to make one', async () => {
    let opened = '';
    const empty = render(<TraceChooser traces={[]} folder="traces" width={80} onOpen={() => undefined} onQuit={() => undefined} />);
    assert.match(empty.lastFrame() ?? '', /no curated traces in traces yet/);
    assert.match(empty.lastFrame() ?? '', /tsray sim examples\/sim\/fan-out\.mjs/);
    empty.unmount();
    const list = render(
      <TraceChooser
        traces={[
          { path: 'traces/a.jsonl', description: 'a retried task' },
          { path: 'traces/b.jsonl', description: 'an actor restart' },
        ]}
        folder="traces"
        width={80}
        onOpen={(path) => (opened = path)}
        onQuit={() => undefined}
      />,
    );
    assert.match(list.lastFrame() ?? '', /traces\/a\.jsonl: a retried task/);
    await press(list, 'j', keys.enter);
    assert.equal(opened, 'traces/b.jsonl');
    list.unmount();
  });
});
