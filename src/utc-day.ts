/**
 * The UTC day a time falls in, as the day counts of quotas and rate limits key it. Asked once or
 * twice per command: the last day's bounds are kept, so that a time inside them is answered
 * without a Date (toISOString cost ~10 µs per command in a serving process's profile).
 */

const DAY_MS = 86_400_000;

let day = '';
/** The first and the last-plus-one millisecond of `day`; empty until the first call. */
let from = 0;
let until = 0;

/** The UTC day of a time, `YYYY-MM-DD`: the day the commands of that time are counted in. */
export function utcDay(ms: number): string {
  if (ms >= from && ms < until) return day;
  const start = Math.floor(ms / DAY_MS) * DAY_MS;
  // The string of the day the time is in; remembered for the rest of that day only.
  [day, from, until] = [new Date(start).toISOString().slice(0, 10), start, start + DAY_MS];
  return day;
}

/** The first millisecond of the UTC day after the one `ms` falls in. */
export function nextUtcMidnight(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS + DAY_MS;
}
