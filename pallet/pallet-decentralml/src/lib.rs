//! # DecentralML pallet
//!
//! A marketplace for federated-learning work. A model creator posts a task with a
//! reward per accepted result; the whole reward for every slot is held from the
//! creator at once (escrow). Contributors take slots, do the work off-chain and
//! send where their result is stored plus its hash. The creator accepts (paying
//! that slot's reward from escrow, once) or rejects (re-opening the slot). Closing
//! the task settles it: results still pending are paid, and everything else held
//! goes back to the creator.
//!
//! ## Money
//! For an open task, `escrow == pays_amount * (max_assignments - accepted)`, and
//! the sum of all tasks' escrow equals what this pallet holds. A closed task holds
//! nothing. Every unit either reaches a contributor, once, or returns to the creator.
//!
//! ## Closing and pending results
//! The creator may close at any time; once a task has expired anyone may close it,
//! so escrow is never locked forever. Results still pending at that moment are
//! paid: a creator who can read a result cannot keep it unpaid by closing, so a
//! creator who does not want to pay for a result rejects it first. Slots with no
//! result yet are cancelled without payment.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

use frame::deps::frame_support::traits::fungible;

/// The balance type of the currency the marketplace pays in.
pub type BalanceOf<T> = <<T as Config>::Currency as fungible::Inspect<
	<T as frame::deps::frame_system::Config>::AccountId,
>>::Balance;

/// A task as stored for runtime `T`.
pub type TaskOf<T> = Task<
	<T as frame::deps::frame_system::Config>::AccountId,
	BalanceOf<T>,
	frame::deps::frame_system::pallet_prelude::BlockNumberFor<T>,
>;

/// A submission as stored for runtime `T`.
pub type SubmissionOf<T> = Submission<
	<T as frame::deps::frame_system::Config>::AccountId,
	frame::deps::frame_system::pallet_prelude::BlockNumberFor<T>,
>;

