/**
 * Opens a trace in the background of a React tree: the index pass with its progress, then the
 * index, while the replay pass goes on; or the one-line reason the trace could not be opened, from
 * either pass.
 */
import { useEffect, useState } from 'react';
import { TraceLoadError, openTrace } from '../trace-index.js';
import type { LoadOptions, LoadProgress, TraceIndex, TraceSource } from '../trace-index.js';

/** Where loading stands. */
export type LoaderState =
  | { readonly phase: 'loading'; readonly progress: LoadProgress }
  | { readonly phase: 'ready'; readonly trace: TraceIndex }
  | { readonly phase: 'failed'; readonly reason: string };

function reasonOf(error: unknown): string {
  const reason = error instanceof TraceLoadError ? error.message : `the trace could not be loaded: ${error instanceof Error ? error.message : String(error)}`;
  return reason.replace(/[\r\n]+/g, ' ');
}

/** Opens `source` once (again when it changes), reporting progress as React state. */
export function useTraceLoader(source: TraceSource | Uint8Array, options: Omit<LoadOptions, 'onProgress'> = {}): LoaderState {
  const sizeBytes = source instanceof Uint8Array ? source.length : source.sizeBytes;
  const starting: LoaderState = { phase: 'loading', progress: { phase: 'index', bytesDone: 0, bytesTotal: sizeBytes, events: 0 } };
  const [state, setState] = useState<LoaderState>(starting);
  useEffect(() => {
    let live = true;
    setState(starting);
    openTrace(source, { ...options, onProgress: (progress) => live && setState({ phase: 'loading', progress }) }).then(
      (trace) => live && setState({ phase: 'ready', trace }),
      (error: unknown) => live && setState({ phase: 'failed', reason: reasonOf(error) }),
    );
    return () => {
      live = false;
    };
    // The options are read once per trace: a new object each render must not restart loading.
  }, [source]);
  // The replay pass starts from an effect of the component that called this hook, which runs after
  // its children's effects: the browser is listening for keys before the first replay chunk runs
  // (Ink drops a key that arrives while nothing listens).
  const trace = state.phase === 'ready' ? state.trace : undefined;
  useEffect(() => {
    if (trace === undefined) return;
    let live = true;
    trace.replayAll(options).catch((error: unknown) => live && setState({ phase: 'failed', reason: reasonOf(error) }));
    return () => {
      live = false;
    };
  }, [trace]);
  return state;
}
