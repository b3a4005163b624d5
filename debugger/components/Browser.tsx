/**
 * The event browser: a header, the event list, a pane about the event at the cursor, a message or
 * prompt line and the keys. Every key is handled here; what the panes show comes from plain
 * modules over the trace index, so each can be tested without a terminal.
 */
import { Box, Text, useInput, type Key } from 'ink';
import { useEffect, useMemo, useReducer, useRef } from 'react';
import type { InvariantSearch } from '../breakpoint.js';
import { bisectFirst, compilePredicate } from '../breakpoint.js';
import type { WhyFunction } from '../causal-chain.js';
import { parentChain } from '../causal-chain.js';
import { entitiesOf } from '../entities.js';
import { footerText } from '../keys.js';
import { paneContent, replayingLine } from '../pane-content.js';
import type { PaneKind } from '../pane-content.js';
import { clip } from '../state-view.js';
import type { TraceIndex } from '../trace-index.js';
import { allEvents, applyFilter, nextMatch, positionOf, searchMask } from '../view.js';
import { EventList } from './EventList.js';
import { Help } from './Help.js';
import { LinesPane } from './LinesPane.js';
import type { EarlyKeys } from '../early-keys.js';
import { usePlain } from '../hooks/use-plain.js';

/** Props of `Browser`. */
export interface BrowserProps {
  readonly trace: TraceIndex;
  /** The trace's file name, for the header. */
  readonly name: string;
  /** Columns to draw in. */
  readonly width: number;
  /** Rows to draw in. */
  readonly height: number;
  /** The why analysis; default: parent links back to the root. */
  readonly why?: WhyFunction;
  /** The invariant breakpoint's search; default: bisection. */
  readonly search?: InvariantSearch;
  /**
   * The counterfactual: runs a simulator trace's workload again with the change typed (`drop N`, or
   * `N key=value ...`) and resolves to the lines comparing the runs; rejects with a one-line reason.
   * Without it (a live trace, or no way to load the workload), `x` says so.
   */
  readonly counterfactual?: (change: string) => Promise<readonly string[]>;
  /** Called when the user quits. */
  readonly onQuit: () => void;
  /** Keys typed before this browser listened, which it takes first (see early-keys.ts). */
  readonly earlyKeys?: EarlyKeys;
}

/** What a prompt asks for. */
type PromptKind = 'seq' | 'time' | 'search' | 'filter' | 'break' | 'whatif';

const promptLabels: Record<PromptKind, string> = {
  seq: 'go to seq: ',
  time: 'go to time (ms, or ISO date): ',
  search: 'search: ',
  filter: 'filter (ids, types, addresses; empty clears): ',
  break: 'break when [ADDRESS] EXPR over s holds: ',
  whatif: 'what if (drop N, or N key=value): ',
};

/** A simulator trace's fault plan, its scheduled faults numbered as `x` takes them. */
function planLines(trace: TraceIndex): string[] {
  const plan = (trace.header.faultPlan ?? {}) as { scheduled?: readonly Record<string, unknown>[] } & Record<string, unknown>;
  const scheduled = plan.scheduled ?? [];
  const rates = Object.entries(plan).filter(([key]) => key !== 'scheduled');
  return [
    `the run's fault plan (seed ${trace.header.seed ?? '?'}):`,
    ...(scheduled.length === 0 ? ['  no scheduled faults'] : scheduled.map((fault, index) => `  ${index}: ${Object.entries(fault).map(([key, value]) => `${key}=${String(value)}`).join(' ')}`)),
    ...rates.map(([key, value]) => `  ${key}=${String(value)}`),
    'type: drop N (leave fault N out), N key=value (change it, e.g. 0 atMs=300), or rate key=value (e.g. rate dropRate=0)',
  ];
}

