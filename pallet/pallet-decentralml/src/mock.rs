//! A test runtime: System, Balances and the marketplace, with u64 accounts and balances,
//! an existential deposit of 10 and short deadlines.

use crate as pallet_decentralml;
use frame::testing_prelude::*;

type Block = frame_system::mocking::MockBlock<Test>;

construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		DecentralML: pallet_decentralml,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u64>;
	// The dev runtime's database weights, so weight checks here mean the same there.
	type DbWeight = frame::deps::frame_support::weights::constants::RocksDbWeight;
}

pub const EXISTENTIAL_DEPOSIT: u64 = 10;

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
	type ExistentialDeposit = ConstU64<EXISTENTIAL_DEPOSIT>;
}

pub const MAX_TASK_DURATION: u64 = 1_000;
pub const RESULT_TIMEOUT: u64 = 20;
pub const REVEAL_WINDOW: u64 = 5;
pub const REVIEW_PERIOD: u64 = 10;
pub const APPEAL_PERIOD: u64 = 10;
pub const REMOVAL_DELAY: u64 = 30;
pub const ASSIGNMENT_DEPOSIT: u64 = 50;
pub const TASK_DEPOSIT: u64 = 20;
pub const SUBMISSION_DEPOSIT: u64 = 5;
pub const MAX_ASSIGNMENTS: u32 = 16;

impl pallet_decentralml::Config for Test {
	type Currency = Balances;
	type RuntimeHoldReason = RuntimeHoldReason;
	type ArbiterOrigin = frame_system::EnsureRoot<u64>;
	type MaxAssignments = ConstU32<MAX_ASSIGNMENTS>;
	type MaxTaskDuration = ConstU64<MAX_TASK_DURATION>;
	type ResultTimeout = ConstU64<RESULT_TIMEOUT>;
	type RevealWindow = ConstU64<REVEAL_WINDOW>;
	type ReviewPeriod = ConstU64<REVIEW_PERIOD>;
	type AppealPeriod = ConstU64<APPEAL_PERIOD>;
	type RemovalDelay = ConstU64<REMOVAL_DELAY>;
	type AssignmentDeposit = ConstU64<ASSIGNMENT_DEPOSIT>;
	type TaskDeposit = ConstU64<TASK_DEPOSIT>;
	type SubmissionDeposit = ConstU64<SUBMISSION_DEPOSIT>;
	type WeightInfo = ();
}

pub const ALICE: u64 = 1;
pub const BOB: u64 = 2;
pub const CHARLIE: u64 = 3;
pub const DAVE: u64 = 4;
pub const EVE: u64 = 5;
/// Has nothing, to prove funds are checked.
pub const PAUPER: u64 = 9;
/// Holds so much that one more reward would overflow its balance: a payment to it
/// cannot be made.
pub const WHALE: u64 = 77;
pub const INITIAL_BALANCE: u64 = 1_000_000;
pub const ACCOUNTS: [u64; 5] = [ALICE, BOB, CHARLIE, DAVE, EVE];

pub fn new_test_ext() -> TestState {
	ext_with(ACCOUNTS.iter().map(|who| (*who, INITIAL_BALANCE)).collect())
}

/// The five accounts plus `WHALE`, whose free balance is 60 below the largest u64, so
/// a reward of 100 cannot be paid to it until it spends some. No genesis can issue that
/// much beside the other accounts, so it is written into the account directly (total
/// issuance is then not the sum of balances, which nothing here relies on).
pub fn new_test_ext_with_whale() -> TestState {
	let mut balances: Vec<(u64, u64)> =
		ACCOUNTS.iter().map(|who| (*who, INITIAL_BALANCE)).collect();
	balances.push((WHALE, INITIAL_BALANCE));
	let mut ext = ext_with(balances);
	ext.execute_with(|| {
		frame_system::Account::<Test>::mutate(WHALE, |account| account.data.free = u64::MAX - 60)
	});
	ext
}

fn ext_with(balances: Vec<(u64, u64)>) -> TestState {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> { balances, ..Default::default() }
		.assimilate_storage(&mut storage)
		.unwrap();
	let mut ext = TestState::new(storage);
	// Events are only recorded from block 1 on.
	ext.execute_with(|| System::set_block_number(1));
	ext
}
