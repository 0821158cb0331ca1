//! Weights for `pallet_decentralml`, generated from its benchmarks by frame-omni-bencher
//! 53.0.0 on 2026-12-02 (steps 20, repeat 10, CPU `AMD EPYC`).
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
	fn commit_task_result() -> Weight;
	fn reveal_task_result() -> Weight;
	fn accept_task_result() -> Weight;
	fn reject_task_result() -> Weight;
	fn close_task(s: u32, ) -> Weight;
	fn close_judged_task(s: u32, ) -> Weight;
	fn time_out_slot() -> Weight;
	fn claim_reward() -> Weight;
	fn appeal_rejection() -> Weight;
	fn arbitrate() -> Weight;
	fn release_rejection() -> Weight;
	fn remove_task(s: u32, ) -> Weight;
	fn create_campaign_task() -> Weight;
	fn start_campaign() -> Weight;
	fn release_slot() -> Weight;
}

/// Measured weights, with the runtime's own database weights.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn create_task() -> Weight {
		// Proof size: measured `109`, estimated `3593` bytes.
		Weight::from_parts(178_046_000, 3593)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(7_u64))
	}
	fn assign_task() -> Weight {
		// Proof size: measured `2084`, estimated `7286` bytes.
		Weight::from_parts(203_934_000, 7286)
			.saturating_add(T::DbWeight::get().reads(6_u64))
			.saturating_add(T::DbWeight::get().writes(9_u64))
	}
	fn commit_task_result() -> Weight {
		// Proof size: measured `2162`, estimated `7286` bytes.
		Weight::from_parts(38_587_000, 7286)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	fn reveal_task_result() -> Weight {
		// Proof size: measured `2777`, estimated `7286` bytes.
		Weight::from_parts(171_436_000, 7286)
			.saturating_add(T::DbWeight::get().reads(9_u64))
			.saturating_add(T::DbWeight::get().writes(10_u64))
	}
	fn accept_task_result() -> Weight {
		// Proof size: measured `4308`, estimated `7286` bytes.
		Weight::from_parts(138_907_000, 7286)
			.saturating_add(T::DbWeight::get().reads(7_u64))
			.saturating_add(T::DbWeight::get().writes(8_u64))
	}
	fn reject_task_result() -> Weight {
		// Proof size: measured `3953`, estimated `7286` bytes.
		Weight::from_parts(60_850_000, 7286)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	/// `s` ranges over `[0, 256]`.
	fn close_task(s: u32, ) -> Weight {
		// Proof size: measured `2210`, estimated `7286` bytes.
		Weight::from_parts(1_257_730_175, 7286)
			.saturating_add(Weight::from_parts(155_471_078, 0).saturating_mul(s.into()))
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().reads((6_u64).saturating_mul(s.into())))
			.saturating_add(T::DbWeight::get().writes(4_u64))
			.saturating_add(T::DbWeight::get().writes((8_u64).saturating_mul(s.into())))
			.saturating_add(Weight::from_parts(0, 4457).saturating_mul(s.into()))
	}
	/// `s` ranges over `[0, 256]`.
	fn close_judged_task(s: u32, ) -> Weight {
		// Proof size: measured `2210`, estimated `7286` bytes.
		Weight::from_parts(97_796_000, 7286)
			.saturating_add(Weight::from_parts(182_760_966, 0).saturating_mul(s.into()))
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().reads((6_u64).saturating_mul(s.into())))
			.saturating_add(T::DbWeight::get().writes(4_u64))
			.saturating_add(T::DbWeight::get().writes((8_u64).saturating_mul(s.into())))
			.saturating_add(Weight::from_parts(0, 4457).saturating_mul(s.into()))
	}
	fn time_out_slot() -> Weight {
		// Proof size: measured `2679`, estimated `7286` bytes.
		Weight::from_parts(182_632_000, 7286)
			.saturating_add(T::DbWeight::get().reads(7_u64))
			.saturating_add(T::DbWeight::get().writes(10_u64))
	}
	fn claim_reward() -> Weight {
		// Proof size: measured `4308`, estimated `7286` bytes.
		Weight::from_parts(120_219_000, 7286)
			.saturating_add(T::DbWeight::get().reads(7_u64))
			.saturating_add(T::DbWeight::get().writes(8_u64))
	}
	fn appeal_rejection() -> Weight {
		// Proof size: measured `2315`, estimated `5447` bytes.
		Weight::from_parts(24_777_000, 5447)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	fn arbitrate() -> Weight {
		// Proof size: measured `4570`, estimated `7286` bytes.
		Weight::from_parts(145_277_000, 7286)
			.saturating_add(T::DbWeight::get().reads(7_u64))
			.saturating_add(T::DbWeight::get().writes(8_u64))
	}
	fn release_rejection() -> Weight {
		// Proof size: measured `4552`, estimated `7286` bytes.
		Weight::from_parts(187_309_000, 7286)
			.saturating_add(T::DbWeight::get().reads(8_u64))
			.saturating_add(T::DbWeight::get().writes(11_u64))
	}
	/// `s` ranges over `[0, 256]`.
	fn remove_task(s: u32, ) -> Weight {
		// Proof size: measured `2272`, estimated `7286` bytes.
		Weight::from_parts(233_744_424, 7286)
			.saturating_add(Weight::from_parts(97_476_811, 0).saturating_mul(s.into()))
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().reads((6_u64).saturating_mul(s.into())))
			.saturating_add(T::DbWeight::get().writes(5_u64))
			.saturating_add(T::DbWeight::get().writes((8_u64).saturating_mul(s.into())))
			.saturating_add(Weight::from_parts(0, 4457).saturating_mul(s.into()))
	}
	fn create_campaign_task() -> Weight {
		// Proof size: measured `4318`, estimated `7286` bytes.
		Weight::from_parts(133_770_000, 7286)
			.saturating_add(T::DbWeight::get().reads(6_u64))
			.saturating_add(T::DbWeight::get().writes(9_u64))
	}
	fn start_campaign() -> Weight {
		// Proof size: measured `109`, estimated `3593` bytes.
		Weight::from_parts(128_452_000, 3593)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(10_u64))
	}
	fn release_slot() -> Weight {
		// Proof size: measured `2643`, estimated `7286` bytes.
		Weight::from_parts(123_304_000, 7286)
			.saturating_add(T::DbWeight::get().reads(7_u64))
			.saturating_add(T::DbWeight::get().writes(10_u64))
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
	fn close_judged_task(_s: u32, ) -> Weight { Weight::zero() }
	fn time_out_slot() -> Weight { Weight::zero() }
	fn claim_reward() -> Weight { Weight::zero() }
	fn appeal_rejection() -> Weight { Weight::zero() }
	fn arbitrate() -> Weight { Weight::zero() }
	fn release_rejection() -> Weight { Weight::zero() }
	fn remove_task(_s: u32, ) -> Weight { Weight::zero() }
	fn create_campaign_task() -> Weight { Weight::zero() }
	fn start_campaign() -> Weight { Weight::zero() }
	fn release_slot() -> Weight { Weight::zero() }
}