/** Everything the browser shows besides the trace: cursor, filter, pane, prompt and message. */
interface UiState {
  /** The events listed (indices into the trace), after filtering. */
  readonly view: Int32Array;
  readonly filterLabel: string;
  /** The view position of the cursor. */
  readonly cursor: number;
  /** The first view position on screen. */
  readonly top: number;
  /** The pane below the list: one of paneContent's, or the counterfactual's comparison. */
  readonly pane: PaneKind | 'whatif';
  readonly paneScroll: number;
  readonly help: boolean;
  readonly prompt: { readonly kind: PromptKind; readonly text: string } | undefined;
  readonly message: string;
  readonly match: { readonly text: string; readonly mask: Uint8Array } | undefined;
  /** Which of the cursor event's entities is selected (Tab counts up). */
  readonly entityPick: number;
  /** The component the state pane shows, when not the cursor event's own. */
  readonly componentPick: number | undefined;
  /** The last counterfactual's comparison, for the what-if pane. */
  readonly whatIf: readonly string[] | undefined;
}

function initialUi(trace: TraceIndex): UiState {
  return { view: allEvents(trace), filterLabel: '', cursor: 0, top: 0, pane: 'state', paneScroll: 0, help: false, prompt: undefined, message: '', match: undefined, entityPick: 0, componentPick: undefined, whatIf: undefined };
}

/** Rows of the list and of the pane for a terminal `height` rows tall. */
export function layout(height: number): { listRows: number; paneRows: number } {
  // Header, pane title, message and footer take a row each, and one row is left free so the
  // frame never fills the terminal (Ink redraws a full-height frame by clearing the screen).
  const free = Math.max(4, height - 5);
  const listRows = Math.max(2, Math.floor(free / 2));
  return { listRows, paneRows: Math.max(1, free - listRows) };
}

