/**
 * The least an MCP server over stdio in Node can do for a warm call, as a reference for the warm
 * benchmark: it reads JSON-RPC lines, answers every request but tools/call with an empty result,
 * and runs a tools/call's `command` argument as it is on one open ssh2 connection, answering with
 * its output and exit code. No policy, no task, no log, no validation: the difference between it
 * and raw ssh2 is the process hop itself (pipes, wakeups, JSON), the rest of sshgate's row is
 * sshgate's. Started by warm-run.ts as `node relay-server.js HOST PORT USER KEY`.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import ssh2 from 'ssh2';
import { serveJsonLines } from './json-lines.js';

const [host = '', port = '', user = '', key = ''] = process.argv.slice(2);
const client = new ssh2.Client();
await new Promise<void>((resolve, reject) => {
  const sock = connect({ host, port: Number(port) });
  sock.setNoDelay(true);
  client.on('ready', () => resolve()).on('error', reject);
  client.connect({ sock, username: user, privateKey: readFileSync(key) });
});

serveJsonLines((msg, answer) => {
  if (msg.method !== 'tools/call') return answer({});
  client.exec(msg.params?.arguments?.command ?? 'true', (err, ch) => {
    if (err) return answer({ isError: true, content: [{ type: 'text', text: err.message }] });
    let out = '';
    ch.on('data', (d: Buffer) => (out += d.toString()));
    ch.stderr.resume();
    ch.on('close', (code: number | null) => answer({ content: [{ type: 'text', text: out }], structuredContent: { exit_code: code } }));
    ch.end();
  });
});
process.stdin.on('end', () => client.end());
