/**
 * Loads a trace in the background of a React tree: the progress while it loads, then the index or
 * the one-line reason it could not be opened.
 */
import { useEffect, useState } from 'react';
import { TraceLoadError, loadTrace } from '../trace-index.js';
import type { LoadOptions, LoadProgress, TraceIndex } from '../trace-index.js';

/** Where loading stands. */
export type LoaderState =
  | { readonly phase: 'loading'; readonly progress: LoadProgress }
  | { readonly phase: 'ready'; readonly trace: TraceIndex; readonly loadMs: number }
  | { readonly phase: 'failed'; readonly reason: string };

/** Loads `bytes` once (again when they change), reporting progress as React state. */
export function useTraceLoader(bytes: Uint8Array, options: Omit<LoadOptions, 'onProgress'> = {}): LoaderState {
  const [state, setState] = useState<LoaderState>({ phase: 'loading', progress: { bytesDone: 0, bytesTotal: bytes.length, events: 0 } });
  useEffect(() => {
    let live = true;
    const startedMs = Date.now();
    setState({ phase: 'loading', progress: { bytesDone: 0, bytesTotal: bytes.length, events: 0 } });
    loadTrace(bytes, { ...options, onProgress: (progress) => live && setState({ phase: 'loading', progress }) }).then(
      (trace) => live && setState({ phase: 'ready', trace, loadMs: Date.now() - startedMs }),
      (error: unknown) => {
        if (!live) return;
        const reason = error instanceof TraceLoadError ? error.message : `the trace could not be loaded: ${error instanceof Error ? error.message : String(error)}`;
        setState({ phase: 'failed', reason: reason.replace(/[\r\n]+/g, ' ') });
      },
    );
    return () => {
      live = false;
    };
    // The options are read once per trace: a new object each render must not restart loading.
  }, [bytes]);
  return state;
}
