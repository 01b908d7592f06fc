/**
 * The stdio side of the benchmark's reference servers (relay-server.ts, start-floor.ts): JSON-RPC
 * lines read from stdin, each request handed over with a way to answer it; notifications dropped.
 */
export interface LineRequest {
  id: unknown;
  method?: string;
  params?: { protocolVersion?: string; arguments?: { command?: string } };
}

export function serveJsonLines(onRequest: (msg: LineRequest, answer: (result: unknown) => void) => void): void {
  let buffered = '';
  process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const msg = JSON.parse(buffered.slice(0, nl)) as Partial<LineRequest>;
      buffered = buffered.slice(nl + 1);
      if (msg.id === undefined) continue;
      const { id } = msg;
      onRequest(msg as LineRequest, (result) => process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', id, result })}\n`));
    }
  });
}
