/**
 * Listening for an abort that may already have happened: a cancel can arrive before the code
 * that honours it has started listening (a `notifications/cancelled` in the same write as its
 * call), and an AbortSignal fires its event only once.
 */
export function whenAborted(signal: AbortSignal | undefined, act: () => void): () => void {
  if (!signal) return () => undefined;
  if (signal.aborted) {
    act();
    return () => undefined;
  }
  signal.addEventListener('abort', act, { once: true });
  return () => signal.removeEventListener('abort', act);
}
