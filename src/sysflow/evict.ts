// Bounded maps that forget their oldest entry in O(1). `map.keys().next()` on a Map that is
// used as a FIFO walks over every deleted slot at its front until V8 compacts the table, which
// made each eviction cost up to the map's size (the live mapper's file table at its cap). A live
// iterator kept across calls starts where the last eviction stopped instead; V8 keeps it valid
// across inserts, deletes and rehashes, and it reaches re-inserted keys again in their new order.

export class OldestFirst<K> {
  private it: Iterator<K> | null = null;

  constructor(private readonly map: Map<K, unknown> | Set<K>) {}

  /** Deletes the oldest key (insertion order); returns it, or undefined when the map is empty. */
  evict(): K | undefined {
    for (let round = 0; round < 2; round++) {
      this.it ??= this.map.keys();
      const r = this.it.next();
      if (!r.done) {
        this.map.delete(r.value);
        return r.value;
      }
      this.it = null; // ran past the end: start again from the current front
    }
    return undefined;
  }
}
