/** A worker thread of judge.ts: loads the policies once, then judges the batches it is sent. */
import { parentPort, workerData } from 'node:worker_threads';
import { loadFuzzPolicy } from './engine.js';
import { judgeBatch, type WorkerData } from './judge.js';

const data = workerData as WorkerData;
const policies = await Promise.all(data.policyPaths.map(loadFuzzPolicy));
parentPort?.on('message', ({ start, count }: { start: number; count: number }) => {
  parentPort?.postMessage(judgeBatch(data.seed, start, count, data.shells, policies));
});
