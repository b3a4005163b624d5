/**
 * What every part of `npm run bench` shares: the sizes of a full and a `--quick` run, and the
 * recorder that collects figures (a sample per repeat), so that one failing measure is reported as
 * failed instead of ending the run.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import type { Figure } from './report.js';

/** The sizes of one run. */
export interface BenchScale {
  readonly quick: boolean;
  /** Repeats of each throughput or latency figure. */
  readonly repeats: number;
  /** P1: tiny tasks submitted, then awaited, per repeat. */
  readonly throughputTasks: number;
  /** P2: awaited tiny tasks per repeat (after a warm-up). */
  readonly latencyCalls: number;
  /** P3: actor calls per repeat, and raw round trips per repeat. */
  readonly actorCalls: number;
  /** P5: tiny tasks queued at once. */
  readonly queuedTasks: number;
  /** P6: events appended and read back per repeat. */
  readonly logEvents: number;
  /** P8: tiny tasks in the session whose log is counted. */
  readonly loggedTasks: number;
  /** TCP loopback bytes per repeat. */
  readonly tcpBytes: number;
}

/** The sizes of a full run (issue 11's) or a quick one (about a minute). */
export function scaleFor(quick: boolean): BenchScale {
  return quick
    ? { quick, repeats: 3, throughputTasks: 10_000, latencyCalls: 300, actorCalls: 3_000, queuedTasks: 20_000, logEvents: 50_000, loggedTasks: 2_000, tcpBytes: 64 * 1024 * 1024 }
    : { quick, repeats: 5, throughputTasks: 100_000, latencyCalls: 2_000, actorCalls: 20_000, queuedTasks: 1_000_000, logEvents: 300_000, loggedTasks: 10_000, tcpBytes: 256 * 1024 * 1024 };
}

/** The median of `values` (upper middle for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Collects figures; a measure that throws becomes a failed figure and the run goes on. */
export class Recorder {
  readonly figures: Figure[] = [];

  /** Records a figure measured elsewhere. */
  add(id: string, label: string, unit: string, samples: readonly number[]): void {
    this.figures.push({ id, label, unit, samples: [...samples] });
  }

  /** Runs `measure` `repeats` times, one sample each, and records them; a failure is recorded instead. */
  async repeat(id: string, label: string, unit: string, repeats: number, measure: () => Promise<number> | number): Promise<void> {
    const samples: number[] = [];
    try {
      for (let round = 0; round < repeats; round += 1) samples.push(await measure());
      this.add(id, label, unit, samples);
    } catch (error) {
      this.fail(id, label, unit, error);
    }
  }

  /** Records that `id` could not be measured, and says so at once. */
  fail(id: string, label: string, unit: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    console.log(`  ${label}: FAILED: ${message}`);
    this.figures.push({ id, label, unit, samples: [], error: message });
  }
}

/** Prints that a part of the bench starts, so a slow run shows where it is. */
export function section(title: string): void {
  console.log(`· ${title} (${new Date().toISOString().slice(11, 19)})`);
}

/**
 * The CPU time the main thread has used, in µs, from /proc (Linux; clock ticks of 10 ms, fine over
 * seconds), NaN elsewhere: unlike wall time, it does not depend on what else the machine runs.
 */
export function mainThreadCpuUs(): number {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return Number.NaN;
  }
}

/** CPU µs and wake-ups (voluntary context switches) of one thread, from /proc. */
export interface ThreadCpu {
  readonly us: number;
  readonly wakeUps: number;
}

/**
 * CPU µs and wake-ups of every thread of this process, keyed `name/tid`, where the name is the
 * thread's as the OS sees it, except the main thread's, which is `main`: tsray names its log thread
 * `tsray-log` and its worker threads `tsray-worker` (node/thread-name.ts); the threads still named
 * `node` are V8's platform threads (concurrent GC and compiling) and libuv's. Empty where there is no
 * /proc (or a thread ended while it was read).
 */
export function threadCpuUs(): Map<string, ThreadCpu> {
  const result = new Map<string, ThreadCpu>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const text = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = Number(tid) === process.pid ? 'main' : text.slice(text.indexOf('(') + 1, text.lastIndexOf(')'));
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      const switches = /voluntary_ctxt_switches:\s*(\d+)/.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'));
      result.set(`${name}/${tid}`, { us: (Number(fields[11]) + Number(fields[12])) * 10_000, wakeUps: Number(switches?.[1] ?? 0) });
    }
  } catch {
    // Not Linux, or a thread ended while it was read: what was read so far.
  }
  return result;
}

/**
 * The CPU µs each kind of thread (its name without the tid: `main`, `tsray-log`, `tsray-worker`,
 * `node`...) used between two `threadCpuUs` readings, summed over the threads of that kind. A thread
 * that ended in between is left out (its time is lost with it).
 */
export function cpuUsByThreadKind(before: ReadonlyMap<string, ThreadCpu>, after: ReadonlyMap<string, ThreadCpu>): Map<string, number> {
  const result = new Map<string, number>();
  for (const [key, { us }] of after) {
    const kind = key.slice(0, key.lastIndexOf('/'));
    result.set(kind, (result.get(kind) ?? 0) + us - (before.get(key)?.us ?? 0));
  }
  return result;
}

/**
 * Runs `node --expose-gc <script> <side> --json [--quick] [...extraArgs]` (a part of the bench
 * measuring one side in a fresh process) and resolves with its stdout; rejects naming the side, the
 * command and the cause (the error line of its stderr), or `limitName` when it ran past `timeoutMs`
 * and was killed.
 */
export function spawnSideProcess(script: string, side: string, quick: boolean, timeoutMs: number, limitName: string, extraArgs: readonly string[] = []): Promise<string> {
  const args = ['--expose-gc', script, side, '--json', ...(quick ? ['--quick'] : []), ...extraArgs];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) {
        resolve(stdout);
        return;
      }
      const lines = stderr.trim().split('\n');
      // Node prints the throwing source line before the error itself: the cause is the line that starts with the error's name.
      const cause = lines.find((line) => /^[A-Za-z]*Error\b/.test(line)) ?? lines.at(-1) ?? error.message;
      const why = error.killed ? `took longer than ${timeoutMs / 60_000} min (${limitName}) and was killed` : `failed: ${cause}`;
      reject(new Error(`the ${side} process (node ${args.join(' ')}) ${why}`));
    });
  });
}

/** The JSON of a side's process's last line of output (anything printed before it is ignored), and that line for messages. */
export function lastJsonLine(side: string, stdout: string): { parsed: unknown; line: string } {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    return { parsed: JSON.parse(line) as unknown, line: line.slice(0, 200) };
  } catch {
    throw new Error(`the ${side} process printed no JSON line at the end; its output ended with: ${line.slice(0, 200)}`);
  }
}

/** A side's figures, from the last line of its process's output (anything printed before it is ignored). */
export function figuresPrinted(side: string, stdout: string): Figure[] {
  const { parsed, line } = lastJsonLine(side, stdout);
  const isFigure = (value: unknown): value is Figure => {
    const figure = value as Partial<Figure>;
    return typeof figure.id === 'string' && typeof figure.label === 'string' && typeof figure.unit === 'string' && Array.isArray(figure.samples) && figure.samples.every((sample) => typeof sample === 'number');
  };
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every(isFigure)) throw new Error(`the ${side} process printed JSON without its figures: ${line}`);
  return parsed;
}
