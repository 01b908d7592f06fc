/**
 * The least an MCP server over stdio in Node does to answer its first tools/list: it reads
 * JSON-RPC lines, answers initialize (echoing the client's protocol version) and tools/list (no
 * tools), and loads nothing. The start benchmark starts it on each Node it measures, as the floor
 * of that Node's start: what sshgate takes beyond it is sshgate's own.
 */
const answer = (id: unknown, result: unknown) => process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id, result })}\n`);
let buffered = '';
process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
  buffered += chunk;
  let nl: number;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const msg = JSON.parse(buffered.slice(0, nl)) as { id?: unknown; method?: string; params?: { protocolVersion?: string } };
    buffered = buffered.slice(nl + 1);
    if (msg.id === undefined) continue;
    if (msg.method === 'initialize')
      answer(msg.id, {
        protocolVersion: msg.params?.protocolVersion ?? '2025-06-18',
        capabilities: { tools: {} },
        serverInfo: { name: 'start-floor', version: '1' },
      });
    else if (msg.method === 'tools/list') answer(msg.id, { tools: [] });
    else answer(msg.id, {});
  }
});
