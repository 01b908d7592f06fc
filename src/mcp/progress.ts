/** MCP progress notifications for a call whose client sent a progress token. */
import type { ProgressSink } from '../gateway/gateway.js';
import type { CallContext } from './registry.js';

export function progressSink(ctx: CallContext): ProgressSink | undefined {
  const token = ctx.mcpReq._meta?.progressToken;
  if (token === undefined) return undefined;
  return ({ progress, total, message }) =>
    ctx.mcpReq
      .notify({
        method: 'notifications/progress',
        params: { progressToken: token, progress, ...(total !== undefined ? { total } : {}), message },
      })
      .catch(() => undefined);
}
