/**
 * The simulator's agenda: what happens next, ordered by simulated time and then by the order it was
 * scheduled in, so that equal times never depend on anything but the run itself.
 */

/** One scheduled happening. */
export interface AgendaItem<T> {
  readonly atMs: number;
  readonly order: number;
  readonly value: T;
}

/** A binary min-heap of agenda items. */
export class Agenda<T> {
  private readonly items: AgendaItem<T>[] = [];
  private nextOrder = 0;

  /** How many items wait. */
  get size(): number {
    return this.items.length;
  }

  /** Schedules `value` at `atMs`. */
  push(atMs: number, value: T): void {
    const item: AgendaItem<T> = { atMs, order: this.nextOrder++, value };
    this.items.push(item);
    let index = this.items.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(this.items[index] as AgendaItem<T>, this.items[parent] as AgendaItem<T>)) break;
      this.swap(index, parent);
      index = parent;
    }
  }

  /** The earliest item, left in place. */
  peek(): AgendaItem<T> | undefined {
    return this.items[0];
  }

  /** Removes and returns the earliest item. */
  pop(): AgendaItem<T> | undefined {
    const top = this.items[0];
    const last = this.items.pop();
    if (top === undefined || last === undefined) return undefined;
    if (this.items.length > 0) {
      this.items[0] = last;
      let index = 0;
      for (;;) {
        const left = index * 2 + 1;
        const right = left + 1;
        let smallest = index;
        if (left < this.items.length && this.before(this.items[left] as AgendaItem<T>, this.items[smallest] as AgendaItem<T>)) smallest = left;
        if (right < this.items.length && this.before(this.items[right] as AgendaItem<T>, this.items[smallest] as AgendaItem<T>)) smallest = right;
        if (smallest === index) break;
        this.swap(index, smallest);
        index = smallest;
      }
    }
    return top;
  }

  private before(x: AgendaItem<T>, y: AgendaItem<T>): boolean {
    return x.atMs < y.atMs || (x.atMs === y.atMs && x.order < y.order);
  }

  private swap(i: number, j: number): void {
    const tmp = this.items[i] as AgendaItem<T>;
    this.items[i] = this.items[j] as AgendaItem<T>;
    this.items[j] = tmp;
  }
}
