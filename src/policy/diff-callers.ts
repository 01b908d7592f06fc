/** Decision changes grouped across the callers a policy diff compares (diff.ts's callersToCompare). */

/** How one caller's decision changes: `key` names the way, `make` builds the entry (`as` in its place). */
export interface CallerChange<Change> {
  key: string;
  make: (as: string[]) => Change;
}

/**
 * One entry per way a decision changes, naming in `as` the callers it changes that way for (those
 * whose `changeFor` gives the same key share it), and no `as` when it changes so for every caller.
 * `changeFor` gives undefined for a caller it does not change for.
 */
export function changesByCaller<Caller extends { label: string }, Change extends { as?: string[] }>(
  callers: readonly Caller[],
  changeFor: (caller: Caller) => CallerChange<Change> | undefined,
): Change[] {
  const groups = new Map<string, Change>();
  for (const caller of callers) {
    const c = changeFor(caller);
    if (!c) continue;
    const group = groups.get(c.key);
    if (group) group.as?.push(caller.label);
    else groups.set(c.key, c.make([caller.label]));
  }
  const changes = [...groups.values()];
  for (const change of changes) if (change.as?.length === callers.length) delete change.as;
  return changes;
}
