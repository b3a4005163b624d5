/**
 * How many tasks a live owner pipelines to one leased worker, chosen from how long its tasks take.
 *
 * Pipelining saves a round trip per task and lets one message between threads carry several tasks,
 * which tiny tasks need (deeper pipelines gave more tiny tasks per second). But a worker runs what it
 * was pushed in order, and a task's body holds its thread: tasks pushed behind a long one wait for
 * it while another worker may sit idle, and they cannot be taken back from a thread that runs a
 * synchronous body. So the work queued behind a running task is kept within a budget of time: the
 * depth is that budget over the time a task of this owner has been taking (powers of two, from 1 to
 * `maxPipelineDepth`). A burst of work starts unpipelined (a lease that runs out of work forgets what
 * it measured), so that a long task at the head of a burst does not hold others behind it, and tiny
 * tasks reach the full depth within a few replies.
 *
 * This is measured by the shell, which has a clock; the owner's recipe only learns the depth through
 * `owner/pipeline-depth-set`, which its log keeps, so a replay makes the same choices.
 */

/** The most tasks pushed to one leased worker at once (tiny tasks). */
export const maxPipelineDepth = 64;

/** The depth a burst of work starts at, before any task of it was timed. */
export const initialPipelineDepth = 1;

/**
 * The time of queued work allowed behind a running task, in microseconds. A tiny task takes a leased
 * worker 100-250 µs from one reply to the next on this 2-core machine under load (with the replies
 * and the log), so that 64 of them fit: at 8 ms, P1 spent 5-15% of its replies at depths below 64.
 */
export const pipelineBudgetUs = 16_000;

/** The weight of a new measure in the running mean (a long task raises the mean within two or three). */
const newSampleWeight = 0.25;

/**
 * The most timed tasks that make one measure: their times are summed and the measure is the mean of
 * them. A worker's replies come to the owner a batch at a time, so the first reply of a batch carried
 * the whole wait since the batch before (any stall of the owner's thread, a collection say) and the
 * rest next to nothing. Measured one by one, the mean swung with every batch: in a run of 100,000 tiny
 * tasks the depth changed 1,568 times, down to 4 and back, each change an event in the owner's log.
 */
const tasksPerMeasure = 16;

/** The depth that keeps `meanUs` of work per task within the budget: a power of two from 1 to the maximum. */
export function depthForTaskUs(meanUs: number): number {
  let depth = 1;
  while (depth * 2 <= maxPipelineDepth && depth * 2 * meanUs <= pipelineBudgetUs) depth *= 2;
  return depth;
}

/**
 * The shell's side of the adaptive depth: told when a leased worker replied to a task, it times
 * each task from when its worker could start it (the reply before, when the lease stayed busy) to
 * its reply, keeps a running mean of measures of `tasksPerMeasure` tasks (fewer once they took the
 * whole budget, so a long task is felt at its reply; the first measure is the first task), and says
 * when the depth should change.
 */
export class PipelineDepth {
  /** When each busy lease's worker started its current task (the previous reply), in µs. */
  private readonly busySinceUs = new Map<string, number>();
  private meanUs: number | undefined = undefined;
  /** The time of the tasks timed since the last measure, and how many they are. */
  private pendingUs = 0;
  private pendingTasks = 0;
  /** The depth the owner's config holds now. */
  current: number;

  constructor(initial = initialPipelineDepth) {
    this.current = initial;
  }

  /**
   * A task on `leaseId` replied at `nowUs`, after which the lease `stillBusy` runs another (pipelined
   * or pushed on the reply). Returns the new depth when it should change, else undefined. A task
   * `handedBack` unrun (it was queued behind one that blocked in a get) times nothing and changes
   * nothing: its reply comes at once, and counted as a task's time it sank the mean, so the depth
   * rose to 64 while tasks waited in gets, and each such worker was pushed 63 more tasks to hand
   * back (400 tasks that each awaited one of their own, from a driver on a cluster of two processes:
   * 9.6-13.2 s in four runs, and 6.7-12.0 s in six once hand-backs were not timed).
   */
  replied(leaseId: string, stillBusy: boolean, nowUs: number, handedBack = false): number | undefined {
    if (handedBack) return undefined;
    const since = this.busySinceUs.get(leaseId);
    if (since !== undefined) {
      this.pendingUs += nowUs - since;
      this.pendingTasks += 1;
      if (this.meanUs === undefined || this.pendingTasks >= tasksPerMeasure || this.pendingUs >= pipelineBudgetUs) {
        const sampleUs = this.pendingUs / this.pendingTasks;
        this.meanUs = this.meanUs === undefined ? sampleUs : this.meanUs + (sampleUs - this.meanUs) * newSampleWeight;
        this.pendingUs = 0;
        this.pendingTasks = 0;
      }
    }
    if (stillBusy) this.busySinceUs.set(leaseId, nowUs);
    else {
      // Out of work: the next burst may be of other tasks, and starts unpipelined.
      this.busySinceUs.delete(leaseId);
      if (this.busySinceUs.size === 0) {
        this.meanUs = undefined;
        this.pendingUs = 0;
        this.pendingTasks = 0;
      }
    }
    const wanted = this.meanUs === undefined ? initialPipelineDepth : depthForTaskUs(this.meanUs);
    if (wanted === this.current) return undefined;
    this.current = wanted;
    return wanted;
  }
}
