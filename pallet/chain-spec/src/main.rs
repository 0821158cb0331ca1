//! Writes the raw chain spec of the DecentralML runtime: the `development` genesis
//! preset built into storage, plus the runtime wasm under `:code`. Chopsticks
//! (`--genesis`) and `polkadot-omni-node` (`--chain`) both start from it.
//!
//! Usage: decentralml-chain-spec OUTPUT.json

use decentralml_runtime::{genesis_config_presets, RuntimeGenesisConfig, WASM_BINARY};
use frame::deps::sp_runtime::BuildStorage;
use serde_json::{json, Map, Value};
use std::{env, fs, process::ExitCode};

fn main() -> ExitCode {
	let Some(output) = env::args().nth(1) else {
		eprintln!("usage: decentralml-chain-spec OUTPUT.json");
		return ExitCode::from(2);
	};
	match write_chain_spec(&output) {
		Ok(()) => ExitCode::SUCCESS,
		Err(error) => {
			eprintln!("error: {error}");
			ExitCode::FAILURE
		},
	}
}

fn write_chain_spec(output: &str) -> Result<(), String> {
	let wasm = WASM_BINARY.ok_or("the runtime was built without wasm (SKIP_WASM_BUILD is set)")?;
	let mut config =
		serde_json::to_value(RuntimeGenesisConfig::default()).map_err(|e| e.to_string())?;
	merge(&mut config, genesis_config_presets::development_config_genesis());
	let config: RuntimeGenesisConfig =
		serde_json::from_value(config).map_err(|e| format!("genesis preset: {e}"))?;
	let mut storage = config.build_storage()?;
	storage.top.insert(b":code".to_vec(), wasm.to_vec());

	let top: Map<String, Value> =
		storage.top.iter().map(|(k, v)| (hex(k), Value::String(hex(v)))).collect();
	let spec = json!({
		"name": "DecentralML Development",
		"id": "decentralml_dev",
		"chainType": "Development",
		"bootNodes": [],
		"telemetryEndpoints": null,
		"protocolId": "decentralml",
		"properties": { "tokenDecimals": 12, "tokenSymbol": "DML", "ss58Format": 42 },
		// Read by polkadot-omni-node; Chopsticks ignores them.
		"relay_chain": "dev",
		"para_id": 1000,
		"codeSubstitutes": {},
		"genesis": { "raw": { "top": top, "childrenDefault": {} } }
	});
	let text = serde_json::to_string_pretty(&spec).map_err(|e| e.to_string())?;
	fs::write(output, text + "\n").map_err(|e| format!("{output}: {e}"))
}

/// Applies a JSON patch the way genesis presets are meant to be applied: objects
/// merge key by key, anything else replaces.
fn merge(base: &mut Value, patch: Value) {
	match (base, patch) {
		(Value::Object(base), Value::Object(patch)) =>
			for (key, value) in patch {
				merge(base.entry(key).or_insert(Value::Null), value);
			},
		(base, patch) => *base = patch,
	}
}

fn hex(bytes: &[u8]) -> String {
	let mut text = String::with_capacity(2 + bytes.len() * 2);
	text.push_str("0x");
	for byte in bytes {
		text.push_str(&format!("{byte:02x}"));
	}
	text
}
