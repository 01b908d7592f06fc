/**
 * The least an MCP server over stdio in Node does to answer its first tools/list: it reads
 * JSON-RPC lines, answers initialize (echoing the client's protocol version) and tools/list (no
 * tools), and loads nothing else. The start benchmark starts it on each Node it measures, as the
 * floor of that Node's start: what sshgate takes beyond it is sshgate's own.
 */
import { serveJsonLines } from './json-lines.js';

serveJsonLines((msg, answer) => {
  if (msg.method === 'initialize')
    answer({
      protocolVersion: msg.params?.protocolVersion ?? '2025-06-18',
      capabilities: { tools: {} },
      serverInfo: { name: 'start-floor', version: '1' },
    });
  else if (msg.method === 'tools/list') answer({ tools: [] });
  else answer({});
});
