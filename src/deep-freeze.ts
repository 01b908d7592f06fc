/**
 * Freezes a value and everything it holds, for what is built once and then shared by every
 * caller (published schemas, remembered decisions): a caller that changed it would throw.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
