//! `decentralml-node`: a solochain node for the DecentralML runtime. Aura authors a block
//! in each validator's slot, GRANDPA finalizes them, and the standard Substrate RPC (plus
//! nonces and fee estimates) serves clients. The runtime itself comes from the chain spec
//! given with `--chain`, so the node is built without the wasm and does not go stale when
//! only the pallet changes.

mod cli;
mod command;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
