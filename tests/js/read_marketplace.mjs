// Reads the marketplace with @polkadot/api alone, from the chain's metadata (no
// hand-written type definitions), and prints what it found as JSON:
//   NODE_MODULES_DIR=... node read_marketplace.mjs WS_URL TASK_ID BLOCK_HASH
// The packages live in the project's cache, not beside this script.
import { createRequire } from 'node:module';

const require = createRequire(`${process.env.NODE_MODULES_DIR}/`);
const { ApiPromise, WsProvider } = require('@polkadot/api');

const [url, taskId, blockHash] = process.argv.slice(2);
const api = await ApiPromise.create({ provider: new WsProvider(url), noInitWarn: true });
try {
  const task = await api.query.decentralML.tasks(taskId);
  const events = await (await api.at(blockHash)).query.system.events();
  const ours = events
    .filter(({ event }) => event.section === 'decentralML')
    .map(({ event }) => ({ method: event.method, data: event.data.toHuman() }));
  console.log(JSON.stringify({
    specName: api.runtimeVersion.specName.toString(),
    maxAssignments: api.consts.decentralML.maxAssignments.toNumber(),
    reviewPeriod: api.consts.decentralML.reviewPeriod.toNumber(),
    task: task.unwrap().toHuman(),
    creatorStats: (await api.query.decentralML.creatorStats(task.unwrap().creator)).toHuman(),
    events: ours,
  }));
} finally {
  await api.disconnect();
}
