//! Storage migrations of the pallet, run from the runtime's `Executive` migrations.

/// Version 0 to version 1: locations gain a `size` (0 for old records), tasks gain
/// `closed_at`, `live_submissions` and a storage `deposit` (0: nothing was held for old
/// records), submissions gain the commit, rejection-time and deposit fields. Old
/// rejected and cancelled submissions are pruned with their index entries (version 1
/// never stores them), and the content hashes of revealed results are indexed.
pub mod v1 {
	use crate::pallet::*;
	use crate::types::*;
	// Explicit, so the pallet's records win over same-named items of the prelude.
	use crate::types::{Location, Submission, SubmissionStatus};
	use alloc::{collections::btree_map::BTreeMap, vec::Vec};
	use frame::deps::frame_support::{
		migrations::VersionedMigration, traits::UncheckedOnRuntimeUpgrade,
	};
	use frame::prelude::*;

	/// The version 0 records, as they were stored.
	pub mod v0 {
		use super::*;

		#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
		pub struct Location {
			pub storage_type: StorageType,
			pub path: StoragePath,
			pub content_hash: [u8; 32],
		}

		#[derive(Encode, Decode, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
		pub enum SubmissionStatus {
			Assigned,
			Pending,
			Accepted,
			Rejected,
			Cancelled,
		}

		#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
		pub struct Task<AccountId, Balance, BlockNumber> {
			pub creator: AccountId,
			pub task_type: TaskType,
			pub question: Question,
			pub pays_amount: Balance,
			pub max_assignments: u32,
			pub expiration_block: BlockNumber,
			pub validation_strategy: ValidationStrategy,
			pub bundle: Location,
			pub result_public_key: Option<[u8; 32]>,
			pub annotation: Option<AnnotationSpec>,
			pub status: TaskStatus,
			pub created_at: BlockNumber,
			pub taken_slots: u32,
			pub pending: u32,
			pub accepted: u32,
			pub submissions: u32,
			pub escrow: Balance,
		}

		#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
		pub struct Submission<AccountId, BlockNumber> {
			pub task_id: TaskId,
			pub contributor: AccountId,
			pub status: SubmissionStatus,
			pub assigned_at: BlockNumber,
			pub submitted_at: Option<BlockNumber>,
			pub result: ResultText,
			pub result_location: Option<Location>,
			pub rejection_reason: Option<Reason>,
		}

		pub type TaskOf<T> =
			Task<<T as frame_system::Config>::AccountId, crate::BalanceOf<T>, BlockNumberFor<T>>;
		pub type SubmissionOf<T> =
			Submission<<T as frame_system::Config>::AccountId, BlockNumberFor<T>>;

		/// The version 0 task map, for writing old records in tests.
		#[frame::storage_alias]
		pub type Tasks<T: Config> = StorageMap<Pallet<T>, Twox64Concat, TaskId, TaskOf<T>>;

		/// The version 0 submission map, for writing old records in tests.
		#[frame::storage_alias]
		pub type Submissions<T: Config> =
			StorageMap<Pallet<T>, Twox64Concat, SubmissionId, SubmissionOf<T>>;
	}

	fn location(old: v0::Location) -> Location {
		Location {
			storage_type: old.storage_type,
			path: old.path,
			content_hash: old.content_hash,
			size: 0,
		}
	}

