import type { TimelineEvent } from './snapshot';
import type { TopologyChange } from './snapshot-diff';

/** The last `capacity` events, numbered in order so a page can merge and drop duplicates. */
export class Timeline {
  private seq = 0;
  private readonly events: TimelineEvent[] = [];

  constructor(
    private readonly capacity: number,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Dates and numbers the changes, keeps them, and returns them as events. */
  add(changes: readonly TopologyChange[]): TimelineEvent[] {
    const at = this.clock().toISOString();
    const added = changes.map((c) => ({ ...c, seq: ++this.seq, at }));
    this.events.push(...added);
    if (this.events.length > this.capacity)
      this.events.splice(0, this.events.length - this.capacity);
    return added;
  }

  /** Oldest first. */
  recent(): TimelineEvent[] {
    return [...this.events];
  }
}
