/** Server start to the first tools/list answer: spawn, MCP initialize, tools/list. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { join, resolve } from 'node:path';
import { removeConfig, writeConfig } from '../test/support/mcp.js';
import { startFleet } from '../test/support/sshd.js';
import { median, p90, time, type Section } from './stats.js';

const ROUNDS = Number(process.env.BENCH_START_ROUNDS ?? 10);

export async function startup(): Promise<Section> {
  const fleet = await startFleet(1, { subnet: 94 });
  const dir = writeConfig(fleet, { hosts: fleet.hosts });
  let ms: number[] = [];
  try {
    ms = await time(ROUNDS, async () => {
      const client = new Client({ name: 'bench', version: '1' });
      await client.connect(
        new StdioClientTransport({
          command: process.execPath,
          args: [resolve('dist/cli.js'), 'serve', '--config', join(dir, 'config'), '--policy', join(dir, 'policies'), '--log-level', 'warn'],
          env: { PATH: process.env.PATH ?? '', SSHGATE_STATE_DIR: join(dir, 'state') },
        }),
      );
      await client.listTools();
      await client.close();
    });
  } finally {
    await fleet.stop();
    removeConfig(dir);
  }
  return {
    title: `Server start to the first tools/list answer (N=${ROUNDS})`,
    table: ['| runs | median ms | p90 ms |', '|---:|---:|---:|', `| ${ms.length} | ${median(ms).toFixed(0)} | ${p90(ms).toFixed(0)} |`],
    bars: [{ bar: 'start < 500 ms', met: median(ms) < 500, figure: `${median(ms).toFixed(0)} ms` }],
  };
}
