/** MCP progress notifications for a call whose client sent a progress token. */
import type { ProgressSink } from '../gateway/gateway.js';
import type { Extra } from './registry.js';

export function progressSink(extra: Extra): ProgressSink | undefined {
  const token = extra._meta?.progressToken;
  if (token === undefined) return undefined;
  return ({ progress, total, message }) =>
    extra
      .sendNotification({
        method: 'notifications/progress',
        params: { progressToken: token, progress, ...(total !== undefined ? { total } : {}), message },
      })
      .catch(() => undefined);
}
