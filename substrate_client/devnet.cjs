// The local dev chain: Chopsticks, through its own library, running our raw chain spec.
//
//   node devnet.cjs CHOPSTICKS_DIR GENESIS HOST PORT MODE
//
// MODE "instant": a block as soon as a transaction arrives, and the transactions that
// arrive while a block is being built go together in the next one. Chopsticks' own
// "Instant" mode queues one block per transaction instead: when several clients send at
// once (contributors finishing a round together), each waits behind the others' blocks,
// and a block costs ~0.35 s of the WebAssembly interpreter whether it holds one
// transaction or several. MODE "batch": Chopsticks' own, one block for the transactions
// that arrive within ~0.1 s of each other.
'use strict';

const path = require('path');

const [chopsticksDir, genesis, host, port, mode] = process.argv.slice(2);
if (!chopsticksDir || !genesis || !host || !port || !['instant', 'batch'].includes(mode)) {
  console.error('usage: node devnet.cjs CHOPSTICKS_DIR GENESIS HOST PORT instant|batch');
  process.exit(2);
}
const { setupWithServer } = require(path.join(chopsticksDir, 'dist', 'cjs', 'index.js'));

// Build blocks while transactions are waiting, one block at a time, each taking every
// transaction that has arrived by the time it starts.
function buildAsTransactionsArrive(pool) {
  const submit = pool.submitExtrinsic.bind(pool);
  let building = false;
  async function buildWhilePending() {
    if (building) return;
    building = true;
    try {
      while (pool.pendingExtrinsics.length > 0) {
        const before = new Set(pool.pendingExtrinsics);
        await pool.buildBlock();
        // Chopsticks puts back a transaction that failed to apply: when only such are
        // left, wait for the next arrival instead of building blocks for them forever.
        if (pool.pendingExtrinsics.every((extrinsic) => before.has(extrinsic))) break;
      }
    } catch (error) {
      console.error('building a block failed:', error);
    } finally {
      building = false;
    }
  }
  pool.submitExtrinsic = async (extrinsic) => {
    await submit(extrinsic);
    buildWhilePending();
  };
}

async function main() {
  const chain = await setupWithServer({
    genesis,
    host,
    port: Number(port),
    'build-block-mode': mode === 'batch' ? 'Batch' : 'Manual',
  });
  if (mode === 'instant') buildAsTransactionsArrive(chain.chain.txPool);
  for (const signal of ['SIGTERM', 'SIGINT']) {
    process.on(signal, () => {
      console.error(`the dev chain stops (${signal})`);
      chain.close().finally(() => process.exit(0));
    });
  }
}

// An error of one request (a malformed transaction, a failed block) is logged; the
// chain keeps serving the others.
process.on('unhandledRejection', (error) => console.error('error (the dev chain keeps running):', error));

main().catch((error) => {
  console.error('the dev chain did not start:', error);
  process.exit(1);
});
