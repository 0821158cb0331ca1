//! Weights for `pallet_decentralml`: PROVISIONAL, estimated by hand from the
//! frame-omni-bencher 0.17.3 measurements of the previous version of the pallet (each
//! function says which measurement it starts from). Regenerate with
//! `scripts/generate_weights.sh` before relying on them.

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use frame::weights_prelude::*;

/// The weight of each call of `pallet_decentralml`.
pub trait WeightInfo {
	fn create_task() -> Weight;
	fn assign_task() -> Weight;
	fn commit_task_result() -> Weight;
	fn reveal_task_result() -> Weight;
	fn accept_task_result() -> Weight;
	fn reject_task_result() -> Weight;
	fn close_task(s: u32, ) -> Weight;
	fn time_out_slot() -> Weight;
	fn claim_reward() -> Weight;
	fn appeal_rejection() -> Weight;
	fn arbitrate() -> Weight;
	fn release_rejection() -> Weight;
	fn remove_task(s: u32, ) -> Weight;
}

/// Estimated weights, with the runtime's own database weights.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn create_task() -> Weight {
		// Estimated: create_task measured 53_114_000 + one more hold (~15 us).
		Weight::from_parts(68_000_000, 3593)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(8_u64))
	}
	fn assign_task() -> Weight {
		// Estimated: assign_task measured 24_967_000 + two holds (~30 us).
		Weight::from_parts(55_000_000, 7235)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(8_u64))
	}
	fn commit_task_result() -> Weight {
		// Estimated: as reject_task_result measured 21_225_000.
		Weight::from_parts(22_000_000, 7235)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	fn reveal_task_result() -> Weight {
		// Estimated: send_task_result measured 62_373_000 + a release, a hash index and the commitment hash.
		Weight::from_parts(85_000_000, 7235)
			.saturating_add(T::DbWeight::get().reads(7_u64))
			.saturating_add(T::DbWeight::get().writes(9_u64))
	}
	fn accept_task_result() -> Weight {
		// Estimated: accept_task_result measured 58_409_000 + reputation writes.
		Weight::from_parts(65_000_000, 7235)
			.saturating_add(T::DbWeight::get().reads(6_u64))
			.saturating_add(T::DbWeight::get().writes(7_u64))
	}
	fn reject_task_result() -> Weight {
		// Estimated: reject_task_result measured 21_225_000 + reputation writes.
		Weight::from_parts(27_000_000, 7235)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	/// `s` ranges over `[0, 256]`.
	fn close_task(s: u32, ) -> Weight {
		// Estimated: close_task measured 48_444_000 + 44_256_618 per submission, + a forfeit, a release and pruning per slot.
		Weight::from_parts(50_000_000, 7235)
			.saturating_add(Weight::from_parts(65_000_000, 0).saturating_mul(s.into()))
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().reads((4_u64).saturating_mul(s.into())))
			.saturating_add(T::DbWeight::get().writes(6_u64))
			.saturating_add(T::DbWeight::get().writes((7_u64).saturating_mul(s.into())))
			.saturating_add(Weight::from_parts(0, 4374).saturating_mul(s.into()))
	}
	fn time_out_slot() -> Weight {
		// Estimated: as one close_task slot plus the call's own reads.
		Weight::from_parts(65_000_000, 7235)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(9_u64))
	}
	fn claim_reward() -> Weight {
		// Estimated: as accept_task_result.
		Weight::from_parts(65_000_000, 7235)
			.saturating_add(T::DbWeight::get().reads(6_u64))
			.saturating_add(T::DbWeight::get().writes(7_u64))
	}
	fn appeal_rejection() -> Weight {
		// Estimated: as reject_task_result measured 21_225_000.
		Weight::from_parts(20_000_000, 7235)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	fn arbitrate() -> Weight {
		// Estimated: as accept_task_result plus pruning.
		Weight::from_parts(70_000_000, 7235)
			.saturating_add(T::DbWeight::get().reads(6_u64))
			.saturating_add(T::DbWeight::get().writes(9_u64))
	}
	fn release_rejection() -> Weight {
		// Estimated: two releases and pruning.
		Weight::from_parts(60_000_000, 7235)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(9_u64))
	}
	/// `s` ranges over `[0, 256]`.
	fn remove_task(s: u32, ) -> Weight {
		// Estimated: a release and pruning per submission.
		Weight::from_parts(40_000_000, 7235)
			.saturating_add(Weight::from_parts(35_000_000, 0).saturating_mul(s.into()))
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().reads((2_u64).saturating_mul(s.into())))
			.saturating_add(T::DbWeight::get().writes(4_u64))
			.saturating_add(T::DbWeight::get().writes((5_u64).saturating_mul(s.into())))
			.saturating_add(Weight::from_parts(0, 4374).saturating_mul(s.into()))
	}
}

/// For test runtimes: every call weighs nothing.
impl WeightInfo for () {
	fn create_task() -> Weight { Weight::zero() }
	fn assign_task() -> Weight { Weight::zero() }
	fn commit_task_result() -> Weight { Weight::zero() }
	fn reveal_task_result() -> Weight { Weight::zero() }
	fn accept_task_result() -> Weight { Weight::zero() }
	fn reject_task_result() -> Weight { Weight::zero() }
	fn close_task(_s: u32, ) -> Weight { Weight::zero() }
	fn time_out_slot() -> Weight { Weight::zero() }
	fn claim_reward() -> Weight { Weight::zero() }
	fn appeal_rejection() -> Weight { Weight::zero() }
	fn arbitrate() -> Weight { Weight::zero() }
	fn release_rejection() -> Weight { Weight::zero() }
	fn remove_task(_s: u32, ) -> Weight { Weight::zero() }
}
