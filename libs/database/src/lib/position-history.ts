import { GtidPosition, hasReached, samePosition } from '@stayline/contracts';

interface Sighting {
  position: GtidPosition;
  /** When the primary was first seen at this position (ms, monotonic clock). */
  at: number;
}

/**
 * Sub-second replica lag from GTIDs, not `Seconds_Behind_Master` (whole
 * seconds, and 0 when the SQL thread is stopped): the primary's positions with
 * the time each was first seen. A replica that has not reached the position
 * first seen at `t` is at least `now - t` behind. Precision: one probe interval.
 */
export class PositionHistory {
  private readonly sightings: Sighting[] = [];

  /** @param capacity sightings kept; lag beyond the oldest one reads as "at least" that old */
  constructor(private readonly capacity = 256) {}

  /** Records the primary's position, if it moved since the last sighting. */
  record(position: GtidPosition, at: number): void {
    const last = this.sightings[this.sightings.length - 1];
    if (last && samePosition(last.position, position)) return;
    this.sightings.push({ position, at });
    if (this.sightings.length > this.capacity) this.sightings.shift();
  }

  /** The primary's last seen position. */
  latest(): GtidPosition | undefined {
    return this.sightings[this.sightings.length - 1]?.position;
  }

  /** How far behind a replica at `position` is: 0 when it has what the primary last had. */
  lagMs(position: GtidPosition, now: number): number {
    // positions only grow, so the sightings the replica lacks are the newest ones: walk back
    // from the newest (one comparison for a replica that keeps up, not one per sighting
    // kept) to the oldest it lacks, the oldest missing write
    let oldest: Sighting | undefined;
    for (let i = this.sightings.length - 1; i >= 0; i--) {
      if (hasReached(position, this.sightings[i].position)) break;
      oldest = this.sightings[i];
    }
    return oldest ? Math.max(0, now - oldest.at) : 0;
  }

  /** Forgets everything (the primary changed). */
  clear(): void {
    this.sightings.length = 0;
  }
}