#[frame::pallet]
pub mod pallet {
	use super::*;
	use frame::deps::frame_support::traits::tokens::{Fortitude, Precision, Restriction};
	use frame::deps::sp_runtime::traits::{CheckedAdd, CheckedMul, CheckedSub, Zero};
	use frame::prelude::*;
	// Explicit, so the pallet's records win over same-named items of the prelude.
	use crate::types::{Submission, Task};
	use fungible::{Inspect, InspectHold, Mutate, MutateHold};

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Rewards of an open task not yet paid out.
		TaskEscrow,
	}

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The currency rewards are paid in; escrow is a hold on the creator's balance.
		type Currency: Inspect<Self::AccountId>
			+ Mutate<Self::AccountId>
			+ InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// The most slots (paid results) a task may have.
		#[pallet::constant]
		type MaxAssignments: Get<u32>;

		/// The most submission records a task may accumulate, rejected ones included;
		/// bounds the work of closing a task.
		#[pallet::constant]
		type MaxSubmissionsPerTask: Get<u32>;

		/// Weights of this pallet's calls, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	#[pallet::extra_constants]
	impl<T: Config> Pallet<T> {
		/// Longest question, in bytes.
		#[pallet::constant_name(MaxQuestionLen)]
		fn max_question_len() -> u32 {
			MAX_QUESTION_LEN
		}
		/// Longest storage path or URI, in bytes.
		#[pallet::constant_name(MaxPathLen)]
		fn max_path_len() -> u32 {
			MAX_PATH_LEN
		}
		/// Longest free-text result, in bytes.
		#[pallet::constant_name(MaxResultLen)]
		fn max_result_len() -> u32 {
			MAX_RESULT_LEN
		}
		/// Longest rejection reason, in bytes.
		#[pallet::constant_name(MaxReasonLen)]
		fn max_reason_len() -> u32 {
			MAX_REASON_LEN
		}
	}

	/// The id the next task will get.
	#[pallet::storage]
	pub type NextTaskId<T> = StorageValue<_, TaskId, ValueQuery>;

	/// The id the next submission will get.
	#[pallet::storage]
	pub type NextSubmissionId<T> = StorageValue<_, SubmissionId, ValueQuery>;

	/// Every task, open or closed.
	#[pallet::storage]
	pub type Tasks<T: Config> = StorageMap<_, Twox64Concat, TaskId, TaskOf<T>>;

	/// Index: the tasks still open.
	#[pallet::storage]
	pub type OpenTasks<T> = StorageMap<_, Twox64Concat, TaskId, ()>;

	/// Index: the tasks each creator made.
	#[pallet::storage]
	pub type TasksByCreator<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, TaskId, ()>;

	/// Every submission (a contributor's slot and result).
	#[pallet::storage]
	pub type Submissions<T: Config> = StorageMap<_, Twox64Concat, SubmissionId, SubmissionOf<T>>;

	/// Index: the submissions of each task.
	#[pallet::storage]
	pub type TaskSubmissions<T> =
		StorageDoubleMap<_, Twox64Concat, TaskId, Twox64Concat, SubmissionId, ()>;

	/// Index: the submissions of each contributor.
	#[pallet::storage]
	pub type ContributorSubmissions<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, SubmissionId, ()>;

	/// Which submission a contributor has in a task; one per account per task, ever.
	#[pallet::storage]
	pub type Assignments<T: Config> =
		StorageDoubleMap<_, Twox64Concat, TaskId, Blake2_128Concat, T::AccountId, SubmissionId>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A task was created and its full reward held in escrow.
		TaskCreated {
			task_id: TaskId,
			creator: T::AccountId,
			pays_amount: BalanceOf<T>,
			max_assignments: u32,
			escrow: BalanceOf<T>,
		},
		/// A contributor took a slot.
		TaskAssigned { task_id: TaskId, submission_id: SubmissionId, contributor: T::AccountId },
		/// A contributor sent a result.
		ResultSent { task_id: TaskId, submission_id: SubmissionId, contributor: T::AccountId },
		/// A result was accepted and its reward paid.
		ResultAccepted {
			task_id: TaskId,
			submission_id: SubmissionId,
			contributor: T::AccountId,
			paid: BalanceOf<T>,
		},
		/// A result was rejected (or a silent slot freed); nothing was paid.
		ResultRejected {
			task_id: TaskId,
			submission_id: SubmissionId,
			contributor: T::AccountId,
			reason: Reason,
		},
		/// The task was settled: pending results paid, the rest returned to the creator.
		TaskClosed {
			task_id: TaskId,
			paid_on_close: BalanceOf<T>,
			refunded: BalanceOf<T>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No task has this id.
		TaskNotFound,
		/// No submission has this id.
		SubmissionNotFound,
		/// Only the task's creator may do this.
		NotTaskCreator,
		/// Only the contributor assigned to this submission may do this.
		NotAssignedContributor,
		/// The task has reached its maximum number of assignments.
		NoSlotsLeft,
		/// This account already has (or had) a slot in this task.
		AlreadyAssigned,
		/// The creator cannot take a slot in their own task.
		CreatorCannotContribute,
		/// The task's expiration block has passed.
		TaskExpired,
		/// The task is closed.
		TaskClosed,
		/// Only the creator may close a task before its expiration block.
		TaskNotExpired,
		/// The expiration block must be in the future.
		ExpirationInPast,
		/// The reward per result must be more than zero.
		ZeroReward,
		/// A task needs at least one slot.
		ZeroAssignments,
		/// More slots than the runtime's MaxAssignments allows.
		TooManyAssignments,
		/// The task has accumulated the most submissions the runtime allows.
		TooManySubmissions,
		/// The question is empty.
		EmptyQuestion,
		/// A storage location has an empty path.
		EmptyLocation,
		/// A result needs a text or a location.
		EmptyResult,
		/// The creator's free balance cannot cover the reward for every slot.
		InsufficientFunds,
		/// A result was already sent for this submission.
		ResultAlreadySent,
		/// The submission has no result awaiting a decision (none sent, or already decided).
		ResultNotPending,
		/// An amount or counter would overflow.
		Overflow,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Create a task and hold `pays_amount * max_assignments` from the signer (the
		/// creator) in escrow. Stores the task, indexes it as open and by creator.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::create_task())]
		pub fn create_task(
			origin: OriginFor<T>,
			task_type: TaskType,
			question: Question,
			pays_amount: BalanceOf<T>,
			max_assignments: u32,
			expiration_block: BlockNumberFor<T>,
			validation_strategy: ValidationStrategy,
			bundle: Location,
			result_public_key: Option<[u8; 32]>,
			annotation: Option<AnnotationSpec>,
		) -> DispatchResult {
			let creator = ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			ensure!(!question.is_empty(), Error::<T>::EmptyQuestion);
			ensure!(!pays_amount.is_zero(), Error::<T>::ZeroReward);
			ensure!(max_assignments > 0, Error::<T>::ZeroAssignments);
			ensure!(max_assignments <= T::MaxAssignments::get(), Error::<T>::TooManyAssignments);
			ensure!(expiration_block > now, Error::<T>::ExpirationInPast);
			ensure!(!bundle.path.is_empty(), Error::<T>::EmptyLocation);
			let escrow =
				pays_amount.checked_mul(&max_assignments.into()).ok_or(Error::<T>::Overflow)?;
			let task_id = NextTaskId::<T>::get();
			let next_task_id = task_id.checked_add(1).ok_or(Error::<T>::Overflow)?;

			T::Currency::hold(&HoldReason::TaskEscrow.into(), &creator, escrow)
				.map_err(|_| Error::<T>::InsufficientFunds)?;
			Tasks::<T>::insert(
				task_id,
				Task {
					creator: creator.clone(),
					task_type,
					question,
					pays_amount,
					max_assignments,
					expiration_block,
					validation_strategy,
					bundle,
					result_public_key,
					annotation,
					status: TaskStatus::Open,
					created_at: now,
					taken_slots: 0,
					pending: 0,
					accepted: 0,
					submissions: 0,
					escrow,
				},
			);
			OpenTasks::<T>::insert(task_id, ());
			TasksByCreator::<T>::insert(&creator, task_id, ());
			NextTaskId::<T>::put(next_task_id);
			Self::deposit_event(Event::TaskCreated {
				task_id,
				creator,
				pays_amount,
				max_assignments,
				escrow,
			});
			Ok(())
		}

		/// Take a slot in an open, unexpired task. Anyone but the creator may call it,
		/// once per task. Creates a submission in `Assigned` state.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::assign_task())]
		pub fn assign_task(origin: OriginFor<T>, task_id: TaskId) -> DispatchResult {
			let contributor = ensure_signed(origin)?;
			let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(task.status == TaskStatus::Open, Error::<T>::TaskClosed);
			ensure!(!Self::is_expired(&task), Error::<T>::TaskExpired);
			ensure!(contributor != task.creator, Error::<T>::CreatorCannotContribute);
			ensure!(
				!Assignments::<T>::contains_key(task_id, &contributor),
				Error::<T>::AlreadyAssigned
			);
			ensure!(task.taken_slots < task.max_assignments, Error::<T>::NoSlotsLeft);
			ensure!(
				task.submissions < T::MaxSubmissionsPerTask::get(),
				Error::<T>::TooManySubmissions
			);
			let submission_id = NextSubmissionId::<T>::get();
			let next_submission_id = submission_id.checked_add(1).ok_or(Error::<T>::Overflow)?;

			task.taken_slots += 1;
			task.submissions += 1;
			Tasks::<T>::insert(task_id, task);
			Submissions::<T>::insert(
				submission_id,
				Submission {
					task_id,
					contributor: contributor.clone(),
					status: SubmissionStatus::Assigned,
					assigned_at: frame_system::Pallet::<T>::block_number(),
					submitted_at: None,
					result: Default::default(),
					result_location: None,
					rejection_reason: None,
				},
			);
			TaskSubmissions::<T>::insert(task_id, submission_id, ());
			ContributorSubmissions::<T>::insert(&contributor, submission_id, ());
			Assignments::<T>::insert(task_id, &contributor, submission_id);
			NextSubmissionId::<T>::put(next_submission_id);
			Self::deposit_event(Event::TaskAssigned { task_id, submission_id, contributor });
			Ok(())
		}

		/// Send the result of a submission: a text, a location (storage, path, hash), or
		/// both. Only the assigned contributor, once, before the task expires. Under
		/// AutoAccept the result is accepted and paid at once.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::send_task_result())]
		pub fn send_task_result(
			origin: OriginFor<T>,
			submission_id: SubmissionId,
			result: ResultText,
			result_location: Option<Location>,
		) -> DispatchResult {
			let contributor = ensure_signed(origin)?;
			let mut submission =
				Submissions::<T>::get(submission_id).ok_or(Error::<T>::SubmissionNotFound)?;
			ensure!(submission.contributor == contributor, Error::<T>::NotAssignedContributor);
			ensure!(submission.status == SubmissionStatus::Assigned, Error::<T>::ResultAlreadySent);
			ensure!(!result.is_empty() || result_location.is_some(), Error::<T>::EmptyResult);
			if let Some(location) = &result_location {
				ensure!(!location.path.is_empty(), Error::<T>::EmptyLocation);
			}
			let task_id = submission.task_id;
			let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(task.status == TaskStatus::Open, Error::<T>::TaskClosed);
			ensure!(!Self::is_expired(&task), Error::<T>::TaskExpired);

			submission.status = SubmissionStatus::Pending;
			submission.submitted_at = Some(frame_system::Pallet::<T>::block_number());
			submission.result = result;
			submission.result_location = result_location;
			task.pending += 1;
			Self::deposit_event(Event::ResultSent {
				task_id,
				submission_id,
				contributor: contributor.clone(),
			});
			if task.validation_strategy == ValidationStrategy::AutoAccept {
				let paid = Self::pay_result(&mut task, &mut submission)?;
				Self::deposit_event(Event::ResultAccepted {
					task_id,
					submission_id,
					contributor,
					paid,
				});
			}
			Tasks::<T>::insert(task_id, task);
			Submissions::<T>::insert(submission_id, submission);
			Ok(())
		}

		/// Accept a pending result and pay its reward from escrow to the contributor.
		/// Only the task's creator, while the task is open; a result is paid once.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::accept_task_result())]
		pub fn accept_task_result(
			origin: OriginFor<T>,
			submission_id: SubmissionId,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let (mut task, mut submission) = Self::open_submission_of(&who, submission_id)?;
			let task_id = submission.task_id;
			ensure!(submission.status == SubmissionStatus::Pending, Error::<T>::ResultNotPending);

			let paid = Self::pay_result(&mut task, &mut submission)?;
			let contributor = submission.contributor.clone();
			Tasks::<T>::insert(task_id, task);
			Submissions::<T>::insert(submission_id, submission);
			Self::deposit_event(Event::ResultAccepted { task_id, submission_id, contributor, paid });
			Ok(())
		}

		/// Reject a pending result, or free the slot of a contributor who has not sent
		/// one, with a short reason. Only the task's creator, while the task is open.
		/// Nothing is paid; the slot opens again for another contributor until expiry.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::reject_task_result())]
		pub fn reject_task_result(
			origin: OriginFor<T>,
			submission_id: SubmissionId,
			reason: Reason,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let (mut task, mut submission) = Self::open_submission_of(&who, submission_id)?;
			let task_id = submission.task_id;
			ensure!(
				matches!(submission.status, SubmissionStatus::Pending | SubmissionStatus::Assigned),
				Error::<T>::ResultNotPending
			);

			if submission.status == SubmissionStatus::Pending {
				task.pending -= 1;
			}
			task.taken_slots -= 1;
			submission.status = SubmissionStatus::Rejected;
			submission.rejection_reason = Some(reason.clone());
			let contributor = submission.contributor.clone();
			Tasks::<T>::insert(task_id, task);
			Submissions::<T>::insert(submission_id, submission);
			Self::deposit_event(Event::ResultRejected {
				task_id,
				submission_id,
				contributor,
				reason,
			});
			Ok(())
		}

		/// Settle a task: pay every pending result, cancel slots with no result, and
		/// return the rest of the escrow to the creator. The creator may close at any
		/// time; anyone may close a task whose expiration block has passed.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::close_task(T::MaxSubmissionsPerTask::get()))]
		pub fn close_task(origin: OriginFor<T>, task_id: TaskId) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(task.status == TaskStatus::Open, Error::<T>::TaskClosed);
			ensure!(who == task.creator || Self::is_expired(&task), Error::<T>::TaskNotExpired);

			let mut paid_on_close = BalanceOf::<T>::zero();
			let mut visited = 0u32;
			for (submission_id, ()) in TaskSubmissions::<T>::iter_prefix(task_id) {
				visited += 1;
				let Some(mut submission) = Submissions::<T>::get(submission_id) else { continue };
				match submission.status {
					SubmissionStatus::Pending => {
						let paid = Self::pay_result(&mut task, &mut submission)?;
						paid_on_close = paid_on_close.checked_add(&paid).ok_or(Error::<T>::Overflow)?;
					},
					SubmissionStatus::Assigned => submission.status = SubmissionStatus::Cancelled,
					_ => continue,
				}
				Submissions::<T>::insert(submission_id, submission);
			}
			let refunded = task.escrow;
			T::Currency::release(
				&HoldReason::TaskEscrow.into(),
				&task.creator,
				refunded,
				Precision::Exact,
			)?;
			task.escrow = Zero::zero();
			task.status = TaskStatus::Closed;
			Tasks::<T>::insert(task_id, task);
			OpenTasks::<T>::remove(task_id);
			Self::deposit_event(Event::TaskClosed { task_id, paid_on_close, refunded });
			Ok(Some(T::WeightInfo::close_task(visited)).into())
		}
	}

	impl<T: Config> Pallet<T> {
		/// A task has expired once the chain reaches its expiration block.
		pub fn is_expired(task: &TaskOf<T>) -> bool {
			frame_system::Pallet::<T>::block_number() >= task.expiration_block
		}

		/// A submission and its task, for a decision by `creator` on an open task.
		fn open_submission_of(
			creator: &T::AccountId,
			submission_id: SubmissionId,
		) -> Result<(TaskOf<T>, SubmissionOf<T>), DispatchError> {
			let submission =
				Submissions::<T>::get(submission_id).ok_or(Error::<T>::SubmissionNotFound)?;
			let task = Tasks::<T>::get(submission.task_id).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(&task.creator == creator, Error::<T>::NotTaskCreator);
			ensure!(task.status == TaskStatus::Open, Error::<T>::TaskClosed);
			Ok((task, submission))
		}

		/// Move one slot's reward from the creator's escrow to the contributor and mark
		/// the submission accepted. The caller stores both records.
		fn pay_result(
			task: &mut TaskOf<T>,
			submission: &mut SubmissionOf<T>,
		) -> Result<BalanceOf<T>, DispatchError> {
			let reward = task.pays_amount;
			task.escrow = task.escrow.checked_sub(&reward).ok_or(Error::<T>::Overflow)?;
			T::Currency::transfer_on_hold(
				&HoldReason::TaskEscrow.into(),
				&task.creator,
				&submission.contributor,
				reward,
				Precision::Exact,
				Restriction::Free,
				Fortitude::Polite,
			)?;
			task.pending -= 1;
			task.accepted += 1;
			submission.status = SubmissionStatus::Accepted;
			Ok(reward)
		}

		/// Everything this pallet holds for `creator`'s open tasks.
		pub fn escrow_held(creator: &T::AccountId) -> BalanceOf<T> {
			T::Currency::balance_on_hold(&HoldReason::TaskEscrow.into(), creator)
		}
	}
}
