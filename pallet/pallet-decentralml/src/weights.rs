//! Weights for `pallet_decentralml`, generated from its benchmarks by frame-omni-bencher
//! 53.0.0 on 2026-11-22 (steps 20, repeat 10, CPU `Intel(R) Xeon(R) Processor`).
//! Regenerate with `scripts/generate_weights.sh`; do not edit by hand.

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use frame::weights_prelude::*;

/// The weight of each call of `pallet_decentralml`.
pub trait WeightInfo {
	fn create_task() -> Weight;
	fn assign_task() -> Weight;
	fn send_task_result() -> Weight;
	fn accept_task_result() -> Weight;
	fn reject_task_result() -> Weight;
	fn close_task(s: u32, ) -> Weight;
}

/// Measured weights, with the runtime's own database weights.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn create_task() -> Weight {
		// Proof size: measured `109`, estimated `3593` bytes.
		Weight::from_parts(53_114_000, 3593)
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(6_u64))
	}
	fn assign_task() -> Weight {
		// Proof size: measured `1845`, estimated `7235` bytes.
		Weight::from_parts(24_967_000, 7235)
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(6_u64))
	}
	fn send_task_result() -> Weight {
		// Proof size: measured `2359`, estimated `7235` bytes.
		Weight::from_parts(62_373_000, 7235)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(5_u64))
	}
	fn accept_task_result() -> Weight {
		// Proof size: measured `3936`, estimated `7235` bytes.
		Weight::from_parts(58_409_000, 7235)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(5_u64))
	}
	fn reject_task_result() -> Weight {
		// Proof size: measured `3638`, estimated `7235` bytes.
		Weight::from_parts(21_225_000, 7235)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(2_u64))
	}
	/// `s` ranges over `[0, 256]`.
	fn close_task(s: u32, ) -> Weight {
		// Proof size: measured `2069`, estimated `7235` bytes.
		Weight::from_parts(48_444_000, 7235)
			.saturating_add(Weight::from_parts(44_256_618, 0).saturating_mul(s.into()))
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().reads((3_u64).saturating_mul(s.into())))
			.saturating_add(T::DbWeight::get().writes(4_u64))
			.saturating_add(T::DbWeight::get().writes((2_u64).saturating_mul(s.into())))
			.saturating_add(Weight::from_parts(0, 4374).saturating_mul(s.into()))
	}
}

/// For test runtimes: every call weighs nothing.
impl WeightInfo for () {
	fn create_task() -> Weight { Weight::zero() }
	fn assign_task() -> Weight { Weight::zero() }
	fn send_task_result() -> Weight { Weight::zero() }
	fn accept_task_result() -> Weight { Weight::zero() }
	fn reject_task_result() -> Weight { Weight::zero() }
	fn close_task(_s: u32, ) -> Weight { Weight::zero() }
}
