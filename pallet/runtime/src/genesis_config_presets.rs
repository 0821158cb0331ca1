//! Genesis presets. `development`: the well-known dev accounts (Alice … Ferdie) each
//! hold a million tokens, Alice is sudo, and Alice, Bob and Charlie are the validators
//! (Aura authors and GRANDPA voters, as `scripts/network.sh` starts them).

use crate::{AuraConfig, BalancesConfig, GrandpaConfig, RuntimeGenesisConfig, SudoConfig, UNIT};
use alloc::{vec, vec::Vec};
use frame::deps::{
	frame_support::build_struct_json_patch,
	sp_genesis_builder::PresetId,
	sp_keyring::{Ed25519Keyring, Sr25519Keyring},
};
use serde_json::Value;

/// The development network's validators.
pub const DEV_VALIDATORS: [(Sr25519Keyring, Ed25519Keyring); 3] = [
	(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
	(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
	(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
];

/// What each dev account starts with.
pub const DEV_ENDOWMENT: u128 = 1_000_000 * UNIT;

pub fn development_config_genesis() -> Value {
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: Sr25519Keyring::iter()
				.map(|account| (account.to_account_id(), DEV_ENDOWMENT))
				.collect::<Vec<_>>(),
		},
		sudo: SudoConfig { key: Some(Sr25519Keyring::Alice.to_account_id()) },
		aura: AuraConfig {
			authorities: DEV_VALIDATORS
				.iter()
				.map(|(aura, _)| aura.public().into())
				.collect::<Vec<_>>(),
		},
		grandpa: GrandpaConfig {
			authorities: DEV_VALIDATORS
				.iter()
				.map(|(_, grandpa)| (grandpa.public().into(), 1))
				.collect::<Vec<_>>(),
		},
	})
}

pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		frame::deps::sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
		_ => return None,
	};
	Some(serde_json::to_string(&patch).expect("a JSON value serializes").into_bytes())
}

pub fn preset_names() -> Vec<PresetId> {
	vec![PresetId::from(frame::deps::sp_genesis_builder::DEV_RUNTIME_PRESET)]
}
