//! The DecentralML runtime: a solochain with balances, fees, sudo, batching and the
//! marketplace pallet. Aura produces its blocks and GRANDPA finalizes them, with the
//! authorities fixed at genesis (no staking or sessions: the validators are whoever the
//! chain spec names), so it runs on a network of `decentralml-node`s and, one block at a
//! time, under Chopsticks.

#![cfg_attr(not(feature = "std"), no_std)]

// The wasm blob, for the chain-spec writer.
#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

use alloc::vec::Vec;
use frame::{
	deps::{
		frame_support::{
			genesis_builder_helper::{build_state, get_preset},
			weights::{constants::RocksDbWeight, ConstantMultiplier, IdentityFee},
		},
		sp_genesis_builder,
	},
	runtime::{apis, prelude::*},
};
use pallet_transaction_payment::{FeeDetails, RuntimeDispatchInfo};

pub mod genesis_config_presets;

/// Aura's slot: a block every 6 s when every validator is up.
pub const MILLI_SECS_PER_BLOCK: u64 = 6_000;

/// One token has 12 decimals.
pub const UNIT: Balance = 1_000_000_000_000;
pub const MILLI_UNIT: Balance = UNIT / 1_000;

#[runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("decentralml"),
	impl_name: alloc::borrow::Cow::Borrowed("decentralml"),
	authoring_version: 1,
	spec_version: 105,
	impl_version: 1,
	apis: RUNTIME_API_VERSIONS,
	transaction_version: 2,
	system_version: 1,
};

#[cfg(feature = "std")]
pub fn native_version() -> NativeVersion {
	NativeVersion { runtime_version: VERSION, can_author_with: Default::default() }
}

/// The transaction extensions, in the order substrate-interface and @polkadot/api
/// both know how to sign: every one either carries no data or is one they encode.
pub type TxExtension = (
	frame_system::CheckNonZeroSender<Runtime>,
	frame_system::CheckSpecVersion<Runtime>,
	frame_system::CheckTxVersion<Runtime>,
	frame_system::CheckGenesis<Runtime>,
	frame_system::CheckEra<Runtime>,
	frame_system::CheckNonce<Runtime>,
	frame_system::CheckWeight<Runtime>,
	pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
	frame_system::WeightReclaim<Runtime>,
);

#[frame_construct_runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Runtime;

	#[runtime::pallet_index(0)]
	pub type System = frame_system::Pallet<Runtime>;

	/// Chopsticks always applies the timestamp inherent.
	#[runtime::pallet_index(1)]
	pub type Timestamp = pallet_timestamp::Pallet<Runtime>;

	#[runtime::pallet_index(2)]
	pub type Balances = pallet_balances::Pallet<Runtime>;

	#[runtime::pallet_index(3)]
	pub type Sudo = pallet_sudo::Pallet<Runtime>;

	#[runtime::pallet_index(4)]
	pub type TransactionPayment = pallet_transaction_payment::Pallet<Runtime>;

	/// `batch_all`, so a creator can accept many results in one transaction.
	#[runtime::pallet_index(5)]
	pub type Utility = pallet_utility::Pallet<Runtime>;

	#[runtime::pallet_index(6)]
	pub type Aura = pallet_aura::Pallet<Runtime>;

	#[runtime::pallet_index(7)]
	pub type Grandpa = pallet_grandpa::Pallet<Runtime>;

	#[runtime::pallet_index(10)]
	pub type DecentralML = pallet_decentralml::Pallet<Runtime>;
}

parameter_types! {
	pub const Version: RuntimeVersion = VERSION;
	/// Fees are charged per byte as well as per unit of weight.
	pub const TransactionByteFee: Balance = MILLI_UNIT / 1_000;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type DbWeight = RocksDbWeight;
	/// The generic Substrate address format, as the chain spec's properties say.
	type SS58Prefix = ConstU16<42>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Runtime {
	// substrate-interface decodes runtime-API balances as u128.
	type Balance = Balance;
	type ExistentialDeposit = ConstU128<MILLI_UNIT>;
	type AccountStore = System;
	type RuntimeHoldReason = RuntimeHoldReason;
}

#[derive_impl(pallet_sudo::config_preludes::TestDefaultConfig)]
impl pallet_sudo::Config for Runtime {}

impl pallet_timestamp::Config for Runtime {
	type Moment = u64;
	/// Aura's slot comes from the timestamp.
	type OnTimestampSet = Aura;
	type MinimumPeriod = ConstU64<{ MILLI_SECS_PER_BLOCK / 2 }>;
	type WeightInfo = ();
}

/// At most this many validators; the development preset names three.
pub const MAX_AUTHORITIES: u32 = 32;

impl pallet_aura::Config for Runtime {
	type AuthorityId = AuraId;
	type DisabledValidators = ();
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	/// Chopsticks builds a block per transaction, each in a slot of its own, and so does
	/// a network: one block per slot.
	type AllowMultipleBlocksPerSlot = ConstBool<false>;
	type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	type MaxNominators = ConstU32<0>;
	type MaxSetIdSessionEntries = ConstU64<0>;
	/// No staking: an equivocation cannot be proven against a stake, so none is reported.
	type KeyOwnerProof = frame::deps::sp_core::Void;
	type EquivocationReportSystem = ();
}

/// The keys a validator's node holds: Aura's to author blocks, GRANDPA's to vote.
pub mod opaque {
	use super::*;
	pub type Block = frame::runtime::types_common::OpaqueBlock;

	frame::deps::sp_runtime::impl_opaque_keys! {
		pub struct SessionKeys {
			pub aura: Aura,
			pub grandpa: Grandpa,
		}
	}
}

pub type AuraId = apis::sr25519::AuthorityId;

#[derive_impl(pallet_transaction_payment::config_preludes::TestDefaultConfig)]
impl pallet_transaction_payment::Config for Runtime {
	type OnChargeTransaction = pallet_transaction_payment::FungibleAdapter<Balances, ()>;
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee = ConstantMultiplier<Balance, TransactionByteFee>;
}

impl pallet_utility::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type PalletsOrigin = OriginCaller;
	type WeightInfo = pallet_utility::weights::SubstrateWeight<Runtime>;
}