	/// The migration itself; run it through [`MigrateV0ToV1`], which checks versions.
	pub struct InnerMigrateV0ToV1<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for InnerMigrateV0ToV1<T> {
		fn on_runtime_upgrade() -> Weight {
			let now = frame_system::Pallet::<T>::block_number();
			let (mut reads, mut writes) = (0u64, 0u64);
			let mut live: BTreeMap<TaskId, u32> = BTreeMap::new();
			let mut pruned: Vec<(SubmissionId, TaskId, T::AccountId)> = Vec::new();
			let mut revealed: Vec<(TaskId, [u8; 32], SubmissionId)> = Vec::new();
			Submissions::<T>::translate::<v0::SubmissionOf<T>, _>(|id, old| {
				reads += 1;
				writes += 1;
				let status = match old.status {
					v0::SubmissionStatus::Assigned => SubmissionStatus::Assigned,
					v0::SubmissionStatus::Pending => SubmissionStatus::Pending,
					v0::SubmissionStatus::Accepted => SubmissionStatus::Accepted,
					v0::SubmissionStatus::Rejected | v0::SubmissionStatus::Cancelled => {
						pruned.push((id, old.task_id, old.contributor));
						return None;
					},
				};
				let entry = live.entry(old.task_id).or_insert(0);
				*entry = entry.saturating_add(1);
				let result_location = old.result_location.map(location);
				if let Some(l) = &result_location {
					revealed.push((old.task_id, l.content_hash, id));
				}
				Some(Submission {
					task_id: old.task_id,
					contributor: old.contributor,
					status,
					assigned_at: old.assigned_at,
					commitment: None,
					committed_at: None,
					submitted_at: old.submitted_at,
					result: old.result,
					result_location,
					rejection_reason: old.rejection_reason,
					rejected_at: None,
					assignment_deposit: Zero::zero(),
					storage_deposit: Zero::zero(),
				})
			});
			for (id, task_id, who) in pruned {
				TaskSubmissions::<T>::remove(task_id, id);
				ContributorSubmissions::<T>::remove(&who, id);
				if Assignments::<T>::get(task_id, &who) == Some(id) {
					Assignments::<T>::remove(task_id, &who);
				}
				reads += 1;
				writes += 3;
			}
			for (task_id, hash, id) in revealed {
				reads += 1;
				if !ResultHashes::<T>::contains_key(task_id, hash) {
					ResultHashes::<T>::insert(task_id, hash, id);
					writes += 1;
				}
			}
			// Written in the version 1 layout; `v2` then adds what version 2 added.
			super::v2::v1::Tasks::<T>::translate::<v0::TaskOf<T>, _>(|id, old| {
				reads += 1;
				writes += 1;
				let live = live.get(&id).copied().unwrap_or(0);
				let closed = old.status == TaskStatus::Closed;
				Some(super::v2::v1::Task {
					creator: old.creator,
					task_type: old.task_type,
					question: old.question,
					pays_amount: old.pays_amount,
					max_assignments: old.max_assignments,
					expiration_block: old.expiration_block,
					validation_strategy: old.validation_strategy,
					bundle: location(old.bundle),
					result_public_key: old.result_public_key,
					annotation: old.annotation,
					status: old.status,
					created_at: old.created_at,
					closed_at: if closed { Some(now) } else { None },
					taken_slots: live,
					pending: old.pending,
					accepted: old.accepted,
					live_submissions: live,
					escrow: old.escrow,
					deposit: Zero::zero(),
				})
			});
			T::DbWeight::get().reads_writes(reads, writes)
		}

		#[cfg(feature = "try-runtime")]
		fn post_upgrade(_state: Vec<u8>) -> Result<(), frame::try_runtime::TryRuntimeError> {
			Pallet::<T>::do_try_state()
		}
	}

	/// The v0 -> v1 migration, run only when the stored version is 0; sets it to 1.
	pub type MigrateV0ToV1<T> = VersionedMigration<
		0,
		1,
		InnerMigrateV0ToV1<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;
}

/// Version 1 to version 2: tasks gain their campaign `lineage` (none: version 1 had no
/// campaigns) and contributor records a `slots_released` count (zero: version 1 had no
/// `release_slot`). Campaign storage starts empty.
pub mod v2 {
	use crate::pallet::*;
	use crate::types::*;
	// Explicit, so the pallet's records win over same-named items of the prelude.
	use crate::types::{Location, Task};
	use frame::deps::frame_support::{
		migrations::VersionedMigration, traits::UncheckedOnRuntimeUpgrade,
	};
	use frame::prelude::*;

