/**
 * The bench's figures, issue 11's targets, the verdicts that compare them, the printed table and
 * bench/results.json. Kept apart from the measuring code so that the verdict logic has a unit test.
 */
import { writeFileSync } from 'node:fs';

/** One measured figure: a sample per repeat, in one unit. */
export interface Figure {
  /** Stable key, such as `p1.tsray` or `raw.memcpy`. */
  readonly id: string;
  readonly label: string;
  readonly unit: string;
  /** One value per repeat (never empty for a measured figure). */
  readonly samples: readonly number[];
  /** Set when measuring failed; the samples are then empty. */
  readonly error?: string;
}

/** The median, least and greatest of a figure's samples. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

/**
 * One of issue 11's targets: the median of `numerator` divided by the median of `denominator` (or by
 * a constant), compared with `threshold`.
 */
export interface Target {
  readonly id: string;
  readonly goal: string;
  readonly numerator: string;
  readonly denominator: string | number;
  readonly comparison: '>=' | '<=';
  readonly threshold: number;
}

/** Whether a target is met, with the ratio that decided it; `ratio` is undefined when a figure is missing. */
export interface Verdict {
  readonly id: string;
  readonly goal: string;
  readonly ratio: number | undefined;
  readonly comparison: '>=' | '<=';
  readonly threshold: number;
  readonly met: boolean;
  /** Why there is no ratio, when there is none. */
  readonly missing?: string;
}

/** The machine a run was measured on. */
export interface Machine {
  readonly nproc: number;
  readonly node: string;
  readonly date: string;
  readonly loadAverage: readonly number[];
  readonly quick: boolean;
}

/** What bench/results.json holds. */
export interface Results {
  readonly machine: Machine;
  readonly figures: readonly (Figure & { readonly summary?: Summary })[];
  readonly verdicts: readonly Verdict[];
}

/** Issue 11's targets P1 to P9, as ratios of the bench's figures. */
export const issueTargets: readonly Target[] = [
  { id: 'P1', goal: 'async tiny-task throughput ≥ 2.0× piscina', numerator: 'p1.tsray', denominator: 'p1.piscina', comparison: '>=', threshold: 2 },
  { id: 'P2', goal: 'awaited tiny-task latency ≤ 1.0× piscina', numerator: 'p2.tsray', denominator: 'p2.piscina', comparison: '<=', threshold: 1 },
  // P3 likewise, by each repeat against raw pipelined round trips timed just before it in the tsray
  // process (bench/peer.ts): the run's own yardstick read 139,211/s in one run and 84,757 in the next.
  { id: 'P3', goal: '1:1 actor calls ≥ 0.5× raw pipelined round trips (paired per repeat)', numerator: 'p3.tsray.paired', denominator: 1, comparison: '>=', threshold: 0.5 },
  // P4 is judged by each lap against a memcpy timed just before it in the same process: the memcpy's
  // own process read 6.65 GB/s in one run and 20.5 in the one before, on the same machine, and its
  // median then made 0.21× read as 0.59×.
  { id: 'P4', goal: '64 MiB put+get ≥ 0.5× warm memcpy (paired per lap)', numerator: 'p4.tsray.paired', denominator: 1, comparison: '>=', threshold: 0.5 },
  { id: 'P5a', goal: 'queued tasks: ≤ 1 KiB driver memory per pending task', numerator: 'p5.tsray.bytes', denominator: 1024, comparison: '<=', threshold: 1 },
  { id: 'P5b', goal: 'queued tasks: throughput ≥ 2.0× piscina', numerator: 'p5.tsray', denominator: 'p5.piscina', comparison: '>=', threshold: 2 },
  { id: 'P6a', goal: 'event log appends ≥ 0.8× raw lmdb-js batched puts', numerator: 'p6.append', denominator: 'raw.lmdb.put', comparison: '>=', threshold: 0.8 },
  { id: 'P6b', goal: 'event log replay ≥ 0.8× raw getRange with decode', numerator: 'p6.read', denominator: 'raw.lmdb.range', comparison: '>=', threshold: 0.8 },
  { id: 'P7a', goal: 'recipes applied directly ≥ 1M events/s', numerator: 'p7.direct', denominator: 1_000_000, comparison: '>=', threshold: 1 },
  { id: 'P7b', goal: 'immer replay ≥ 50k events/s at 100k live entities', numerator: 'p7.immer100k', denominator: 50_000, comparison: '>=', threshold: 1 },
  { id: 'P8', goal: 'event logging adds ≤ 15% to P1 against logging off', numerator: 'p8.cost', denominator: 1, comparison: '<=', threshold: 0.15 },
  { id: 'P9', goal: '256 MiB object between two nodes ≥ 0.5× raw TCP loopback', numerator: 'p9.tsray', denominator: 'raw.tcp', comparison: '>=', threshold: 0.5 },
];