/// Deadlines of the marketplace, in blocks of 6 s (nominal).
pub const MINUTES: BlockNumber = 10;
pub const HOURS: BlockNumber = 60 * MINUTES;
pub const DAYS: BlockNumber = 24 * HOURS;

impl pallet_decentralml::Config for Runtime {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	/// Root (sudo) decides appeals on the dev chain.
	type ArbiterOrigin = EnsureRoot<AccountId>;
	type MaxAssignments = ConstU32<256>;
	/// A week.
	type MaxTaskDuration = ConstU32<{ 7 * DAYS }>;
	/// An hour to commit after taking a slot.
	type ResultTimeout = ConstU32<HOURS>;
	/// Ten minutes to reveal after committing.
	type RevealWindow = ConstU32<{ 10 * MINUTES }>;
	/// Two hours to review a revealed result.
	type ReviewPeriod = ConstU32<{ 2 * HOURS }>;
	/// Two hours to appeal a rejection.
	type AppealPeriod = ConstU32<{ 2 * HOURS }>;
	/// A day before a closed task can be removed.
	type RemovalDelay = ConstU32<DAYS>;
	type AssignmentDeposit = ConstU128<UNIT>;
	type TaskDeposit = ConstU128<{ UNIT / 10 }>;
	type SubmissionDeposit = ConstU128<{ UNIT / 20 }>;
	type WeightInfo = pallet_decentralml::weights::SubstrateWeight<Runtime>;
}

pub type Balance = u128;
pub type BlockNumber = u32;
pub type AccountId = <Runtime as frame_system::Config>::AccountId;
pub type Nonce = <Runtime as frame_system::Config>::Nonce;
pub type Block = frame::runtime::types_common::BlockOf<Runtime, TxExtension>;
type Header = HeaderFor<Runtime>;
type RuntimeExecutive = Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
	Migrations,
>;

/// Storage migrations run on a runtime upgrade; each checks the stored version first, so
/// on a chain already at the new version (or a new chain) it does nothing.
pub type Migrations = (
	pallet_decentralml::migrations::v1::MigrateV0ToV1<Runtime>,
	pallet_decentralml::migrations::v2::MigrateV1ToV2<Runtime>,
);

// The pallets frame-omni-bencher measures (scripts/generate_weights.sh).
#[cfg(feature = "runtime-benchmarks")]
#[macro_use]
mod benches {
	use frame::deps::frame_benchmarking;
	frame_benchmarking::define_benchmarks!([pallet_decentralml, DecentralML]);
}

