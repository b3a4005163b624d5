/**
 * `tsray debug [TRACE]`: the replay debugger in the terminal. This file only reads files and starts
 * the Ink app in debugger/; without a trace it lists the curated ones in traces/. A trace that
 * cannot be opened gives one line and exit 1, in a terminal or not.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { render } from 'ink';
import { createElement } from 'react';
import type { ReactElement } from 'react';
import { Debugger } from '../../debugger/components/Debugger.js';
import { TraceChooser } from '../../debugger/components/TraceChooser.js';
import { PlainContext } from '../../debugger/hooks/use-plain.js';
import type { CuratedTrace } from '../../debugger/components/TraceChooser.js';
import { TraceLoadError, loadTrace } from '../../debugger/trace-index.js';
import type { TraceSource } from '../../debugger/trace-index.js';
import { UsageError } from './usage.js';

/** The curated traces' folder: traces/ at the package root (dist/node/cli is three levels down). */
const tracesFolder = fileURLToPath(new URL('../../../traces/', import.meta.url));

/** The curated traces, with the line traces/README.md gives each (`- \`name.jsonl\`: what to look at`). */
export async function curatedTraces(folder: string): Promise<CuratedTrace[]> {
  let names: string[];
  try {
    names = (await readdir(folder)).filter((name) => name.endsWith('.jsonl')).sort();
  } catch {
    return [];
  }
  const readme = await readFile(join(folder, 'README.md'), 'utf8').catch(() => '');
  const described = new Map<string, string>();
  for (const line of readme.split('\n')) {
    const found = /([\w.-]+\.jsonl)`?\**\s*[:—–-]+\s*(.+)$/.exec(line);
    if (found?.[1] !== undefined && found[2] !== undefined) described.set(found[1], found[2].trim());
  }
  const shown = relative(process.cwd(), folder) || '.';
  return names.map((name) => ({ path: join(shown, name), description: described.get(name) ?? 'no line about it in README.md' }));
}

/** Runs `tsray debug`; resolves to the exit code. */
export async function debugCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: {} });
  } catch (error) {
    throw new UsageError(`debug: ${(error as Error).message}`);
  }
  if (parsed.positionals.length > 1) throw new UsageError('debug takes at most one trace file: tsray debug [TRACE]');
  const interactive = process.stdin.isTTY && process.stdout.isTTY;
  let file = parsed.positionals[0];
  if (file === undefined) {
    const traces = await curatedTraces(tracesFolder);
    if (!interactive) {
      process.stdout.write(traces.length === 0 ? 'no curated traces yet; make one: tsray sim examples/sim/fan-out.mjs --seed 1 -o traces\n' : traces.map((trace) => `${trace.path}: ${trace.description}\n`).join(''));
      return 0;
    }
    file = await choose(traces);
    if (file === undefined) return 0;
  }
  let source: TraceSource & { close: () => void };
  try {
    source = fileSource(file);
  } catch (error) {
    throw new Error(`cannot read trace ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}; pass a file written by tsray sim or tsray trace collect`);
  }
  if (!interactive) {
    // Without a terminal there is nothing to draw on, but a bad trace still deserves its reason.
    try {
      await loadTrace(source, { pause: () => Promise.resolve() });
    } catch (error) {
      if (error instanceof TraceLoadError) throw new Error(`${file}: ${error.message}`);
      throw error;
    } finally {
      source.close();
    }
    throw new Error(`debug needs an interactive terminal; for scripts use tsray replay ${file} --verify`);
  }
  let failure: string | undefined;
  const app = render(
    plainly(Debugger, {
      source,
      name: basename(file),
      onQuit: () => app.unmount(),
      onFailure: (reason: string) => {
        failure = reason;
        app.unmount();
      },
    }),
    { exitOnCtrlC: true },
  );
  await app.waitUntilExit();
  source.close();
  if (failure !== undefined) throw new Error(`${file}: ${failure}`);
  return 0;
}

/**
 * A trace file read in ranges as the debugger asks, so a big trace is never held whole in memory.
 * @throws the open's error (ENOENT, EACCES, EISDIR).
 */
export function fileSource(path: string): TraceSource & { close: () => void } {
  const descriptor = openSync(path, 'r');
  const stat = fstatSync(descriptor);
  if (stat.isDirectory()) {
    closeSync(descriptor);
    throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
  }
  let open = true;
  return {
    sizeBytes: stat.size,
    read: (offset, length) => {
      const buffer = Buffer.allocUnsafe(Math.max(0, Math.min(length, stat.size - offset)));
      let filled = 0;
      while (filled < buffer.length) {
        const got = readSync(descriptor, buffer, filled, buffer.length - filled, offset + filled);
        if (got === 0) break;
        filled += got;
      }
      return buffer.subarray(0, filled);
    },
    close: () => {
      if (open) closeSync(descriptor);
      open = false;
    },
  };
}

/** `component` with `props`, drawn without styling when NO_COLOR is set (https://no-color.org). */
function plainly<P extends object>(component: (props: P) => ReactElement, props: P): ReactElement {
  const plain = (process.env['NO_COLOR'] ?? '') !== '';
  return createElement(PlainContext.Provider, { value: plain }, createElement(component, props));
}

/** Shows the curated traces and resolves to the one chosen, or undefined when the user quits. */
async function choose(traces: readonly CuratedTrace[]): Promise<string | undefined> {
  let chosen: string | undefined;
  const app = render(
    plainly(TraceChooser, {
      traces,
      folder: relative(process.cwd(), tracesFolder) || '.',
      width: process.stdout.columns || 80,
      onOpen: (path: string) => {
        chosen = path;
        app.unmount();
      },
      onQuit: () => app.unmount(),
    }),
  );
  await app.waitUntilExit();
  return chosen;
}
