/**
 * Seeded pseudo-random numbers for the mocks: the same seed always yields the same sequence,
 * so generated data and injected faults are reproducible. Never use Math.random in the mocks.
 */

/** A function returning the next number of a deterministic sequence in [0, 1). */
export type Prng = () => number;

/** Creates a mulberry32 generator from a 32-bit integer seed. */
export function mulberry32(seed: number): Prng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Hashes a string to a 32-bit unsigned integer (FNV-1a), to derive seeds from names. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Creates a generator seeded from any string (e.g. `"faults:42:rate_429"`). */
export function prngFromString(text: string): Prng {
  return mulberry32(hashString(text));
}

/** Returns an integer in [min, max] (both inclusive). */
export function randInt(rand: Prng, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}

/** Picks one element of a non-empty list. */
export function pick<T>(rand: Prng, items: readonly T[]): T {
  const item = items[Math.floor(rand() * items.length)];
  if (item === undefined) throw new Error('pick() from an empty list');
  return item;
}

/** Picks `count` distinct elements of a list, in a deterministic shuffled order. */
export function pickDistinct<T>(rand: Prng, items: readonly T[], count: number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy.slice(0, Math.min(count, copy.length));
}
