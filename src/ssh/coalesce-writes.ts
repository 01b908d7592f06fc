/**
 * ssh2 hands its socket each packet in three or four writes (length, ciphertext, tag), and with
 * TCP_NODELAY each write is a syscall and a TCP segment of its own, which the host's sshd wakes up
 * for: an exec on a warm connection took twelve writes. Here the writes made in one synchronous
 * run of ssh2 are held (cork) and go out together as one writev when the run ends: the same bytes
 * in the same order, a third of the syscalls and segments.
 *
 * The run ends, for this, once its promise reactions have run too (uncork at setImmediate, not on
 * the next tick): when a channel closes, ssh2 writes its own close in the same run, and the task's
 * end reaches the MCP answer through a chain of promises; with the write held behind them, the
 * answer goes out first. 1,500 warm calls alternated: 4.12 vs 4.17 ms, 4.24 vs 4.29 ms. An exec
 * request is written from a packet's handler, whose check phase follows at once. What is held is
 * lost to a destroy() before then: sshgate ends its connections with end(), which sends it first.
 */
import type { Socket } from 'node:net';

export function coalesceWrites(socket: Socket): Socket {
  const write = socket.write.bind(socket);
  socket.write = ((...args: Parameters<Socket['write']>) => {
    if (socket.writableCorked === 0) {
      socket.cork();
      setImmediate(() => socket.uncork());
    }
    return write(...args);
  }) as Socket['write'];
  return socket;
}
