/**
 * The memos' one eviction rule: a Map that keeps at most `max` entries, the oldest going first
 * (Maps iterate in insertion order). For caches of what is cheap to make again.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  if (!map.has(key) && map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}