impl_runtime_apis! {
	impl apis::Core<Block> for Runtime {
		fn version() -> RuntimeVersion {
			VERSION
		}

		fn execute_block(block: <Block as frame::traits::Block>::LazyBlock) {
			RuntimeExecutive::execute_block(block)
		}

		fn initialize_block(header: &Header) -> ExtrinsicInclusionMode {
			RuntimeExecutive::initialize_block(header)
		}
	}

	impl apis::Metadata<Block> for Runtime {
		fn metadata() -> OpaqueMetadata {
			OpaqueMetadata::new(Runtime::metadata().into())
		}

		fn metadata_at_version(version: u32) -> Option<OpaqueMetadata> {
			Runtime::metadata_at_version(version)
		}

		fn metadata_versions() -> Vec<u32> {
			Runtime::metadata_versions()
		}
	}

	impl apis::BlockBuilder<Block> for Runtime {
		fn apply_extrinsic(extrinsic: ExtrinsicFor<Runtime>) -> ApplyExtrinsicResult {
			RuntimeExecutive::apply_extrinsic(extrinsic)
		}

		fn finalize_block() -> HeaderFor<Runtime> {
			RuntimeExecutive::finalize_block()
		}

		fn inherent_extrinsics(data: InherentData) -> Vec<ExtrinsicFor<Runtime>> {
			data.create_extrinsics()
		}

		fn check_inherents(
			block: <Block as frame::traits::Block>::LazyBlock,
			data: InherentData,
		) -> CheckInherentsResult {
			data.check_extrinsics(&block)
		}
	}

	impl apis::TaggedTransactionQueue<Block> for Runtime {
		fn validate_transaction(
			source: TransactionSource,
			tx: ExtrinsicFor<Runtime>,
			block_hash: <Runtime as frame_system::Config>::Hash,
		) -> TransactionValidity {
			RuntimeExecutive::validate_transaction(source, tx, block_hash)
		}
	}

	impl apis::OffchainWorkerApi<Block> for Runtime {
		fn offchain_worker(header: &HeaderFor<Runtime>) {
			RuntimeExecutive::offchain_worker(header)
		}
	}

	impl apis::SessionKeys<Block> for Runtime {
		fn generate_session_keys(seed: Option<Vec<u8>>) -> Vec<u8> {
			opaque::SessionKeys::generate(seed)
		}

		fn decode_session_keys(
			encoded: Vec<u8>,
		) -> Option<Vec<(Vec<u8>, apis::KeyTypeId)>> {
			opaque::SessionKeys::decode_into_raw_public_keys(&encoded)
		}
	}

	impl apis::AuraApi<Block, AuraId> for Runtime {
		fn slot_duration() -> apis::SlotDuration {
			apis::SlotDuration::from_millis(Aura::slot_duration())
		}

		fn authorities() -> Vec<AuraId> {
			pallet_aura::Authorities::<Runtime>::get().into_inner()
		}
	}

	impl apis::GrandpaApi<Block> for Runtime {
		fn grandpa_authorities() -> apis::AuthorityList {
			Grandpa::grandpa_authorities()
		}

		fn current_set_id() -> apis::SetId {
			Grandpa::current_set_id()
		}

		fn submit_report_equivocation_unsigned_extrinsic(
			_equivocation_proof: apis::EquivocationProof<
				<Block as frame::traits::Block>::Hash,
				BlockNumber,
			>,
			_key_owner_proof: apis::OpaqueKeyOwnershipProof,
		) -> Option<()> {
			None
		}

		fn generate_key_ownership_proof(
			_set_id: apis::SetId,
			_authority_id: apis::AuthorityId,
		) -> Option<apis::OpaqueKeyOwnershipProof> {
			// No staking, so no key-ownership proofs (see `KeyOwnerProof`).
			None
		}
	}

	impl apis::AccountNonceApi<Block, AccountId, Nonce> for Runtime {
		fn account_nonce(account: AccountId) -> Nonce {
			System::account_nonce(account)
		}
	}

	impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentApi<
		Block,
		Balance,
	> for Runtime {
		fn query_info(uxt: ExtrinsicFor<Runtime>, len: u32) -> RuntimeDispatchInfo<Balance> {
			TransactionPayment::query_info(uxt, len)
		}
		fn query_fee_details(uxt: ExtrinsicFor<Runtime>, len: u32) -> FeeDetails<Balance> {
			TransactionPayment::query_fee_details(uxt, len)
		}
		fn query_weight_to_fee(weight: Weight) -> Balance {
			TransactionPayment::weight_to_fee(weight)
		}
		fn query_length_to_fee(length: u32) -> Balance {
			TransactionPayment::length_to_fee(length)
		}
	}

	#[cfg(feature = "runtime-benchmarks")]
	impl frame::deps::frame_benchmarking::Benchmark<Block> for Runtime {
		fn benchmark_metadata(extra: bool) -> (
			Vec<frame::deps::frame_benchmarking::BenchmarkList>,
			Vec<frame::deps::frame_support::traits::StorageInfo>,
		) {
			use frame::deps::{frame_benchmarking::BenchmarkList, frame_support::traits::StorageInfoTrait};
			let mut list = Vec::<BenchmarkList>::new();
			list_benchmarks!(list, extra);
			(list, AllPalletsWithSystem::storage_info())
		}

		fn dispatch_benchmark(
			config: frame::deps::frame_benchmarking::BenchmarkConfig,
		) -> Result<Vec<frame::deps::frame_benchmarking::BenchmarkBatch>, alloc::string::String> {
			use frame::deps::{
				frame_benchmarking::BenchmarkBatch,
				frame_support::traits::{TrackedStorageKey, WhitelistedStorageKeys},
			};
			let whitelist: Vec<TrackedStorageKey> = AllPalletsWithSystem::whitelisted_storage_keys();
			let mut batches = Vec::<BenchmarkBatch>::new();
			let params = (&config, &whitelist);
			add_benchmarks!(params, batches);
			Ok(batches)
		}
	}

	impl apis::GenesisBuilder<Block> for Runtime {
		fn build_state(config: Vec<u8>) -> sp_genesis_builder::Result {
			build_state::<RuntimeGenesisConfig>(config)
		}

		fn get_preset(id: &Option<sp_genesis_builder::PresetId>) -> Option<Vec<u8>> {
			get_preset::<RuntimeGenesisConfig>(id, genesis_config_presets::get_preset)
		}

		fn preset_names() -> Vec<sp_genesis_builder::PresetId> {
			genesis_config_presets::preset_names()
		}
	}
}