/** The median (upper middle for an even count), min and max of `samples`. */
export function summarise(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new RangeError('a summary needs at least one sample');
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] as number, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

/** The median of the figure `id`, or a reason why there is none. */
function medianOf(figures: ReadonlyMap<string, Figure>, id: string): number | string {
  const figure = figures.get(id);
  if (figure === undefined) return `${id} was not measured`;
  if (figure.error !== undefined) return `${id} failed: ${figure.error}`;
  if (figure.samples.length === 0) return `${id} has no samples`;
  return summarise(figure.samples).median;
}

/** Decides each target from the figures; a target whose figures are missing or failed is not met. */
export function evaluate(figures: readonly Figure[], targets: readonly Target[] = issueTargets): Verdict[] {
  const byId = new Map(figures.map((figure) => [figure.id, figure]));
  return targets.map((target) => {
    const numerator = medianOf(byId, target.numerator);
    const denominator = typeof target.denominator === 'number' ? target.denominator : medianOf(byId, target.denominator);
    const base = { id: target.id, goal: target.goal, comparison: target.comparison, threshold: target.threshold };
    if (typeof numerator === 'string') return { ...base, ratio: undefined, met: false, missing: numerator };
    if (typeof denominator === 'string') return { ...base, ratio: undefined, met: false, missing: denominator };
    if (denominator === 0) return { ...base, ratio: undefined, met: false, missing: `${String(target.denominator)} is zero` };
    const ratio = numerator / denominator;
    return { ...base, ratio, met: target.comparison === '>=' ? ratio >= target.threshold : ratio <= target.threshold };
  });
}

/** The results of a run, each figure with its samples and summary. */
export function buildResults(machine: Machine, figures: readonly Figure[], targets: readonly Target[] = issueTargets): Results {
  return {
    machine,
    figures: figures.map((figure) => (figure.samples.length === 0 ? figure : { ...figure, summary: summarise(figure.samples) })),
    verdicts: evaluate(figures, targets),
  };
}

/** Writes `results` as indented JSON to `path`. */
export function writeResults(path: string, results: Results): void {
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
}

/** A number with about three significant digits and thousands separators. */
export function formatValue(value: number): string {
  // Ratios far below 1 keep two significant digits rather than print as zero.
  if (value !== 0 && Math.abs(value) < 0.001) return value.toPrecision(2);
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : Math.abs(value) >= 1 ? 2 : 3;
  return value.toLocaleString('en', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** The figures and verdicts as Markdown tables (which also read well in a terminal). */
export function formatTables(results: Results): string {
  const lines = ['| figure | median | min–max | unit | samples |', '|---|---:|---:|---|---:|'];
  for (const figure of results.figures) {
    if (figure.summary === undefined) lines.push(`| ${figure.label} | failed: ${figure.error ?? 'no samples'} | | ${figure.unit} | 0 |`);
    else lines.push(`| ${figure.label} | ${formatValue(figure.summary.median)} | ${formatValue(figure.summary.min)}–${formatValue(figure.summary.max)} | ${figure.unit} | ${figure.samples.length} |`);
  }
  lines.push('', '| target | goal | ratio | needed | verdict |', '|---|---|---:|---:|---|');
  for (const verdict of results.verdicts) {
    const ratio = verdict.ratio === undefined ? `— (${verdict.missing ?? 'missing'})` : `${formatValue(verdict.ratio)}×`;
    lines.push(`| ${verdict.id} | ${verdict.goal} | ${ratio} | ${verdict.comparison} ${verdict.threshold}× | ${verdict.met ? 'met' : 'NOT met'} |`);
  }
  return lines.join('\n');
}
