/**
 * The CPU time (user and system, in ms) this process spends in `fn`. Unlike the wall clock, it
 * does not grow while other work on a busy machine has the cores; vitest runs each test file in
 * a process of its own.
 */
export function cpuMs(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const spent = process.cpuUsage(before);
  return (spent.user + spent.system) / 1000;
}