/** The browser. */
export function Browser({ trace, name, width, height, why = parentChain, search = bisectFirst, counterfactual, onQuit, earlyKeys }: BrowserProps) {
  const plain = usePlain();
  const { listRows, paneRows } = layout(height);
  // Keys can arrive faster than React draws (a paste, a fast typist, a test), so the browser's
  // state lives in a ref that each key updates at once, and a counter asks for the redraw.
  const ui = useRef<UiState | undefined>(undefined);
  ui.current ??= initialUi(trace);
  const [, redraw] = useReducer((count: number) => count + 1, 0);
  const { view, filterLabel, cursor, top, pane, paneScroll, help, prompt, message, entityPick, componentPick, whatIf } = ui.current;
  const update = (change: Partial<UiState>): void => {
    ui.current = { ...(ui.current ?? initialUi(trace)), ...change };
    redraw();
  };
  const setMessage = (text: string): void => update({ message: text });
  // The replay pass runs on after the first frame: redraw as it goes, so panes fill in.
  useEffect(() => trace.subscribe(redraw), [trace]);
  const replayed = trace.replayedCount;

  const index = view[cursor] ?? 0;
  const entry = view.length === 0 ? undefined : trace.entry(index);
  const entities = useMemo(() => (entry === undefined ? [] : entitiesOf(entry.event, entry.address)), [entry]);
  const filterEntity = trace.entities.has(filterLabel) ? filterLabel : undefined;
  const entity = filterEntity ?? entities[entityPick % Math.max(1, entities.length)]?.id;
  const content = useMemo(() => {
    if (pane === 'whatif') return { title: 'what if: the same seed, one fault changed', lines: [...(whatIf ?? [])] };
    if (view.length === 0) return { title: 'no event', lines: [] };
    try {
      return paneContent(trace, { pane: pane, index, why, width, ...(entity === undefined ? {} : { entity }), ...(componentPick === undefined ? {} : { addressId: componentPick }) });
    } catch (error) {
      return { title: pane, lines: [`could not compute this pane: ${error instanceof Error ? error.message : String(error)}`] };
    }
    // `replayed` is in the list so a pane that waited for the replay pass is drawn again.
  }, [trace, view.length, pane, index, why, width, entity, componentPick, replayed, whatIf]);

  /** Moves the cursor to view position `position`, scrolling the list to keep it on screen. */
  const moveTo = (position: number, inView: Int32Array = ui.current?.view ?? view): void => {
    const clamped = Math.max(0, Math.min(inView.length - 1, position));
    const current = ui.current?.top ?? 0;
    const nextTop = clamped < current ? clamped : clamped >= current + listRows ? clamped - listRows + 1 : current;
    update({ cursor: clamped, top: nextTop, paneScroll: 0, entityPick: 0 });
  };

  /** Shows event `target` (an index into the trace), clearing the filter if it hides it. */
  const showEvent = (target: number): void => {
    const view = ui.current?.view ?? allEvents(trace);
    const position = positionOf(view, target);
    if (view[position] === target) {
      moveTo(position);
      return;
    }
    const everything = allEvents(trace);
    update({ view: everything, filterLabel: '' });
    moveTo(target, everything);
  };

  const submit = (kind: PromptKind, text: string): void => {
    const { view, cursor, filterLabel } = ui.current ?? initialUi(trace);
    const index = view[cursor] ?? 0;
    const trimmed = text.trim();
    if ((kind === 'search' || kind === 'filter' || kind === 'break') && !trace.complete) {
      return setMessage(`${replayingLine(trace).replace(/; this appears.*$/, '')}: search, filters and breakpoints work once it is done`);
    }
    switch (kind) {
      case 'seq': {
        const seq = Number(trimmed);
        if (trimmed === '' || !Number.isFinite(seq)) return setMessage(`'${trimmed}' is not a seq number`);
        const target = trace.indexAtOrAfterSeq(seq);
        if (target >= trace.count) return setMessage(`no event at or after seq ${seq}; the last is seq ${trace.seqs[trace.count - 1] ?? 0}`);
        showEvent(target);
        return setMessage(trace.seqs[target] === seq ? `seq ${seq}` : `no seq ${seq}; showing seq ${trace.seqs[target] ?? 0}, the next one`);
      }
      case 'time': {
        const asNumber = Number(trimmed);
        const timeMs = trimmed !== '' && Number.isFinite(asNumber) ? asNumber : Date.parse(trimmed);
        if (!Number.isFinite(timeMs)) return setMessage(`'${trimmed}' is neither milliseconds nor a date`);
        const target = trace.times.findIndex((atMs) => atMs >= timeMs);
        if (target < 0) return setMessage(`no event at or after ${timeMs} ms; the last is at ${trace.times[trace.count - 1] ?? 0} ms`);
        showEvent(target);
        return setMessage(`first event at or after ${timeMs} ms: seq ${trace.seqs[target] ?? 0} at ${trace.times[target] ?? 0} ms`);
      }
      case 'search': {
        if (trimmed === '') return setMessage('');
        const mask = searchMask(trace, trimmed);
        update({ match: { text: trimmed, mask } });
        const found = nextMatch(view, mask, cursor);
        if (found === undefined) return setMessage(`no event matches '${trimmed}'${filterLabel === '' ? '' : ' under this filter'}`);
        moveTo(found);
        return setMessage(`'${trimmed}': seq ${trace.seqs[view[found] ?? 0] ?? 0} (n for the next)`);
      }
      case 'filter': {
        const result = applyFilter(trace, trimmed);
        if (!result.ok) return setMessage(result.reason);
        if (result.events.length === 0) return setMessage(`no event matches all of '${trimmed}'`);
        update({ view: result.events, filterLabel: result.label });
        moveTo(positionOf(result.events, index), result.events);
        return setMessage(result.label === '' ? 'filter cleared' : `${result.events.length} events match '${result.label}'`);
      }
      case 'break': {
        const [first = '', ...rest] = trimmed.split(/\s+/);
        const named = trace.addresses.indexOf(first);
        const addressId = named >= 0 ? named : (trace.addressIds[index] ?? 0);
        const expression = named >= 0 ? rest.join(' ') : trimmed;
        if (expression === '') return setMessage('type a JS expression over the state s, e.g. Object.keys(s.tasks).length > 3');
        const compiled = compilePredicate(expression);
        if (!compiled.ok) return setMessage(compiled.reason);
        const events = trace.byAddress[addressId] ?? new Int32Array();
        let probes = 0;
        const found = search((position) => {
          probes++;
          return compiled.predicate(trace.stateAt(addressId, events[position] ?? 0)?.state);
        }, events.length);
        const address = trace.addresses[addressId] ?? '?';
        if (found === undefined) return setMessage(`never holds on ${address} (its last state was checked): ${expression}`);
        const target = events[found] ?? 0;
        showEvent(target);
        update({ pane: 'diff' });
        return setMessage(`first holds after seq ${trace.seqs[target] ?? 0} on ${address} (${probes} states probed): ${expression}`);
      }
      case 'whatif': {
        if (counterfactual === undefined) return setMessage('no counterfactual here: it needs a simulator trace whose workload can be loaded');
        if (trimmed === '') return update({ pane: 'whatif', paneScroll: 0, whatIf: planLines(trace) });
        setMessage(`running the workload again with '${trimmed}'…`);
        counterfactual(trimmed).then(
          (lines) => {
            update({ pane: 'whatif', paneScroll: 0, whatIf: lines });
            setMessage(`what if '${trimmed}': ${lines[0] ?? ''}`);
          },
          (error: unknown) => setMessage(error instanceof Error ? error.message : String(error)),
        );
        return;
      }
    }
  };

  const onKey = (input: string, key: Key): void => {
    const { prompt, help, cursor, view, match } = ui.current ?? initialUi(trace);
    const index = view[cursor] ?? 0;
    const entry = view.length === 0 ? undefined : trace.entry(index);
    if (prompt !== undefined) {
      if (key.escape) return update({ prompt: undefined });
      if (key.return) {
        update({ prompt: undefined });
        return submit(prompt.kind, prompt.text);
      }
      if (key.backspace || key.delete) return update({ prompt: { ...prompt, text: prompt.text.slice(0, -1) } });
      if (key.ctrl || key.meta || input === '') return;
      // Pasted text arrives in one piece, its Enter included: what comes before the Enter is typed,
      // then the prompt is submitted.
      const enter = input.search(/[\r\n]/);
      if (enter < 0) return update({ prompt: { ...prompt, text: prompt.text + input } });
      update({ prompt: undefined });
      return submit(prompt.kind, prompt.text + input.slice(0, enter));
    }
    if (help) {
      if (input === 'q') return onQuit();
      return update({ help: false });
    }
    if (input === 'q') return onQuit();
    if (input === '?') return update({ help: true });
    if (key.escape) return setMessage('');
    if (key.downArrow || input === 'j') return moveTo(cursor + 1);
    if (key.upArrow || input === 'k') return moveTo(cursor - 1);
    if (key.pageDown || input === ' ') return moveTo(cursor + listRows);
    if (key.pageUp) return moveTo(cursor - listRows);
    if (key.home) return moveTo(0);
    if (key.end || input === 'G') return moveTo(view.length - 1);
    if (key.tab) return update({ entityPick: (ui.current?.entityPick ?? 0) + 1 });
    const prompts: Record<string, PromptKind> = { g: 'seq', t: 'time', '/': 'search', f: 'filter', b: 'break', x: 'whatif' };
    const promptKind = prompts[input];
    if (promptKind === 'whatif') {
      if (counterfactual === undefined) return setMessage('no counterfactual here: it needs a simulator trace whose workload can be loaded');
      return update({ prompt: { kind: promptKind, text: '' }, pane: 'whatif', paneScroll: 0, whatIf: planLines(trace) });
    }
    if (promptKind !== undefined) return update({ prompt: { kind: promptKind, text: '' } });
    if (input === 'n') {
      if (match === undefined) return setMessage('no search yet: / then text');
      const found = nextMatch(view, match.mask, cursor);
      if (found === undefined) return setMessage(`no event matches '${match.text}'`);
      moveTo(found);
      return setMessage(`'${match.text}': seq ${trace.seqs[view[found] ?? 0] ?? 0}`);
    }
    const panes: Record<string, PaneKind> = { s: 'state', d: 'diff', e: 'timeline', w: 'why' };
    const paneKind = panes[input];
    if (paneKind !== undefined) return update({ pane: paneKind, paneScroll: 0 });
    if (input === 'c') {
      const pick = ui.current?.componentPick ?? trace.addressIds[index] ?? 0;
      return update({ pane: 'state', componentPick: (pick + 1) % trace.addresses.length });
    }
    if (input === 'p') {
      const parent = entry?.parent === undefined ? undefined : trace.indexOfSeq(entry.parent);
      if (parent === undefined) return setMessage(`seq ${entry?.seq ?? '?'} has no recorded parent: it is a root (w shows why)`);
      showEvent(parent);
      return setMessage(`parent of seq ${entry?.seq ?? '?'}: seq ${entry?.parent ?? '?'}`);
    }
    const scroll = ui.current?.paneScroll ?? 0;
    if (input === '[') return update({ paneScroll: Math.max(0, scroll - paneRows) });
    if (input === ']') return update({ paneScroll: Math.min(Math.max(0, content.lines.length - paneRows), scroll + paneRows) });
  };

  // Keys that arrive in one read (typed ahead, sent by a script, pasted) come as one string: each is
  // taken in turn, and while a prompt is open the text up to an Enter is its text, the Enter submits.
  const takeKeys = (input: string, key: Key): void => {
    if (input.length <= 1 || key.ctrl || key.meta || key.escape) return onKey(input, key);
    let rest = input;
    while (rest !== '') {
      if (ui.current?.prompt !== undefined) {
        const enter = rest.search(/[\r\n]/);
        onKey(enter < 0 ? rest : rest.slice(0, enter + 1), { ...key, return: false });
        rest = enter < 0 ? '' : rest.slice(enter + 1);
      } else {
        const first = rest[0] ?? '';
        onKey(first, { ...key, return: first === '\r' || first === '\n', tab: first === '\t' });
        rest = rest.slice(1);
      }
    }
  };
  useInput(takeKeys);
  // After the effect above attached the handler (effects run in order): the keys typed before it,
  // in the order they came.
  useEffect(() => {
    if (earlyKeys === undefined) return;
    earlyKeys.listening = true;
    for (const [input, key] of earlyKeys.keys.splice(0)) takeKeys(input, key);
    // Once, when the browser first listens: later keys reach the handler directly.
  }, [earlyKeys]);

  const source = trace.header.createdBy === 'sim' ? `sim seed ${trace.header.seed ?? '?'}` : 'live';
  const progress = trace.complete ? '' : ` · replaying ${Math.floor((100 * replayed) / Math.max(1, trace.count))}%`;
  const headerText = `tsray debug ${name} · ${trace.count} events · ${source}${progress}${filterLabel === '' ? '' : ` · filter: ${filterLabel} (${view.length})`}${entity === undefined ? '' : ` · entity: ${entity}`}`;
  const bottom = prompt !== undefined ? `${promptLabels[prompt.kind]}${prompt.text}█` : message;
  return (
    <Box flexDirection="column" width={width}>
      <Text bold={!plain} wrap="truncate">
        {clip(headerText, width)}
      </Text>
      {help ? (
        <Box height={listRows + paneRows + 1} flexDirection="column">
          <Help width={width} rows={listRows + paneRows + 1} />
        </Box>
      ) : (
        <>
          <EventList trace={trace} view={view} top={top} cursor={cursor} rows={listRows} width={width} />
          <LinesPane title={content.title} lines={content.lines} scroll={paneScroll} rows={paneRows} width={width} />
        </>
      )}
      <Text wrap="truncate">{clip(bottom, width)}</Text>
      <Text dimColor={!plain} wrap="truncate">
        {clip(footerText, width)}
      </Text>
    </Box>
  );
}