	/// The version 1 records, as they were stored.
	pub mod v1 {
		use super::*;

		#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
		pub struct Task<AccountId, Balance, BlockNumber> {
			pub creator: AccountId,
			pub task_type: TaskType,
			pub question: Question,
			pub pays_amount: Balance,
			pub max_assignments: u32,
			pub expiration_block: BlockNumber,
			pub validation_strategy: ValidationStrategy,
			pub bundle: Location,
			pub result_public_key: Option<[u8; 32]>,
			pub annotation: Option<AnnotationSpec>,
			pub status: TaskStatus,
			pub created_at: BlockNumber,
			pub closed_at: Option<BlockNumber>,
			pub taken_slots: u32,
			pub pending: u32,
			pub accepted: u32,
			pub live_submissions: u32,
			pub escrow: Balance,
			pub deposit: Balance,
		}

		#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, Default, TypeInfo, MaxEncodedLen)]
		pub struct ContributorRecord {
			pub slots_taken: u32,
			pub results_revealed: u32,
			pub results_accepted: u32,
			pub results_rejected: u32,
			pub slots_timed_out: u32,
			pub appeals_won: u32,
		}

		pub type TaskOf<T> =
			Task<<T as frame_system::Config>::AccountId, crate::BalanceOf<T>, BlockNumberFor<T>>;

		/// The version 1 task map (also what the v0 -> v1 migration writes).
		#[frame::storage_alias]
		pub type Tasks<T: Config> = StorageMap<Pallet<T>, Twox64Concat, TaskId, TaskOf<T>>;

		/// The version 1 contributor records, for writing old records in tests.
		#[frame::storage_alias]
		pub type ContributorStats<T: Config> = StorageMap<
			Pallet<T>,
			Blake2_128Concat,
			<T as frame_system::Config>::AccountId,
			ContributorRecord,
		>;
	}

	/// The migration itself; run it through [`MigrateV1ToV2`], which checks versions.
	pub struct InnerMigrateV1ToV2<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for InnerMigrateV1ToV2<T> {
		fn on_runtime_upgrade() -> Weight {
			let mut count = 0u64;
			Tasks::<T>::translate::<v1::TaskOf<T>, _>(|_, old| {
				count += 1;
				Some(Task {
					creator: old.creator,
					task_type: old.task_type,
					question: old.question,
					pays_amount: old.pays_amount,
					max_assignments: old.max_assignments,
					expiration_block: old.expiration_block,
					validation_strategy: old.validation_strategy,
					bundle: old.bundle,
					result_public_key: old.result_public_key,
					annotation: old.annotation,
					status: old.status,
					created_at: old.created_at,
					closed_at: old.closed_at,
					taken_slots: old.taken_slots,
					pending: old.pending,
					accepted: old.accepted,
					live_submissions: old.live_submissions,
					escrow: old.escrow,
					deposit: old.deposit,
					lineage: None,
				})
			});
			ContributorStats::<T>::translate::<v1::ContributorRecord, _>(|_, old| {
				count += 1;
				Some(ContributorRecord {
					slots_taken: old.slots_taken,
					results_revealed: old.results_revealed,
					results_accepted: old.results_accepted,
					results_rejected: old.results_rejected,
					slots_timed_out: old.slots_timed_out,
					appeals_won: old.appeals_won,
					slots_released: 0,
				})
			});
			T::DbWeight::get().reads_writes(count, count)
		}

		#[cfg(feature = "try-runtime")]
		fn post_upgrade(
			_state: alloc::vec::Vec<u8>,
		) -> Result<(), frame::try_runtime::TryRuntimeError> {
			Pallet::<T>::do_try_state()
		}
	}

	/// The v1 -> v2 migration, run only when the stored version is 1; sets it to 2.
	pub type MigrateV1ToV2<T> = VersionedMigration<
		1,
		2,
		InnerMigrateV1ToV2<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;
}
