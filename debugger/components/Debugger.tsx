/**
 * `tsray debug TRACE`: loads the trace with a progress bar, then opens the browser. A trace that
 * cannot be opened ends the app with its one-line reason, for the CLI to print.
 */
import { Text, useInput } from 'ink';
import { useEffect, useRef } from 'react';
import type { InvariantSearch } from '../breakpoint.js';
import type { WhyFunction } from '../causal-chain.js';
import { earlyKeys, keepEarlyKey } from '../early-keys.js';
import { useTerminalSize } from '../hooks/use-terminal-size.js';
import { useTraceLoader } from '../hooks/use-trace-loader.js';
import type { LoadOptions, TraceSource } from '../trace-index.js';
import { Browser } from './Browser.js';
import { Loading } from './Loading.js';

/** Props of `Debugger`. */
export interface DebuggerProps {
  /** The trace file: its bytes, or a source that reads them. */
  readonly source: TraceSource | Uint8Array;
  /** The trace's file name, for the header. */
  readonly name: string;
  /** A fixed size to draw in (tests); default: the terminal's. */
  readonly width?: number;
  readonly height?: number;
  readonly why?: WhyFunction;
  readonly search?: InvariantSearch;
  /** The counterfactual (see BrowserProps.counterfactual). */
  readonly counterfactual?: (change: string) => Promise<readonly string[]>;
  readonly loadOptions?: Omit<LoadOptions, 'onProgress'>;
  /** Called when the user quits. */
  readonly onQuit: () => void;
  /** Called once with the one-line reason when the trace cannot be opened. */
  readonly onFailure: (reason: string) => void;
}

/** The debugger for one trace. */
export function Debugger({ source, name, width, height, why, search, counterfactual, loadOptions, onQuit, onFailure }: DebuggerProps) {
  const size = useTerminalSize({ ...(width === undefined ? {} : { width }), ...(height === undefined ? {} : { height }) });
  const loaded = useTraceLoader(source, loadOptions);
  useEffect(() => {
    if (loaded.phase === 'failed') onFailure(loaded.reason);
  }, [loaded, onFailure]);
  // This handler stays attached once the browser shows: a key typed before the browser's own handler
  // is attached is kept for it (see early-keys.ts). The queue is marked ready here, while
  // rendering, because Ink draws the browser's first frame before any effect of that commit runs.
  const early = useRef(earlyKeys());
  if (loaded.phase === 'ready') early.current.ready = true;
  useInput((input, key) => {
    if (keepEarlyKey(early.current, input, key)) return;
    if (input === 'q') onQuit();
  });
  if (loaded.phase === 'loading') return <Loading name={name} progress={loaded.progress} width={size.width} />;
  if (loaded.phase === 'failed') return <Text>{loaded.reason}</Text>;
  return (
    <Browser
      trace={loaded.trace}
      name={name}
      width={size.width}
      height={size.height}
      onQuit={onQuit}
      earlyKeys={early.current}
      {...(why === undefined ? {} : { why })}
      {...(search === undefined ? {} : { search })}
      {...(counterfactual === undefined ? {} : { counterfactual })}
    />
  );
}
