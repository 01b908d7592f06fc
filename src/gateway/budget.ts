/**
 * Results sized for a model's context and for the transports that carry them. A tool result holds
 * its output twice — in structuredContent and in the JSON text copy — and JSON escaping can make a
 * byte cost up to 13 bytes there (a control byte: `\u0001`, then `\\u0001`). Clients refuse large
 * messages (the Python SDK's SSE reader stops at 1 MiB; agents cap tool output far lower), so no
 * message sshgate sends may exceed MESSAGE_LIMIT: output is cut by what it costs in the message,
 * never only by its byte count, and always at a character boundary.
 */

/** No JSON-RPC message sshgate sends is larger than this. */
export const MESSAGE_LIMIT = 512 * 1024;
/** What one output stream of one result may cost in a message: two streams and the rest fit. */
export const STREAM_COST = 248 * 1024;
/** Output an ssh_run result shows per stream unless max_bytes says otherwise, and the most it may. */
export const DEFAULT_INLINE_BYTES = 16_384;
export const MAX_INLINE_BYTES = 65_536;
/** The most one ssh_get_task_output call returns per stream. */
export const MAX_READ_BYTES = 131_072;
/** All hosts' output in one ssh_run_on_tag result, both streams: shared out evenly. */
export const FAN_OUT_INLINE_BYTES = 98_304;
/** What all hosts' output may cost in one ssh_run_on_tag result; the rest of it fits beside. */
export const FAN_OUT_OUTPUT_COST = 320 * 1024;
/** What a list of tasks may cost in a message; the newest come first, the rest are counted. */
export const LIST_COST = 400 * 1024;
/** What all hosts' outcomes may cost together: room is left for the summary and the envelope. */
export const FAN_OUT_RESULTS_COST = MESSAGE_LIMIT - 16 * 1024;

/**
 * What the byte costs in a tool result, both copies counted; a byte of a well-formed multi-byte
 * character costs 2 (JSON keeps non-ASCII as it is), and a byte of a malformed one at most 6 (the
 * decoder replaces each maximal bad subpart, one byte or more, by U+FFFD, 3 bytes).
 */
function asciiCost(byte: number): number {
  if (byte === 0x22 || byte === 0x5c) return 6; // \"  then  \\\"
  if (byte === 0x08 || byte === 0x09 || byte === 0x0a || byte === 0x0c || byte === 0x0d) return 5; // \n  then  \\n
  if (byte < 0x20) return 13; // \u0001  then  \\u0001
  return 2;
}

/** The length of the well-formed UTF-8 sequence starting at `i` (Unicode Table 3-7), or 0. */
function sequenceLength(b: Buffer, i: number): number {
  const lead = b[i] as number;
  const inRange = (j: number, lo = 0x80, hi = 0xbf) => j < b.length && (b[j] as number) >= lo && (b[j] as number) <= hi;
  if (lead >= 0xc2 && lead <= 0xdf) return inRange(i + 1) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    const [lo, hi] = lead === 0xe0 ? [0xa0, 0xbf] : lead === 0xed ? [0x80, 0x9f] : [0x80, 0xbf];
    return inRange(i + 1, lo, hi) && inRange(i + 2) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    const [lo, hi] = lead === 0xf0 ? [0x90, 0xbf] : lead === 0xf4 ? [0x80, 0x8f] : [0x80, 0xbf];
    return inRange(i + 1, lo, hi) && inRange(i + 2) && inRange(i + 3) ? 4 : 0;
  }
  return 0;
}

/**
 * Walks `b` character by character: calls `step(end, cost)` after each with the offset past it and
 * the cost so far; stops when `step` returns false.
 */
function walk(b: Buffer, step: (end: number, cost: number) => boolean): void {
  let cost = 0;
  let i = 0;
  while (i < b.length) {
    const byte = b[i] as number;
    if (byte < 0x80) {
      cost += asciiCost(byte);
      i += 1;
    } else {
      const n = sequenceLength(b, i);
      cost += n ? 2 * n : 6;
      i += n || 1;
    }
    if (!step(i, cost)) return;
  }
}

/** The cost of all of `b` in a tool result. */
export function messageCost(b: Buffer): number {
  let total = 0;
  walk(b, (_, cost) => ((total = cost), true));
  return total;
}

/** The longest prefix of `b` that ends on a character boundary and costs at most `maxCost`. */
export function prefixWithin(b: Buffer, maxCost: number): number {
  let fits = 0;
  walk(b, (end, cost) => {
    if (cost > maxCost) return false;
    fits = end;
    return true;
  });
  return fits;
}

/**
 * Where the longest suffix of `b` that starts on a character boundary and costs at most `maxCost`
 * begins. Leading continuation bytes (a character cut by whoever sliced `b`) are skipped.
 */
export function suffixWithin(b: Buffer, maxCost: number): number {
  let start = 0;
  while (start < b.length && start < 3 && ((b[start] as number) & 0xc0) === 0x80) start++;
  const body = b.subarray(start);
  const ends: number[] = [0];
  const costs: number[] = [0];
  walk(body, (end, cost) => (ends.push(end), costs.push(cost), true));
  const total = costs[costs.length - 1] as number;
  // The first boundary from which the rest fits: costs only grow, so a binary search finds it.
  let lo = 0;
  let hi = ends.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (total - (costs[mid] as number) <= maxCost) hi = mid;
    else lo = mid + 1;
  }
  return start + (ends[lo] as number);
}
