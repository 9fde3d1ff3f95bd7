/**
 * Percentage rollout by a stable key: a user lands in one of 100 buckets by a
 * hash of the flag name and the key (FNV-1a, 32 bit). The same user gets the
 * same answer on every instance and every request; raising the percentage only
 * adds users; and each flag draws its own users (the name is in the hash).
 */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The bucket (0-99) of `key` for flag `name`. */
export function rolloutBucket(name: string, key: string): number {
  return fnv1a32(`${name}:${key}`) % 100;
}

/** Whether `key` is among the `percent` % of keys the flag is on for. */
export function inRollout(name: string, key: string, percent: number): boolean {
  return rolloutBucket(name, key) < percent;
}
