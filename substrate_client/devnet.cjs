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
//
// Two changes to how Chopsticks schedules its work, none to what it computes:
// - a new head's subscribers are told without holding back the next block (Chopsticks
//   awaits every subscriber's callback before the next block can start, and its
//   transaction watcher waits 100 ms in its callback to send "finalized" after "inBlock":
//   a block holding k watched transactions held the next one back k x 100 ms);
// - arriving transactions are validated on an executor thread of their own, so a
//   validation (a runtime call, ~60 ms) and the block being built do not queue behind
//   each other on Chopsticks' one executor thread.
'use strict';

const path = require('path');

const [chopsticksDir, genesis, host, port, mode] = process.argv.slice(2);
if (!chopsticksDir || !genesis || !host || !port || !['instant', 'batch'].includes(mode)) {
  console.error('usage: node devnet.cjs CHOPSTICKS_DIR GENESIS HOST PORT instant|batch');
  process.exit(2);
}
const { setupWithServer } = require(path.join(chopsticksDir, 'dist', 'cjs', 'index.js'));
const coreIndex = require.resolve('@acala-network/chopsticks-core', { paths: [chopsticksDir] });
const core = require(coreIndex);
const fromCore = (name) => require(require.resolve(name, { paths: [path.dirname(coreIndex)] }));
const comlink = fromCore('comlink');
const { u8aConcat, u8aToHex } = fromCore('@polkadot/util');
const { startWorker } = require(path.join(path.dirname(coreIndex), 'wasm-executor', 'node-worker.js'));

// Tell a new head's subscribers without waiting for them (see above); a failing one is logged.
function notifyHeadsWithoutWaiting() {
  const subscribeHead = core.HeadState.prototype.subscribeHead;
  core.HeadState.prototype.subscribeHead = function (callback) {
    return subscribeHead.call(this, (head) => {
      Promise.resolve()
        .then(() => callback(head))
        .catch((error) => console.error('a new-head subscriber failed:', error));
    });
  };
}

// Chopsticks' own validation (`Blockchain.validateExtrinsic`: the runtime's
// TaggedTransactionQueue_validate_transaction at the head), run on a second executor thread.
function validateOnThreadOfItsOwn() {
  let validator;
  let taskId = 0;
  core.Blockchain.prototype.validateExtrinsic = async function (extrinsic, source = '0x02' /* External */) {
    const head = this.head;
    validator ||= startWorker();
    const worker = await validator;
    const response = await worker.remote.runTask({
      id: taskId++,
      wasm: await head.wasm,
      calls: [['TaggedTransactionQueue_validate_transaction', [u8aToHex(u8aConcat(source, extrinsic, head.hash))]]],
      storageProofSize: 0,
      mockSignatureHost: this.mockSignatureHost ? 1 : 0,
      allowUnresolvedImports: this.allowUnresolvedImports,
      runtimeLogLevel: this.runtimeLogLevel,
    }, comlink.proxy(core.taskHandler(head)));
    if (!('Call' in response)) throw Error(response.Error || 'validating the transaction failed');
    const registry = await head.registry;
    return registry.createType('TransactionValidity', response.Call.result);
  };
  return async () => {
    if (validator) await (await validator).terminate();
  };
}

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

notifyHeadsWithoutWaiting();
const stopValidator = validateOnThreadOfItsOwn();

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
      Promise.allSettled([chain.close(), stopValidator()]).finally(() => process.exit(0));
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
