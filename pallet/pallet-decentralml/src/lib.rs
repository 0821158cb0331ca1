//! # DecentralML pallet
//!
//! A marketplace for federated-learning work between strangers. A model creator posts
//! a task with a reward per accepted result; the reward for every slot is held from the
//! creator at once (escrow), with a small storage deposit for the record. Contributors
//! take slots (holding an assignment deposit and a storage deposit), do the work
//! off-chain, then **commit** to their result by its hash and **reveal** it within
//! `RevealWindow` blocks. The creator accepts (pays) or rejects within `ReviewPeriod`
//! blocks of the reveal; after that anyone may claim the reward for the contributor.
//! A rejected contributor may appeal within `AppealPeriod`; the `ArbiterOrigin`
//! upholds or overturns. Closed tasks are removed `RemovalDelay` blocks after closing,
//! which returns the storage deposits.
//!
//! ## Money
//! Every unit the pallet moves is a hold or a transfer of a hold:
//! - `HoldReason::TaskEscrow` on creators: the sum of every stored task's `escrow`.
//!   For an open task `escrow == pays_amount * (max_assignments - accepted)`; for a
//!   closed one it is the rewards of its rejected, appealed and owed results.
//! - `HoldReason::AssignmentDeposit` on contributors: the deposits of the `Assigned`
//!   and `Committed` submissions. Returned on reveal or cancel, forfeited to the
//!   creator when the slot times out.
//! - `HoldReason::StorageDeposit`: each stored task's `deposit` (on its creator) and
//!   each stored submission's `storage_deposit` (on its contributor); returned when
//!   the record is removed.
//!
//! `try_state` checks all three. A payout that cannot be made (the receiving account
//! cannot take it) never aborts the settlement of others: the result becomes
//! `PayoutOwed`, its reward stays in escrow, and anyone may retry with `claim_reward`.
//!
//! ## Campaigns
//! A training campaign is a chain of tasks by one creator, one per round, made with
//! `create_campaign_task`: each round's task records its `Lineage` (campaign, round,
//! the task it continues), and `Campaigns` / `CampaignRounds` index them, so anyone
//! can follow a model's history from the chain alone. A round may start only once the
//! previous round's task is settled (closed or removed).
//!
//! ## Deadlines (pallet constants, in blocks)
//! `MaxTaskDuration` (latest expiry), `ResultTimeout` (assigned slot without a commit),
//! `RevealWindow`, `ReviewPeriod`, `AppealPeriod`, `RemovalDelay`.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

pub mod migrations;
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

/// What a new task asks for: the arguments `create_task` and `create_campaign_task`
/// share.
pub(crate) struct TaskFields<T: Config> {
	pub task_type: TaskType,
	pub question: Question,
	pub pays_amount: BalanceOf<T>,
	pub max_assignments: u32,
	pub expiration_block: frame::deps::frame_system::pallet_prelude::BlockNumberFor<T>,
	pub validation_strategy: ValidationStrategy,
	pub bundle: Location,
	pub result_public_key: Option<[u8; 32]>,
	pub annotation: Option<AnnotationSpec>,
}

/// A submission as stored for runtime `T`.
pub type SubmissionOf<T> = Submission<
	<T as frame::deps::frame_system::Config>::AccountId,
	BalanceOf<T>,
	frame::deps::frame_system::pallet_prelude::BlockNumberFor<T>,
>;

#[frame::pallet]
pub mod pallet {
	use super::*;
	use frame::deps::frame_support::{
		storage::with_storage_layer,
		traits::tokens::{Fortitude, Precision, Restriction},
	};
	use frame::deps::sp_runtime::traits::{CheckedAdd, CheckedMul, CheckedSub, Saturating, Zero};
	use frame::prelude::*;
	// Explicit, so the pallet's records win over same-named items of the prelude.
	use crate::types::{Submission, Task};
	use fungible::{Inspect, InspectHold, Mutate, MutateHold};

	/// The in-code storage version; `migrations::v1` and `migrations::v2` bring version 0
	/// and 1 storage to it.
	pub const STORAGE_VERSION: StorageVersion = StorageVersion::new(2);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Why this pallet holds funds.
	#[pallet::composite_enum]
	pub enum HoldReason {
		/// Rewards of a task not yet paid out or returned (on the creator).
		TaskEscrow,
		/// A contributor's stake on a slot until the result is revealed.
		AssignmentDeposit,
		/// Pays for a task or submission record while it is stored.
		StorageDeposit,
	}

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The currency rewards are paid in; escrow and deposits are holds on it.
		type Currency: Inspect<Self::AccountId>
			+ Mutate<Self::AccountId>
			+ InspectHold<Self::AccountId, Reason = Self::RuntimeHoldReason>
			+ MutateHold<Self::AccountId, Reason = Self::RuntimeHoldReason>;

		/// The overarching hold reason.
		type RuntimeHoldReason: From<HoldReason>;

		/// Who decides appeals against rejections (Root in the dev runtime).
		type ArbiterOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The most slots (paid results) a task may have; also bounds the submissions
		/// a task stores, and so the work of closing or removing it.
		#[pallet::constant]
		type MaxAssignments: Get<u32>;

		/// The latest expiration block a new task may have, counted from its creation.
		#[pallet::constant]
		type MaxTaskDuration: Get<BlockNumberFor<Self>>;

		/// Blocks an assigned contributor has to commit before anyone may time the slot out.
		#[pallet::constant]
		type ResultTimeout: Get<BlockNumberFor<Self>>;

		/// Blocks after the commit within which the result must be revealed.
		#[pallet::constant]
		type RevealWindow: Get<BlockNumberFor<Self>>;

		/// Blocks after a reveal during which the creator may reject; after them the
		/// reward can be claimed for the contributor.
		#[pallet::constant]
		type ReviewPeriod: Get<BlockNumberFor<Self>>;

		/// Blocks after a rejection during which the contributor may appeal.
		#[pallet::constant]
		type AppealPeriod: Get<BlockNumberFor<Self>>;

		/// Blocks after closing before anyone may remove a task and its records.
		#[pallet::constant]
		type RemovalDelay: Get<BlockNumberFor<Self>>;

		/// Held from a contributor per slot until the reveal; forfeited to the creator
		/// if the slot times out.
		#[pallet::constant]
		type AssignmentDeposit: Get<BalanceOf<Self>>;

		/// Held from a creator per task record until the task is removed.
		#[pallet::constant]
		type TaskDeposit: Get<BalanceOf<Self>>;

		/// Held from a contributor per submission record until it is removed.
		#[pallet::constant]
		type SubmissionDeposit: Get<BalanceOf<Self>>;

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
		/// Longest data-annotation field (annotation type, class labels as JSON), in bytes.
		#[pallet::constant_name(MaxAnnotationLen)]
		fn max_annotation_len() -> u32 {
			MAX_ANNOTATION_LEN
		}
	}

	/// The id the next task will get.
	#[pallet::storage]
	pub type NextTaskId<T> = StorageValue<_, TaskId, ValueQuery>;

	/// The id the next submission will get.
	#[pallet::storage]
	pub type NextSubmissionId<T> = StorageValue<_, SubmissionId, ValueQuery>;

	/// Every stored task, open or closed (closed ones until removed).
	#[pallet::storage]
	pub type Tasks<T: Config> = StorageMap<_, Twox64Concat, TaskId, TaskOf<T>>;

	/// Index: the tasks still open.
	#[pallet::storage]
	pub type OpenTasks<T> = StorageMap<_, Twox64Concat, TaskId, ()>;

	/// Index: the stored tasks of each creator.
	#[pallet::storage]
	pub type TasksByCreator<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, TaskId, ()>;

	/// Every stored submission (a contributor's slot and result).
	#[pallet::storage]
	pub type Submissions<T: Config> = StorageMap<_, Twox64Concat, SubmissionId, SubmissionOf<T>>;

	/// Index: the stored submissions of each task.
	#[pallet::storage]
	pub type TaskSubmissions<T> =
		StorageDoubleMap<_, Twox64Concat, TaskId, Twox64Concat, SubmissionId, ()>;

	/// Index: the stored submissions of each contributor.
	#[pallet::storage]
	pub type ContributorSubmissions<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, SubmissionId, ()>;

	/// The stored submission a contributor has in a task: one per account per task.
	/// Removed when the submission is pruned, so the account may take a slot again.
	#[pallet::storage]
	pub type Assignments<T: Config> =
		StorageDoubleMap<_, Twox64Concat, TaskId, Blake2_128Concat, T::AccountId, SubmissionId>;

	/// Index: which stored submission of a task revealed a result with this content hash.
	#[pallet::storage]
	pub type ResultHashes<T> =
		StorageDoubleMap<_, Twox64Concat, TaskId, Identity, [u8; 32], SubmissionId>;

	/// What each creator's record says: tasks, decisions, overturned rejections, paid.
	#[pallet::storage]
	pub type CreatorStats<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, CreatorRecord<BalanceOf<T>>, ValueQuery>;

	/// What each contributor's record says: slots, reveals, decisions, time-outs, appeals.
	#[pallet::storage]
	pub type ContributorStats<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, ContributorRecord, ValueQuery>;

	/// Who accepted each result whose payout is owed (`PayoutOwed`), for the event of
	/// the retried payment.
	#[pallet::storage]
	pub type OwedPayouts<T> = StorageMap<_, Twox64Concat, SubmissionId, Decider>;

	/// The id the next campaign will get.
	#[pallet::storage]
	pub type NextCampaignId<T> = StorageValue<_, CampaignId, ValueQuery>;

	/// Every campaign: its creator, how many rounds it has and its latest round's task.
	/// Campaigns are never removed (a record of who trained what, and in which order).
	#[pallet::storage]
	pub type Campaigns<T: Config> = StorageMap<_, Twox64Concat, CampaignId, Campaign<T::AccountId>>;

	/// The task of each round of each campaign (rounds count from 1). Kept after the
	/// task itself is removed.
	#[pallet::storage]
	pub type CampaignRounds<T> =
		StorageDoubleMap<_, Twox64Concat, CampaignId, Twox64Concat, u32, TaskId>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A task was created and its full reward held in escrow.
		TaskCreated {
			/// The new task's id.
			task_id: TaskId,
			/// The account that created the task and pays its rewards.
			creator: T::AccountId,
			/// The reward paid for each accepted result.
			pays_amount: BalanceOf<T>,
			/// How many results the task pays for (its slots).
			max_assignments: u32,
			/// What was held from the creator: `pays_amount * max_assignments` (the task
			/// deposit is held besides).
			escrow: BalanceOf<T>,
		},
		/// A contributor took a slot.
		TaskAssigned {
			/// The task the slot belongs to.
			task_id: TaskId,
			/// The new submission's id; the contributor commits and reveals under it.
			submission_id: SubmissionId,
			/// The account that took the slot and holds its deposits.
			contributor: T::AccountId,
		},
		/// A contributor committed to a result by its hash.
		ResultCommitted {
			/// The task of the submission.
			task_id: TaskId,
			/// The submission that now holds the commitment.
			submission_id: SubmissionId,
			/// The contributor who committed; only they can reveal.
			contributor: T::AccountId,
		},
		/// A contributor revealed the committed result; it awaits review.
		ResultRevealed {
			/// The task of the submission.
			task_id: TaskId,
			/// The submission whose result is now readable in storage.
			submission_id: SubmissionId,
			/// The contributor who revealed it; their assignment deposit was returned.
			contributor: T::AccountId,
		},
		/// A result was accepted and its reward paid.
		ResultAccepted {
			/// The task that paid.
			task_id: TaskId,
			/// The accepted submission.
			submission_id: SubmissionId,
			/// The account that was paid.
			contributor: T::AccountId,
			/// The reward moved from the creator's escrow to the contributor.
			paid: BalanceOf<T>,
			/// Who or what accepted the result (for a retried payment: the decision that
			/// made it owed).
			decided_by: Decider,
		},
		/// A result was accepted but its payment failed; the reward stays held and
		/// anyone may retry it with `claim_reward`.
		PayoutDeferred {
			/// The task whose escrow still holds the reward.
			task_id: TaskId,
			/// The submission, now `PayoutOwed`; pass it to `claim_reward`.
			submission_id: SubmissionId,
			/// The account that could not receive the payment.
			contributor: T::AccountId,
			/// The reward that is owed.
			amount: BalanceOf<T>,
		},
		/// The creator rejected a result; nothing paid yet, the reward stays held.
		ResultRejected {
			/// The task of the submission.
			task_id: TaskId,
			/// The rejected submission; its contributor may appeal it.
			submission_id: SubmissionId,
			/// The contributor whose result was rejected.
			contributor: T::AccountId,
			/// The creator's reason, as given.
			reason: Reason,
		},
		/// The contributor appealed a rejection.
		RejectionAppealed {
			/// The task of the submission.
			task_id: TaskId,
			/// The appealed submission; `ArbiterOrigin` decides it with `arbitrate`.
			submission_id: SubmissionId,
			/// The contributor who appealed.
			contributor: T::AccountId,
		},
		/// The arbiter decided an appeal.
		AppealDecided {
			/// The task of the submission.
			task_id: TaskId,
			/// The submission whose appeal was decided.
			submission_id: SubmissionId,
			/// `true`: the rejection was overturned and the reward paid (or owed);
			/// `false`: the rejection is final and the record was removed.
			overturned: bool,
		},
		/// A rejection became final: the slot reopened (or the reward went back to the
		/// creator of a closed task) and the record was removed.
		RejectionFinal {
			/// The task of the submission.
			task_id: TaskId,
			/// The submission, no longer stored.
			submission_id: SubmissionId,
		},
		/// A slot passed its deadline: the assignment deposit went to the creator
		/// (`forfeited`), the record was removed and the slot reopened.
		SlotTimedOut {
			/// The task whose slot reopened.
			task_id: TaskId,
			/// The submission, no longer stored.
			submission_id: SubmissionId,
			/// The contributor who missed the deadline.
			contributor: T::AccountId,
			/// What moved from the contributor to the creator: the assignment deposit, or
			/// zero if the creator could not receive it (then it went back).
			forfeited: BalanceOf<T>,
		},
		/// Closing released a slot that had no result; its deposits were returned.
		SlotCancelled {
			/// The task being closed.
			task_id: TaskId,
			/// The submission, no longer stored.
			submission_id: SubmissionId,
			/// The contributor whose deposits were returned.
			contributor: T::AccountId,
		},
		/// The task was settled: pending results paid, the rest returned to the creator.
		TaskClosed {
			/// The closed task.
			task_id: TaskId,
			/// The sum of the pending rewards paid while closing (deferred ones excluded).
			paid_on_close: BalanceOf<T>,
			/// The escrow released back to the creator; rewards of rejected, appealed and
			/// owed results stay held.
			refunded: BalanceOf<T>,
		},
		/// A closed task and its records were removed and their deposits returned.
		TaskRemoved {
			/// The removed task; its id is not reused.
			task_id: TaskId,
		},
		/// A task was created as a round of a campaign (after its `TaskCreated`).
		CampaignRoundCreated {
			/// The campaign; a new one's id when `create_campaign_task` was given none.
			campaign: CampaignId,
			/// The round, from 1.
			round: u32,
			/// The round's task.
			task_id: TaskId,
			/// The previous round's task, whose federated model this round starts from;
			/// none for round 1.
			continues: Option<TaskId>,
		},
		/// A contributor gave up their slot before committing: the assignment deposit went
		/// to the creator (`forfeited`), the storage deposit back, the record was removed
		/// and the slot reopened.
		SlotReleased {
			/// The task whose slot reopened.
			task_id: TaskId,
			/// The submission, no longer stored.
			submission_id: SubmissionId,
			/// The contributor who released it.
			contributor: T::AccountId,
			/// What moved from the contributor to the creator: the assignment deposit, or
			/// zero if the creator could not receive it (then it went back).
			forfeited: BalanceOf<T>,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No task has this id (never created, or removed). Check the id: list the open
		/// tasks (`OpenTasks`) or the creator's (`TasksByCreator`).
		TaskNotFound,
		/// No submission has this id (never made, or cancelled, timed out, finally
		/// rejected or removed with its task). Check the id in `ContributorSubmissions` or
		/// `TaskSubmissions`; a removed slot's events say what happened to it.
		SubmissionNotFound,
		/// Only the task's creator may do this. Sign with the creator's account.
		NotTaskCreator,
		/// Only the contributor assigned to this submission may do this. Sign with the
		/// account that took the slot.
		NotAssignedContributor,
		/// Every slot of the task is taken. Try another task, or this one again once a
		/// slot times out or a rejection becomes final.
		NoSlotsLeft,
		/// This account already has a submission in this task. Use that submission (see
		/// `Assignments`); once it is removed the account may take a slot again.
		AlreadyAssigned,
		/// The creator cannot take a slot in their own task. Use another account.
		CreatorCannotContribute,
		/// The task's expiration block has passed; it takes no new slots or commitments.
		/// Pick an open task that has not expired.
		TaskExpired,
		/// The task is closed; nothing can be assigned, committed, revealed or decided on
		/// it. Settle its remaining results with `claim_reward`, `appeal_rejection` or
		/// `release_rejection`.
		TaskNotOpen,
		/// Only the creator may close a task before its expiration block. Wait for the
		/// expiration block, or ask the creator.
		TaskNotExpired,
		/// The expiration block must be in the future. Pass a block after the current one.
		ExpirationInPast,
		/// The expiration block is further away than `MaxTaskDuration` blocks. Pass an
		/// earlier block (see the constant).
		ExpirationTooFar,
		/// The reward per result must be more than zero. Pass a positive `pays_amount`.
		ZeroReward,
		/// The reward per result is below the existential deposit, so paying it to a
		/// new account would fail. Pass at least the existential deposit.
		RewardBelowMinimum,
		/// A task needs at least one slot. Pass `max_assignments` of 1 or more.
		ZeroAssignments,
		/// More slots than the runtime's `MaxAssignments` allows. Pass fewer (see the
		/// constant), or split the work into several tasks.
		TooManyAssignments,
		/// The question is empty. Say what the task asks for.
		EmptyQuestion,
		/// A storage location has an empty path. Give the path or URI of the stored file.
		EmptyLocation,
		/// A result location says zero bytes are stored. Give the stored file's size.
		ZeroSize,
		/// A result needs a text or a location. Commit and reveal one with content.
		EmptyResult,
		/// The creator's free balance cannot cover the escrow (`pays_amount *
		/// max_assignments`) and the task deposit. Fund the account, or lower the reward
		/// or the number of slots.
		InsufficientFunds,
		/// The contributor's free balance cannot cover the assignment and storage
		/// deposits (`AssignmentDeposit + SubmissionDeposit`). Fund the account first.
		InsufficientFundsForDeposit,
		/// The submission already holds a commitment. Reveal it with `reveal_task_result`.
		AlreadyCommitted,
		/// The submission has no commitment yet. Commit first with `commit_task_result`,
		/// and reveal once the commit is in a block.
		NotCommitted,
		/// The reveal window of the commitment has passed; the result can no longer be
		/// revealed and anyone may time the slot out. Reveal sooner after committing.
		RevealWindowOver,
		/// The revealed result does not hash to the commitment. Reveal exactly the text,
		/// location and salt that were committed (see `result_commitment`).
		CommitmentMismatch,
		/// Another stored submission of this task revealed a result with this content
		/// hash. Only original content is accepted; send your own result.
		DuplicateResult,
		/// A result was already revealed for this submission. Nothing more to send; wait
		/// for the decision.
		ResultAlreadySent,
		/// The submission has no result awaiting a decision (none revealed, or already
		/// decided). Check its status; only `Pending` results can be accepted or rejected.
		ResultNotPending,
		/// The review period of this result is over; it can no longer be rejected.
		/// Accept it, or let anyone `claim_reward` it for the contributor.
		ReviewPeriodOver,
		/// A commitment is still within its reveal window; the task cannot close yet.
		/// Retry once the reveal window (`RevealWindow` blocks) has passed.
		CommitmentsOutstanding,
		/// A result is still within its review period; only the creator may close now.
		/// Retry once the review period (`ReviewPeriod` blocks after the reveal) is over.
		ResultsUnderReview,
		/// The deadline this call waits for has not passed yet. Retry after it: a slot's
		/// `ResultTimeout` or reveal window, a result's review period, a rejection's
		/// appeal period.
		DeadlineNotReached,
		/// The submission has no reward to claim (not pending, not owed). Check its
		/// status: an accepted one is already paid, a rejected one needs an appeal.
		NothingToClaim,
		/// The submission is not rejected (or its rejection was already appealed). Only a
		/// `Rejected` submission can be appealed or released.
		NotRejected,
		/// The appeal period of this rejection is over. It can no longer be appealed;
		/// anyone may make it final with `release_rejection`.
		AppealPeriodOver,
		/// The submission is not under appeal. Only an `Appealed` submission can be
		/// arbitrated.
		NotAppealed,
		/// Only a closed task can be removed. Close it first with `close_task` (or
		/// `close_judged_task`).
		TaskNotClosed,
		/// The task closed less than `RemovalDelay` blocks ago. Retry after that delay.
		RemovalTooEarly,
		/// The task still holds rewards (disputed or owed results). Settle them first
		/// (`arbitrate`, `release_rejection`, `claim_reward`), then remove it.
		SettlementOutstanding,
		/// An amount or counter would overflow. Use a smaller reward or fewer slots.
		Overflow,
		/// No campaign has this id. Check the id (see `Campaigns`), or pass none to start a
		/// new campaign.
		CampaignNotFound,
		/// Only the campaign's creator may add a round to it. Sign with the account that
		/// started the campaign, or start a campaign of your own.
		NotCampaignCreator,
		/// The campaign's latest round's task is still open. Close it (`close_judged_task`
		/// or `close_task`) first; the next round starts from its results.
		PreviousRoundOpen,
		/// A result of the task is revealed and undecided: decide it first
		/// (`accept_task_result`, `reject_task_result`), or use `close_task`, which pays it.
		ResultsPending,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			let weights = <T as frame_system::Config>::BlockWeights::get();
			let limit =
				weights.get(DispatchClass::Normal).max_extrinsic.unwrap_or(weights.max_block);
			let max = T::MaxAssignments::get();
			assert!(
				T::WeightInfo::close_task(max).all_lte(limit),
				"closing a task with MaxAssignments submissions does not fit in a block"
			);
			assert!(
				T::WeightInfo::close_judged_task(max).all_lte(limit),
				"closing a judged task with MaxAssignments submissions does not fit in a block"
			);
			assert!(
				T::WeightInfo::remove_task(max).all_lte(limit),
				"removing a task with MaxAssignments submissions does not fit in a block"
			);
			assert!(max > 0, "MaxAssignments must be at least 1");
			assert!(!T::RevealWindow::get().is_zero(), "RevealWindow must be at least 1 block");
			assert!(!T::ReviewPeriod::get().is_zero(), "ReviewPeriod must be at least 1 block");
			assert!(!T::AppealPeriod::get().is_zero(), "AppealPeriod must be at least 1 block");
			assert!(!T::ResultTimeout::get().is_zero(), "ResultTimeout must be at least 1 block");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), frame::try_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Create a task. Any signed account (the creator). Holds `pays_amount *
		/// max_assignments` in escrow and `TaskDeposit` as storage deposit from the
		/// creator; stores the task, indexes it as open and by creator, and bumps the
		/// creator's `tasks_created`. The expiry may be at most `MaxTaskDuration` blocks
		/// away and the reward at least the existential deposit. Emits `TaskCreated`.
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::EmptyQuestion`] if `question` is empty.
		/// - [`Error::ZeroReward`] if `pays_amount` is zero.
		/// - [`Error::RewardBelowMinimum`] if `pays_amount` is below the existential deposit.
		/// - [`Error::ZeroAssignments`] if `max_assignments` is zero.
		/// - [`Error::TooManyAssignments`] if `max_assignments` exceeds `MaxAssignments`.
		/// - [`Error::ExpirationInPast`] if `expiration_block` is not after the current block.
		/// - [`Error::ExpirationTooFar`] if `expiration_block` is more than `MaxTaskDuration`
		///   blocks away.
		/// - [`Error::EmptyLocation`] if the bundle's path is empty.
		/// - [`Error::Overflow`] if `pays_amount * max_assignments` does not fit a balance, or the
		///   task ids are used up.
		/// - [`Error::InsufficientFunds`] if the creator's free balance cannot cover the escrow
		///   and the task deposit.
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
			Self::do_create_task(
				creator,
				TaskFields {
					task_type,
					question,
					pays_amount,
					max_assignments,
					expiration_block,
					validation_strategy,
					bundle,
					result_public_key,
					annotation,
				},
				None,
			)?;
			Ok(())
		}

		/// Take a slot in an open, unexpired task. Any signed account but the creator,
		/// while it has no stored submission in the task. Holds `AssignmentDeposit` and
		/// `SubmissionDeposit` from the contributor; creates a submission in `Assigned`
		/// state and bumps the contributor's `slots_taken`. The contributor must commit
		/// within `ResultTimeout` blocks or anyone may time the slot out. Emits `TaskAssigned`.
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::TaskNotFound`] if no task has this id.
		/// - [`Error::TaskNotOpen`] if the task is closed.
		/// - [`Error::TaskExpired`] if the task's expiration block has been reached.
		/// - [`Error::CreatorCannotContribute`] if the signer created the task.
		/// - [`Error::AlreadyAssigned`] if the signer already has a stored submission in the task.
		/// - [`Error::NoSlotsLeft`] if all `max_assignments` slots are taken.
		/// - [`Error::Overflow`] if the submission ids are used up.
		/// - [`Error::InsufficientFundsForDeposit`] if the signer's free balance cannot cover the
		///   assignment and storage deposits.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::assign_task())]
		pub fn assign_task(origin: OriginFor<T>, task_id: TaskId) -> DispatchResult {
			let contributor = ensure_signed(origin)?;
			let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(task.status == TaskStatus::Open, Error::<T>::TaskNotOpen);
			ensure!(!Self::is_expired(&task), Error::<T>::TaskExpired);
			ensure!(contributor != task.creator, Error::<T>::CreatorCannotContribute);
			ensure!(
				!Assignments::<T>::contains_key(task_id, &contributor),
				Error::<T>::AlreadyAssigned
			);
			ensure!(task.taken_slots < task.max_assignments, Error::<T>::NoSlotsLeft);
			let submission_id = NextSubmissionId::<T>::get();
			let next_submission_id = submission_id.checked_add(1).ok_or(Error::<T>::Overflow)?;
			task.taken_slots = task.taken_slots.checked_add(1).ok_or(Error::<T>::Overflow)?;
			task.live_submissions =
				task.live_submissions.checked_add(1).ok_or(Error::<T>::Overflow)?;
			let assignment_deposit = T::AssignmentDeposit::get();
			let storage_deposit = T::SubmissionDeposit::get();

			Self::hold(HoldReason::AssignmentDeposit, &contributor, assignment_deposit)
				.map_err(|_| Error::<T>::InsufficientFundsForDeposit)?;
			Self::hold(HoldReason::StorageDeposit, &contributor, storage_deposit)
				.map_err(|_| Error::<T>::InsufficientFundsForDeposit)?;
			Tasks::<T>::insert(task_id, task);
			Submissions::<T>::insert(
				submission_id,
				Submission {
					task_id,
					contributor: contributor.clone(),
					status: SubmissionStatus::Assigned,
					assigned_at: frame_system::Pallet::<T>::block_number(),
					commitment: None,
					committed_at: None,
					submitted_at: None,
					result: Default::default(),
					result_location: None,
					rejection_reason: None,
					rejected_at: None,
					assignment_deposit,
					storage_deposit,
				},
			);
			TaskSubmissions::<T>::insert(task_id, submission_id, ());
			ContributorSubmissions::<T>::insert(&contributor, submission_id, ());
			Assignments::<T>::insert(task_id, &contributor, submission_id);
			NextSubmissionId::<T>::put(next_submission_id);
			ContributorStats::<T>::mutate(&contributor, |r| {
				r.slots_taken = r.slots_taken.saturating_add(1)
			});
			Self::deposit_event(Event::TaskAssigned { task_id, submission_id, contributor });
			Ok(())
		}

		/// Commit to a result by its hash (`result_commitment`), which reveals nothing
		/// of it. Only the assigned contributor, once, while the task is open and not
		/// expired. Moves the submission to `Committed` with `committed_at = now`; the
		/// result must be revealed within `RevealWindow` blocks, and until then the task
		/// cannot be closed. Emits `ResultCommitted`.
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::SubmissionNotFound`] if no submission has this id.
		/// - [`Error::NotAssignedContributor`] if the signer is not the submission's contributor.
		/// - [`Error::AlreadyCommitted`] if the submission already holds a commitment.
		/// - [`Error::ResultAlreadySent`] if its result was already revealed (or decided).
		/// - [`Error::TaskExpired`] if the task's expiration block has been reached.
		/// - [`Error::TaskNotFound`], [`Error::TaskNotOpen`]: not reachable while the submission is
		///   stored (closing settles every assigned slot); checked for safety.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::commit_task_result())]
		pub fn commit_task_result(
			origin: OriginFor<T>,
			submission_id: SubmissionId,
			commitment: [u8; 32],
		) -> DispatchResult {
			let contributor = ensure_signed(origin)?;
			let mut submission =
				Submissions::<T>::get(submission_id).ok_or(Error::<T>::SubmissionNotFound)?;
			ensure!(submission.contributor == contributor, Error::<T>::NotAssignedContributor);
			match submission.status {
				SubmissionStatus::Assigned => {},
				SubmissionStatus::Committed => return Err(Error::<T>::AlreadyCommitted.into()),
				_ => return Err(Error::<T>::ResultAlreadySent.into()),
			}
			let task_id = submission.task_id;
			let task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(task.status == TaskStatus::Open, Error::<T>::TaskNotOpen);
			ensure!(!Self::is_expired(&task), Error::<T>::TaskExpired);

			submission.status = SubmissionStatus::Committed;
			submission.commitment = Some(commitment);
			submission.committed_at = Some(frame_system::Pallet::<T>::block_number());
			Submissions::<T>::insert(submission_id, submission);
			Self::deposit_event(Event::ResultCommitted { task_id, submission_id, contributor });
			Ok(())
		}

		/// Reveal the committed result: a text, a location (storage, path, sha256,
		/// size), or both, and the salt. Only the assigned contributor, within
		/// `RevealWindow` blocks of the commit (also after the task's expiry). The
		/// result must hash to the commitment and its content hash must not be another
		/// stored submission's of this task. Moves the submission to `Pending`, returns
		/// the assignment deposit, indexes the content hash and bumps the contributor's
		/// `results_revealed`. Emits `ResultRevealed`. Under AutoAccept the reward is paid at
		/// once (`ResultAccepted`, or `PayoutDeferred` if the payment cannot be made).
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::SubmissionNotFound`] if no submission has this id.
		/// - [`Error::NotAssignedContributor`] if the signer is not the submission's contributor.
		/// - [`Error::NotCommitted`] if the submission has no commitment yet.
		/// - [`Error::ResultAlreadySent`] if its result was already revealed (or decided).
		/// - [`Error::RevealWindowOver`] if more than `RevealWindow` blocks passed since the
		///   commit.
		/// - [`Error::EmptyResult`] if both the text and the location are empty.
		/// - [`Error::EmptyLocation`] if the location's path is empty.
		/// - [`Error::ZeroSize`] if the location's size is zero.
		/// - [`Error::CommitmentMismatch`] if the result, location and salt do not hash to the
		///   commitment.
		/// - [`Error::DuplicateResult`] if another stored submission of the task revealed the same
		///   content hash.
		/// - [`Error::TaskNotFound`], [`Error::TaskNotOpen`], [`Error::Overflow`]: not reachable
		///   while the commitment is stored; checked for safety.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::reveal_task_result())]
		pub fn reveal_task_result(
			origin: OriginFor<T>,
			submission_id: SubmissionId,
			result: ResultText,
			result_location: Option<Location>,
			salt: [u8; 32],
		) -> DispatchResult {
			let contributor = ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let mut submission =
				Submissions::<T>::get(submission_id).ok_or(Error::<T>::SubmissionNotFound)?;
			ensure!(submission.contributor == contributor, Error::<T>::NotAssignedContributor);
			match submission.status {
				SubmissionStatus::Committed => {},
				SubmissionStatus::Assigned => return Err(Error::<T>::NotCommitted.into()),
				_ => return Err(Error::<T>::ResultAlreadySent.into()),
			}
			let task_id = submission.task_id;
			let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(task.status == TaskStatus::Open, Error::<T>::TaskNotOpen);
			let committed_at = submission.committed_at.ok_or(Error::<T>::NotCommitted)?;
			ensure!(
				now <= committed_at.saturating_add(T::RevealWindow::get()),
				Error::<T>::RevealWindowOver
			);
			ensure!(!result.is_empty() || result_location.is_some(), Error::<T>::EmptyResult);
			if let Some(location) = &result_location {
				ensure!(!location.path.is_empty(), Error::<T>::EmptyLocation);
				ensure!(location.size > 0, Error::<T>::ZeroSize);
			}
			ensure!(
				submission.commitment
					== Some(Self::result_commitment(
						&contributor,
						submission_id,
						&result,
						&result_location,
						&salt
					)),
				Error::<T>::CommitmentMismatch
			);
			if let Some(location) = &result_location {
				ensure!(
					!ResultHashes::<T>::contains_key(task_id, location.content_hash),
					Error::<T>::DuplicateResult
				);
				ResultHashes::<T>::insert(task_id, location.content_hash, submission_id);
			}

			Self::release(
				HoldReason::AssignmentDeposit,
				&contributor,
				submission.assignment_deposit,
			)?;
			submission.assignment_deposit = Zero::zero();
			submission.status = SubmissionStatus::Pending;
			submission.submitted_at = Some(now);
			submission.result = result;
			submission.result_location = result_location;
			task.pending = task.pending.checked_add(1).ok_or(Error::<T>::Overflow)?;
			ContributorStats::<T>::mutate(&contributor, |r| {
				r.results_revealed = r.results_revealed.saturating_add(1)
			});
			Self::deposit_event(Event::ResultRevealed { task_id, submission_id, contributor });
			if task.validation_strategy == ValidationStrategy::AutoAccept {
				task.pending = task.pending.checked_sub(1).ok_or(Error::<T>::Overflow)?;
				Self::pay_or_defer(
					task_id,
					&mut task,
					submission_id,
					&mut submission,
					Decider::AutoAccept,
				)?;
			}
			Tasks::<T>::insert(task_id, task);
			Submissions::<T>::insert(submission_id, submission);
			Ok(())
		}

		/// Accept a pending result and pay its reward from escrow to the contributor.
		/// Only the task's creator, while the task is open; a result is paid once. Emits
		/// `ResultAccepted`; if the payment fails the result becomes `PayoutOwed` (claimable
		/// later) and `PayoutDeferred` is emitted instead: the call still succeeds.
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::SubmissionNotFound`] if no submission has this id.
		/// - [`Error::NotTaskCreator`] if the signer did not create the submission's task.
		/// - [`Error::TaskNotOpen`] if the task is closed (closing paid every pending result).
		/// - [`Error::ResultNotPending`] if the submission is not `Pending` (not revealed yet, or
		///   already decided).
		/// - [`Error::TaskNotFound`], [`Error::Overflow`]: not reachable while the submission is
		///   stored; checked for safety.
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

			task.pending = task.pending.checked_sub(1).ok_or(Error::<T>::Overflow)?;
			Self::pay_or_defer(
				task_id,
				&mut task,
				submission_id,
				&mut submission,
				Decider::Creator,
			)?;
			Tasks::<T>::insert(task_id, task);
			Submissions::<T>::insert(submission_id, submission);
			Ok(())
		}

		/// Reject a pending result with a short reason. Only the task's creator, while
		/// the task is open and within `ReviewPeriod` blocks of the reveal. Nothing is
		/// paid; the slot stays taken and its reward held until the rejection is final
		/// (the contributor may appeal within `AppealPeriod`). Bumps `results_rejected`
		/// of both the creator and the contributor. Emits `ResultRejected`.
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::SubmissionNotFound`] if no submission has this id.
		/// - [`Error::NotTaskCreator`] if the signer did not create the submission's task.
		/// - [`Error::TaskNotOpen`] if the task is closed.
		/// - [`Error::ResultNotPending`] if the submission is not `Pending`.
		/// - [`Error::ReviewPeriodOver`] if `ReviewPeriod` blocks have passed since the reveal.
		/// - [`Error::TaskNotFound`], [`Error::Overflow`]: not reachable while the submission is
		///   stored; checked for safety.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::reject_task_result())]
		pub fn reject_task_result(
			origin: OriginFor<T>,
			submission_id: SubmissionId,
			reason: Reason,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let (mut task, mut submission) = Self::open_submission_of(&who, submission_id)?;
			let task_id = submission.task_id;
			ensure!(submission.status == SubmissionStatus::Pending, Error::<T>::ResultNotPending);
			let submitted_at = submission.submitted_at.ok_or(Error::<T>::ResultNotPending)?;
			ensure!(
				now < submitted_at.saturating_add(T::ReviewPeriod::get()),
				Error::<T>::ReviewPeriodOver
			);

			task.pending = task.pending.checked_sub(1).ok_or(Error::<T>::Overflow)?;
			submission.status = SubmissionStatus::Rejected;
			submission.rejection_reason = Some(reason.clone());
			submission.rejected_at = Some(now);
			let contributor = submission.contributor.clone();
			CreatorStats::<T>::mutate(&who, |r| {
				r.results_rejected = r.results_rejected.saturating_add(1)
			});
			ContributorStats::<T>::mutate(&contributor, |r| {
				r.results_rejected = r.results_rejected.saturating_add(1)
			});
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

		/// Settle a task. The creator may close at any time; anyone may close it once
		/// expired, but not while a result is within its review period. Nobody may
		/// close while a commitment is within its reveal window. Pays every pending
		/// result (a failed payment becomes `PayoutOwed`, never aborting the rest),
		/// cancels assigned slots (deposits returned; slots past `ResultTimeout` and
		/// commitments past their window time out, forfeiting the assignment deposit to
		/// the creator), keeps the rewards of rejected, appealed and owed results held,
		/// and returns the rest of the escrow to the creator. Marks the task closed.
		/// Emits one event per settled slot, then `TaskClosed`. A creator who decided
		/// every result it saw, and must not pay one revealed since, closes with
		/// `close_judged_task` instead.
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::TaskNotFound`] if no task has this id.
		/// - [`Error::TaskNotOpen`] if the task is already closed.
		/// - [`Error::TaskNotExpired`] if the signer is not the creator and the expiration block
		///   has not been reached.
		/// - [`Error::CommitmentsOutstanding`] if a commitment of the task is within its reveal
		///   window.
		/// - [`Error::ResultsUnderReview`] if the signer is not the creator and a pending result
		///   is within its review period.
		/// - [`Error::Overflow`]: not reachable with consistent records; checked for safety.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::close_task(T::MaxAssignments::get()))]
		pub fn close_task(origin: OriginFor<T>, task_id: TaskId) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let visited = Self::do_close(who, task_id, false)?;
			Ok(Some(T::WeightInfo::close_task(visited)).into())
		}

		/// Settle a task whose results have all been judged: `close_task` for a creator
		/// who decided every result it saw and must not pay one it has not. Who may call
		/// it, what it settles and what it emits are exactly as for `close_task`, but it
		/// refuses while any result of the task is `Pending` (revealed, undecided), so a
		/// result revealed after the creator last looked is never paid unjudged: decide
		/// it, then close again. Emits one event per settled slot, then `TaskClosed`.
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::TaskNotFound`] if no task has this id.
		/// - [`Error::TaskNotOpen`] if the task is already closed.
		/// - [`Error::TaskNotExpired`] if the signer is not the creator and the expiration block
		///   has not been reached.
		/// - [`Error::CommitmentsOutstanding`] if a commitment of the task is within its reveal
		///   window.
		/// - [`Error::ResultsPending`] if a result of the task is `Pending`, whoever signs and
		///   whether or not its review period is over.
		/// - [`Error::Overflow`]: not reachable with consistent records; checked for safety.
		#[pallet::call_index(15)]
		#[pallet::weight(T::WeightInfo::close_judged_task(T::MaxAssignments::get()))]
		pub fn close_judged_task(
			origin: OriginFor<T>,
			task_id: TaskId,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			let visited = Self::do_close(who, task_id, true)?;
			Ok(Some(T::WeightInfo::close_judged_task(visited)).into())
		}

		/// Time out a slot whose deadline passed. Anyone. An `Assigned` slot
		/// `ResultTimeout` blocks after it was taken, or a `Committed` one whose reveal
		/// window is over. Forfeits the assignment deposit to the creator, returns the
		/// storage deposit, removes the record (the slot reopens, and the account may
		/// take a slot again) and bumps the contributor's `slots_timed_out`. Emits
		/// `SlotTimedOut`.
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::SubmissionNotFound`] if no submission has this id.
		/// - [`Error::ResultAlreadySent`] if the submission's result was revealed (it has no
		///   deadline to miss).
		/// - [`Error::DeadlineNotReached`] if the slot is within `ResultTimeout` or its commitment
		///   within its reveal window.
		/// - [`Error::TaskNotFound`]: not reachable while the submission is stored; checked for
		///   safety.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::time_out_slot())]
		pub fn time_out_slot(origin: OriginFor<T>, submission_id: SubmissionId) -> DispatchResult {
			ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let submission =
				Submissions::<T>::get(submission_id).ok_or(Error::<T>::SubmissionNotFound)?;
			match submission.status {
				SubmissionStatus::Assigned | SubmissionStatus::Committed => {
					ensure!(Self::slot_timed_out(&submission, now), Error::<T>::DeadlineNotReached)
				},
				_ => return Err(Error::<T>::ResultAlreadySent.into()),
			}
			let task_id = submission.task_id;
			let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
			Self::time_out(task_id, &mut task, submission_id, submission)?;
			Tasks::<T>::insert(task_id, task);
			Ok(())
		}

		/// Pay a reward nobody decided on, or retry an owed one. Anyone. A `Pending`
		/// result whose review period is over is paid (a failed payment becomes
		/// `PayoutOwed`); a `PayoutOwed` result's payment is retried (and fails with the
		/// currency's error if it still cannot be made). Emits `ResultAccepted` (or
		/// `PayoutDeferred`).
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::SubmissionNotFound`] if no submission has this id.
		/// - [`Error::DeadlineNotReached`] if the result is `Pending` and within its review period
		///   (the creator may still decide).
		/// - [`Error::NothingToClaim`] if the submission is neither `Pending` nor `PayoutOwed`.
		/// - The currency's error if an owed payment still cannot be made (with
		///   pallet-balances, `Token(CannotCreate)`): nothing changes; retry later.
		/// - [`Error::TaskNotFound`], [`Error::Overflow`]: not reachable while the submission is
		///   stored; checked for safety.
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::claim_reward())]
		pub fn claim_reward(origin: OriginFor<T>, submission_id: SubmissionId) -> DispatchResult {
			ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let mut submission =
				Submissions::<T>::get(submission_id).ok_or(Error::<T>::SubmissionNotFound)?;
			let task_id = submission.task_id;
			let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
			match submission.status {
				SubmissionStatus::Pending => {
					ensure!(!Self::under_review(&submission, now), Error::<T>::DeadlineNotReached);
					task.pending = task.pending.checked_sub(1).ok_or(Error::<T>::Overflow)?;
					Self::pay_or_defer(
						task_id,
						&mut task,
						submission_id,
						&mut submission,
						Decider::ReviewPeriodLapsed,
					)?;
				},
				SubmissionStatus::PayoutOwed => {
					let decider =
						OwedPayouts::<T>::get(submission_id).unwrap_or(Decider::ReviewPeriodLapsed);
					Self::transfer_reward(&task, &submission)?;
					Self::record_payment(
						task_id,
						&mut task,
						submission_id,
						&mut submission,
						decider,
					)?;
				},
				_ => return Err(Error::<T>::NothingToClaim.into()),
			}
			Tasks::<T>::insert(task_id, task);
			Submissions::<T>::insert(submission_id, submission);
			Ok(())
		}

		/// Appeal a rejection. Only the contributor of the rejected submission, within
		/// `AppealPeriod` blocks of the rejection. Moves it to `Appealed`; the reward stays
		/// held until the `ArbiterOrigin` decides. Emits `RejectionAppealed`.
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::SubmissionNotFound`] if no submission has this id.
		/// - [`Error::NotAssignedContributor`] if the signer is not the submission's contributor.
		/// - [`Error::NotRejected`] if the submission is not `Rejected` (including one already
		///   appealed).
		/// - [`Error::AppealPeriodOver`] if `AppealPeriod` blocks have passed since the rejection.
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::appeal_rejection())]
		pub fn appeal_rejection(
			origin: OriginFor<T>,
			submission_id: SubmissionId,
		) -> DispatchResult {
			let contributor = ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let mut submission =
				Submissions::<T>::get(submission_id).ok_or(Error::<T>::SubmissionNotFound)?;
			ensure!(submission.contributor == contributor, Error::<T>::NotAssignedContributor);
			ensure!(submission.status == SubmissionStatus::Rejected, Error::<T>::NotRejected);
			let rejected_at = submission.rejected_at.ok_or(Error::<T>::NotRejected)?;
			ensure!(
				now < rejected_at.saturating_add(T::AppealPeriod::get()),
				Error::<T>::AppealPeriodOver
			);

			submission.status = SubmissionStatus::Appealed;
			let task_id = submission.task_id;
			Submissions::<T>::insert(submission_id, submission);
			Self::deposit_event(Event::RejectionAppealed { task_id, submission_id, contributor });
			Ok(())
		}

		/// Decide an appeal. Only `ArbiterOrigin`. `overturn`: the reward is paid
		/// (a failed payment becomes `PayoutOwed`) and the creator's
		/// `rejections_overturned` and the contributor's `appeals_won` are bumped.
		/// Otherwise the rejection is final, as with `release_rejection`. Emits
		/// `ResultAccepted` (or `PayoutDeferred`) or `RejectionFinal`, then `AppealDecided`.
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not `ArbiterOrigin`.
		/// - [`Error::SubmissionNotFound`] if no submission has this id.
		/// - [`Error::NotAppealed`] if the submission is not `Appealed`.
		/// - [`Error::TaskNotFound`], [`Error::Overflow`]: not reachable while the submission is
		///   stored; checked for safety.
		#[pallet::call_index(10)]
		// The benchmark measures an overturn (a payment); upholding does the work of
		// `release_rejection`, so the call is charged the heavier of the two.
		#[pallet::weight(T::WeightInfo::arbitrate().max(T::WeightInfo::release_rejection()))]
		pub fn arbitrate(
			origin: OriginFor<T>,
			submission_id: SubmissionId,
			overturn: bool,
		) -> DispatchResult {
			T::ArbiterOrigin::ensure_origin(origin)?;
			let mut submission =
				Submissions::<T>::get(submission_id).ok_or(Error::<T>::SubmissionNotFound)?;
			ensure!(submission.status == SubmissionStatus::Appealed, Error::<T>::NotAppealed);
			let task_id = submission.task_id;
			let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
			if overturn {
				CreatorStats::<T>::mutate(&task.creator, |r| {
					r.rejections_overturned = r.rejections_overturned.saturating_add(1)
				});
				ContributorStats::<T>::mutate(&submission.contributor, |r| {
					r.appeals_won = r.appeals_won.saturating_add(1)
				});
				Self::pay_or_defer(
					task_id,
					&mut task,
					submission_id,
					&mut submission,
					Decider::Arbiter,
				)?;
				Submissions::<T>::insert(submission_id, submission);
			} else {
				Self::finalize_rejection(task_id, &mut task, submission_id, &submission)?;
			}
			Tasks::<T>::insert(task_id, task);
			Self::deposit_event(Event::AppealDecided {
				task_id,
				submission_id,
				overturned: overturn,
			});
			Ok(())
		}

		/// Make a rejection final once its appeal period is over. Anyone. On an open
		/// task the slot reopens (its reward stays in escrow); on a closed one the
		/// reward returns to the creator. The storage deposit returns to the
		/// contributor and the record is removed. Emits `RejectionFinal`.
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::SubmissionNotFound`] if no submission has this id.
		/// - [`Error::NotRejected`] if the submission is not `Rejected` (an appealed one waits for
		///   the arbiter).
		/// - [`Error::DeadlineNotReached`] if the appeal period (`AppealPeriod` blocks after the
		///   rejection) is not over.
		/// - [`Error::TaskNotFound`], [`Error::Overflow`]: not reachable while the submission is
		///   stored; checked for safety.
		#[pallet::call_index(11)]
		#[pallet::weight(T::WeightInfo::release_rejection())]
		pub fn release_rejection(
			origin: OriginFor<T>,
			submission_id: SubmissionId,
		) -> DispatchResult {
			ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let submission =
				Submissions::<T>::get(submission_id).ok_or(Error::<T>::SubmissionNotFound)?;
			ensure!(submission.status == SubmissionStatus::Rejected, Error::<T>::NotRejected);
			let rejected_at = submission.rejected_at.ok_or(Error::<T>::NotRejected)?;
			ensure!(
				now >= rejected_at.saturating_add(T::AppealPeriod::get()),
				Error::<T>::DeadlineNotReached
			);
			let task_id = submission.task_id;
			let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
			Self::finalize_rejection(task_id, &mut task, submission_id, &submission)?;
			Tasks::<T>::insert(task_id, task);
			Ok(())
		}

		/// Remove a closed task and its remaining (accepted) submissions. Anyone,
		/// `RemovalDelay` blocks after closing, once the task holds no escrow. Returns
		/// the task deposit to the creator and each submission's storage deposit to its
		/// contributor; removes every index entry of the task. Reputation stays. Emits
		/// `TaskRemoved`.
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::TaskNotFound`] if no task has this id.
		/// - [`Error::TaskNotClosed`] if the task is still open.
		/// - [`Error::RemovalTooEarly`] if fewer than `RemovalDelay` blocks passed since closing.
		/// - [`Error::SettlementOutstanding`] if the task still holds rewards of rejected,
		///   appealed or owed results.
		/// - [`Error::Overflow`]: not reachable with consistent records; checked for safety.
		#[pallet::call_index(12)]
		#[pallet::weight(T::WeightInfo::remove_task(T::MaxAssignments::get()))]
		pub fn remove_task(origin: OriginFor<T>, task_id: TaskId) -> DispatchResultWithPostInfo {
			ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(task.status == TaskStatus::Closed, Error::<T>::TaskNotClosed);
			let closed_at = task.closed_at.ok_or(Error::<T>::TaskNotClosed)?;
			ensure!(
				now >= closed_at.saturating_add(T::RemovalDelay::get()),
				Error::<T>::RemovalTooEarly
			);
			ensure!(task.escrow.is_zero(), Error::<T>::SettlementOutstanding);

			let ids: alloc::vec::Vec<SubmissionId> =
				TaskSubmissions::<T>::iter_key_prefix(task_id).collect();
			let removed = ids.len() as u32;
			for submission_id in ids {
				if let Some(submission) = Submissions::<T>::get(submission_id) {
					Self::remove_submission(&mut task, submission_id, &submission)?;
				} else {
					TaskSubmissions::<T>::remove(task_id, submission_id);
				}
			}
			let _ = ResultHashes::<T>::clear_prefix(task_id, T::MaxAssignments::get(), None);
			Self::release(HoldReason::StorageDeposit, &task.creator, task.deposit)?;
			TasksByCreator::<T>::remove(&task.creator, task_id);
			OpenTasks::<T>::remove(task_id);
			Tasks::<T>::remove(task_id);
			Self::deposit_event(Event::TaskRemoved { task_id });
			Ok(Some(T::WeightInfo::remove_task(removed)).into())
		}

		/// Create a task as a round of a training campaign. Any signed account. Makes the
		/// same checks, holds and records as `create_task`, and records the task's place
		/// in the campaign (`Lineage`): with `campaign` none, a new campaign is started
		/// (its id is `NextCampaignId`; round 1, continuing nothing) with the signer as its
		/// creator; with `Some(id)`, the next round of that campaign, continuing its
		/// latest round's task, which must be settled (closed or removed). Only the
		/// campaign's creator may add rounds. Emits `TaskCreated`, then
		/// `CampaignRoundCreated`.
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::CampaignNotFound`] if no campaign has the id `campaign`.
		/// - [`Error::NotCampaignCreator`] if the signer did not start the campaign.
		/// - [`Error::PreviousRoundOpen`] if the campaign's latest round's task is still open.
		/// - [`Error::Overflow`] if the campaign ids or the campaign's rounds are used up, or as
		///   for `create_task`.
		/// - Every error of `create_task`, for the same arguments.
		#[pallet::call_index(13)]
		// A next round reads more (proof size), a first round writes more (time): the call
		// is charged the heavier of the two in each.
		#[pallet::weight(T::WeightInfo::create_campaign_task().max(T::WeightInfo::start_campaign()))]
		pub fn create_campaign_task(
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
			campaign: Option<CampaignId>,
		) -> DispatchResult {
			let creator = ensure_signed(origin)?;
			let (campaign_id, lineage) = Self::next_round(&creator, campaign)?;
			let fields = TaskFields {
				task_type,
				question,
				pays_amount,
				max_assignments,
				expiration_block,
				validation_strategy,
				bundle,
				result_public_key,
				annotation,
			};
			let task_id = Self::do_create_task(creator.clone(), fields, Some(lineage))?;

			if campaign.is_none() {
				let next = campaign_id.checked_add(1).ok_or(Error::<T>::Overflow)?;
				NextCampaignId::<T>::put(next);
			}
			Campaigns::<T>::insert(
				campaign_id,
				Campaign { creator, rounds: lineage.round, latest_task: task_id },
			);
			CampaignRounds::<T>::insert(campaign_id, lineage.round, task_id);
			Self::deposit_event(Event::CampaignRoundCreated {
				campaign: campaign_id,
				round: lineage.round,
				task_id,
				continues: lineage.continues,
			});
			Ok(())
		}

		/// Give up a slot before committing to a result. Only the slot's contributor,
		/// while the submission is `Assigned`. Settles it as `time_out_slot` does: the
		/// assignment deposit is forfeited to the creator, the storage deposit returned,
		/// the record removed (the slot reopens, and the account may take a slot again).
		/// Before the slot's `ResultTimeout` this bumps the contributor's `slots_released`
		/// and emits `SlotReleased`; after it the slot has already timed out, so it counts
		/// as that (`slots_timed_out`, `SlotTimedOut`).
		///
		/// ## Errors
		///
		/// - `BadOrigin` if the origin is not signed.
		/// - [`Error::SubmissionNotFound`] if no submission has this id.
		/// - [`Error::NotAssignedContributor`] if the signer is not the submission's contributor.
		/// - [`Error::ResultAlreadySent`] if the contributor already committed to (or revealed)
		///   a result: it must be revealed, or it times out.
		/// - [`Error::TaskNotFound`]: not reachable while the submission is stored; checked for
		///   safety.
		#[pallet::call_index(14)]
		#[pallet::weight(T::WeightInfo::release_slot())]
		pub fn release_slot(origin: OriginFor<T>, submission_id: SubmissionId) -> DispatchResult {
			let contributor = ensure_signed(origin)?;
			let now = frame_system::Pallet::<T>::block_number();
			let submission =
				Submissions::<T>::get(submission_id).ok_or(Error::<T>::SubmissionNotFound)?;
			ensure!(submission.contributor == contributor, Error::<T>::NotAssignedContributor);
			ensure!(submission.status == SubmissionStatus::Assigned, Error::<T>::ResultAlreadySent);
			let task_id = submission.task_id;
			let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
			if Self::slot_timed_out(&submission, now) {
				Self::time_out(task_id, &mut task, submission_id, submission)?;
			} else {
				let forfeited = Self::forfeit_slot(&mut task, submission_id, &submission)?;
				ContributorStats::<T>::mutate(&contributor, |r| {
					r.slots_released = r.slots_released.saturating_add(1)
				});
				Self::deposit_event(Event::SlotReleased {
					task_id,
					submission_id,
					contributor,
					forfeited,
				});
			}
			Tasks::<T>::insert(task_id, task);
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// Create a task for `creator` as `create_task` describes, with its place in a
		/// campaign if it is one; returns its id. Shared by `create_task` and
		/// `create_campaign_task`.
		fn do_create_task(
			creator: T::AccountId,
			fields: TaskFields<T>,
			lineage: Option<Lineage>,
		) -> Result<TaskId, DispatchError> {
			let TaskFields {
				task_type,
				question,
				pays_amount,
				max_assignments,
				expiration_block,
				validation_strategy,
				bundle,
				result_public_key,
				annotation,
			} = fields;
			let now = frame_system::Pallet::<T>::block_number();
			ensure!(!question.is_empty(), Error::<T>::EmptyQuestion);
			ensure!(!pays_amount.is_zero(), Error::<T>::ZeroReward);
			ensure!(pays_amount >= T::Currency::minimum_balance(), Error::<T>::RewardBelowMinimum);
			ensure!(max_assignments > 0, Error::<T>::ZeroAssignments);
			ensure!(max_assignments <= T::MaxAssignments::get(), Error::<T>::TooManyAssignments);
			ensure!(expiration_block > now, Error::<T>::ExpirationInPast);
			ensure!(
				expiration_block <= now.saturating_add(T::MaxTaskDuration::get()),
				Error::<T>::ExpirationTooFar
			);
			ensure!(!bundle.path.is_empty(), Error::<T>::EmptyLocation);
			let escrow =
				pays_amount.checked_mul(&max_assignments.into()).ok_or(Error::<T>::Overflow)?;
			let task_id = NextTaskId::<T>::get();
			let next_task_id = task_id.checked_add(1).ok_or(Error::<T>::Overflow)?;
			let deposit = T::TaskDeposit::get();

			// Calls are transactional: if the second hold fails, the first is undone.
			T::Currency::hold(&HoldReason::TaskEscrow.into(), &creator, escrow)
				.map_err(|_| Error::<T>::InsufficientFunds)?;
			Self::hold(HoldReason::StorageDeposit, &creator, deposit)
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
					closed_at: None,
					taken_slots: 0,
					pending: 0,
					accepted: 0,
					live_submissions: 0,
					escrow,
					deposit,
					lineage,
				},
			);
			OpenTasks::<T>::insert(task_id, ());
			TasksByCreator::<T>::insert(&creator, task_id, ());
			NextTaskId::<T>::put(next_task_id);
			CreatorStats::<T>::mutate(&creator, |r| {
				r.tasks_created = r.tasks_created.saturating_add(1)
			});
			Self::deposit_event(Event::TaskCreated {
				task_id,
				creator,
				pays_amount,
				max_assignments,
				escrow,
			});
			Ok(task_id)
		}

		/// Settle task `task_id` for `who` as `close_task` describes; with
		/// `refuse_pending`, refuse (`ResultsPending`) instead if any result of the task is
		/// pending. Returns how many submissions it visited, for the actual weight. Shared
		/// by `close_task` and `close_judged_task`.
		fn do_close(
			who: T::AccountId,
			task_id: TaskId,
			refuse_pending: bool,
		) -> Result<u32, DispatchError> {
			let now = frame_system::Pallet::<T>::block_number();
			let mut task = Tasks::<T>::get(task_id).ok_or(Error::<T>::TaskNotFound)?;
			ensure!(task.status == TaskStatus::Open, Error::<T>::TaskNotOpen);
			let by_creator = who == task.creator;
			ensure!(by_creator || Self::is_expired(&task), Error::<T>::TaskNotExpired);
			let submissions: alloc::vec::Vec<(SubmissionId, SubmissionOf<T>)> =
				TaskSubmissions::<T>::iter_key_prefix(task_id)
					.filter_map(|id| Submissions::<T>::get(id).map(|s| (id, s)))
					.collect();
			for (_, submission) in &submissions {
				if submission.status == SubmissionStatus::Committed {
					ensure!(
						!Self::reveal_window_open(submission, now),
						Error::<T>::CommitmentsOutstanding
					);
				}
				if submission.status == SubmissionStatus::Pending {
					ensure!(!refuse_pending, Error::<T>::ResultsPending);
					ensure!(
						by_creator || !Self::under_review(submission, now),
						Error::<T>::ResultsUnderReview
					);
				}
			}

			let visited = submissions.len() as u32;
			let mut paid_on_close = BalanceOf::<T>::zero();
			let mut kept = 0u32;
			for (submission_id, mut submission) in submissions {
				match submission.status {
					SubmissionStatus::Pending => {
						let decider = if Self::under_review(&submission, now) {
							Decider::Close
						} else {
							Decider::ReviewPeriodLapsed
						};
						task.pending = task.pending.checked_sub(1).ok_or(Error::<T>::Overflow)?;
						let paid = Self::pay_or_defer(
							task_id,
							&mut task,
							submission_id,
							&mut submission,
							decider,
						)?;
						paid_on_close =
							paid_on_close.checked_add(&paid).ok_or(Error::<T>::Overflow)?;
						if submission.status == SubmissionStatus::PayoutOwed {
							kept = kept.checked_add(1).ok_or(Error::<T>::Overflow)?;
						}
						Submissions::<T>::insert(submission_id, submission);
					},
					SubmissionStatus::Assigned if !Self::slot_timed_out(&submission, now) => {
						Self::release(
							HoldReason::AssignmentDeposit,
							&submission.contributor,
							submission.assignment_deposit,
						)?;
						Self::remove_submission(&mut task, submission_id, &submission)?;
						Self::deposit_event(Event::SlotCancelled {
							task_id,
							submission_id,
							contributor: submission.contributor,
						});
					},
					SubmissionStatus::Assigned | SubmissionStatus::Committed => {
						Self::time_out(task_id, &mut task, submission_id, submission)?;
					},
					SubmissionStatus::Rejected
					| SubmissionStatus::Appealed
					| SubmissionStatus::PayoutOwed => {
						kept = kept.checked_add(1).ok_or(Error::<T>::Overflow)?;
					},
					SubmissionStatus::Accepted => {},
				}
			}
			let held_back =
				task.pays_amount.checked_mul(&kept.into()).ok_or(Error::<T>::Overflow)?;
			let refunded = task.escrow.checked_sub(&held_back).ok_or(Error::<T>::Overflow)?;
			Self::release(HoldReason::TaskEscrow, &task.creator, refunded)?;
			task.escrow = held_back;
			task.status = TaskStatus::Closed;
			task.closed_at = Some(now);
			Tasks::<T>::insert(task_id, task);
			OpenTasks::<T>::remove(task_id);
			Self::deposit_event(Event::TaskClosed { task_id, paid_on_close, refunded });
			Ok(visited)
		}

		/// The campaign and lineage of the round `creator` is about to create: a new
		/// campaign's first round, or the next round of `campaign`. Writes nothing.
		fn next_round(
			creator: &T::AccountId,
			campaign: Option<CampaignId>,
		) -> Result<(CampaignId, Lineage), DispatchError> {
			let Some(campaign_id) = campaign else {
				let lineage =
					Lineage { campaign: NextCampaignId::<T>::get(), round: 1, continues: None };
				return Ok((lineage.campaign, lineage));
			};
			let record = Campaigns::<T>::get(campaign_id).ok_or(Error::<T>::CampaignNotFound)?;
			ensure!(&record.creator == creator, Error::<T>::NotCampaignCreator);
			// A removed task was closed first: it counts as settled.
			ensure!(
				Tasks::<T>::get(record.latest_task).is_none_or(|t| t.status != TaskStatus::Open),
				Error::<T>::PreviousRoundOpen
			);
			let round = record.rounds.checked_add(1).ok_or(Error::<T>::Overflow)?;
			Ok((
				campaign_id,
				Lineage { campaign: campaign_id, round, continues: Some(record.latest_task) },
			))
		}

		/// A task has expired once the chain reaches its expiration block.
		pub fn is_expired(task: &TaskOf<T>) -> bool {
			frame_system::Pallet::<T>::block_number() >= task.expiration_block
		}

		/// The commitment a contributor sends for a result: `blake2_256` of the SCALE
		/// encoding of `(contributor, submission_id, result, result_location, salt)`.
		/// It names the contributor and the submission, so nobody else can reveal it.
		pub fn result_commitment(
			contributor: &T::AccountId,
			submission_id: SubmissionId,
			result: &ResultText,
			result_location: &Option<Location>,
			salt: &[u8; 32],
		) -> [u8; 32] {
			(contributor, submission_id, result, result_location, salt)
				.using_encoded(frame::hashing::blake2_256)
		}

		/// Everything this pallet holds in escrow for `creator`'s tasks.
		pub fn escrow_held(creator: &T::AccountId) -> BalanceOf<T> {
			T::Currency::balance_on_hold(&HoldReason::TaskEscrow.into(), creator)
		}

		fn reveal_window_open(submission: &SubmissionOf<T>, now: BlockNumberFor<T>) -> bool {
			submission
				.committed_at
				.is_some_and(|at| now <= at.saturating_add(T::RevealWindow::get()))
		}

		fn under_review(submission: &SubmissionOf<T>, now: BlockNumberFor<T>) -> bool {
			submission
				.submitted_at
				.is_some_and(|at| now < at.saturating_add(T::ReviewPeriod::get()))
		}

		/// An `Assigned` slot past `ResultTimeout`, or a `Committed` one past its window.
		fn slot_timed_out(submission: &SubmissionOf<T>, now: BlockNumberFor<T>) -> bool {
			match submission.status {
				SubmissionStatus::Assigned => {
					now >= submission.assigned_at.saturating_add(T::ResultTimeout::get())
				},
				SubmissionStatus::Committed => !Self::reveal_window_open(submission, now),
				_ => false,
			}
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
			ensure!(task.status == TaskStatus::Open, Error::<T>::TaskNotOpen);
			Ok((task, submission))
		}

		fn hold(reason: HoldReason, who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
			if amount.is_zero() {
				return Ok(());
			}
			T::Currency::hold(&reason.into(), who, amount)
		}

		fn release(reason: HoldReason, who: &T::AccountId, amount: BalanceOf<T>) -> DispatchResult {
			if amount.is_zero() {
				return Ok(());
			}
			T::Currency::release(&reason.into(), who, amount, Precision::Exact).map(|_| ())
		}

		/// Move one reward from the creator's escrow hold to the contributor's free
		/// balance; all or nothing.
		fn transfer_reward(task: &TaskOf<T>, submission: &SubmissionOf<T>) -> DispatchResult {
			with_storage_layer(|| {
				T::Currency::transfer_on_hold(
					&HoldReason::TaskEscrow.into(),
					&task.creator,
					&submission.contributor,
					task.pays_amount,
					Precision::Exact,
					Restriction::Free,
					Fortitude::Polite,
				)
				.map(|_| ())
			})
		}

		/// Book a reward that was just transferred: escrow, counters, status, event.
		fn record_payment(
			task_id: TaskId,
			task: &mut TaskOf<T>,
			submission_id: SubmissionId,
			submission: &mut SubmissionOf<T>,
			decided_by: Decider,
		) -> DispatchResult {
			let paid = task.pays_amount;
			task.escrow = task.escrow.checked_sub(&paid).ok_or(Error::<T>::Overflow)?;
			task.accepted = task.accepted.checked_add(1).ok_or(Error::<T>::Overflow)?;
			submission.status = SubmissionStatus::Accepted;
			OwedPayouts::<T>::remove(submission_id);
			CreatorStats::<T>::mutate(&task.creator, |r| {
				r.results_accepted = r.results_accepted.saturating_add(1);
				r.total_paid = r.total_paid.saturating_add(paid);
			});
			ContributorStats::<T>::mutate(&submission.contributor, |r| {
				r.results_accepted = r.results_accepted.saturating_add(1)
			});
			Self::deposit_event(Event::ResultAccepted {
				task_id,
				submission_id,
				contributor: submission.contributor.clone(),
				paid,
				decided_by,
			});
			Ok(())
		}

		/// Pay an accepted result; if the payment cannot be made, mark it `PayoutOwed`
		/// (its reward stays held) instead of failing. Returns what was paid. The caller
		/// has taken the submission out of `pending` and stores both records.
		fn pay_or_defer(
			task_id: TaskId,
			task: &mut TaskOf<T>,
			submission_id: SubmissionId,
			submission: &mut SubmissionOf<T>,
			decided_by: Decider,
		) -> Result<BalanceOf<T>, DispatchError> {
			if Self::transfer_reward(task, submission).is_ok() {
				Self::record_payment(task_id, task, submission_id, submission, decided_by)?;
				return Ok(task.pays_amount);
			}
			submission.status = SubmissionStatus::PayoutOwed;
			OwedPayouts::<T>::insert(submission_id, decided_by);
			Self::deposit_event(Event::PayoutDeferred {
				task_id,
				submission_id,
				contributor: submission.contributor.clone(),
				amount: task.pays_amount,
			});
			Ok(Zero::zero())
		}

		/// Remove a submission record and its index entries, return its storage deposit
		/// and free its slot.
		fn remove_submission(
			task: &mut TaskOf<T>,
			submission_id: SubmissionId,
			submission: &SubmissionOf<T>,
		) -> DispatchResult {
			let task_id = submission.task_id;
			Self::release(
				HoldReason::StorageDeposit,
				&submission.contributor,
				submission.storage_deposit,
			)?;
			task.taken_slots = task.taken_slots.checked_sub(1).ok_or(Error::<T>::Overflow)?;
			task.live_submissions =
				task.live_submissions.checked_sub(1).ok_or(Error::<T>::Overflow)?;
			Submissions::<T>::remove(submission_id);
			TaskSubmissions::<T>::remove(task_id, submission_id);
			ContributorSubmissions::<T>::remove(&submission.contributor, submission_id);
			if Assignments::<T>::get(task_id, &submission.contributor) == Some(submission_id) {
				Assignments::<T>::remove(task_id, &submission.contributor);
			}
			if let Some(location) = &submission.result_location {
				if ResultHashes::<T>::get(task_id, location.content_hash) == Some(submission_id) {
					ResultHashes::<T>::remove(task_id, location.content_hash);
				}
			}
			OwedPayouts::<T>::remove(submission_id);
			Ok(())
		}

		/// Time a slot out: forfeit its assignment deposit to the creator, remove it.
		fn time_out(
			task_id: TaskId,
			task: &mut TaskOf<T>,
			submission_id: SubmissionId,
			submission: SubmissionOf<T>,
		) -> DispatchResult {
			let forfeited = Self::forfeit_slot(task, submission_id, &submission)?;
			ContributorStats::<T>::mutate(&submission.contributor, |r| {
				r.slots_timed_out = r.slots_timed_out.saturating_add(1)
			});
			Self::deposit_event(Event::SlotTimedOut {
				task_id,
				submission_id,
				contributor: submission.contributor,
				forfeited,
			});
			Ok(())
		}

		/// Settle a slot given up without a result (timed out or released): move its
		/// assignment deposit to the creator (back to the contributor if the creator
		/// cannot receive it) and remove the record. Returns what the creator received.
		fn forfeit_slot(
			task: &mut TaskOf<T>,
			submission_id: SubmissionId,
			submission: &SubmissionOf<T>,
		) -> Result<BalanceOf<T>, DispatchError> {
			let deposit = submission.assignment_deposit;
			let forfeited = if deposit.is_zero() {
				Zero::zero()
			} else {
				let moved = with_storage_layer(|| {
					T::Currency::transfer_on_hold(
						&HoldReason::AssignmentDeposit.into(),
						&submission.contributor,
						&task.creator,
						deposit,
						Precision::Exact,
						Restriction::Free,
						Fortitude::Polite,
					)
				});
				if moved.is_ok() {
					deposit
				} else {
					// The creator cannot receive it: the deposit goes back rather than
					// blocking the slot forever.
					Self::release(HoldReason::AssignmentDeposit, &submission.contributor, deposit)?;
					Zero::zero()
				}
			};
			Self::remove_submission(task, submission_id, submission)?;
			Ok(forfeited)
		}

		/// A rejection becomes final: reward back to the creator if the task is closed
		/// (on an open task it stays in escrow for the reopened slot); record removed.
		fn finalize_rejection(
			task_id: TaskId,
			task: &mut TaskOf<T>,
			submission_id: SubmissionId,
			submission: &SubmissionOf<T>,
		) -> DispatchResult {
			if task.status == TaskStatus::Closed {
				task.escrow =
					task.escrow.checked_sub(&task.pays_amount).ok_or(Error::<T>::Overflow)?;
				Self::release(HoldReason::TaskEscrow, &task.creator, task.pays_amount)?;
			}
			Self::remove_submission(task, submission_id, submission)?;
			Self::deposit_event(Event::RejectionFinal { task_id, submission_id });
			Ok(())
		}
	}

	#[cfg(any(feature = "try-runtime", test))]
	impl<T: Config> Pallet<T> {
		/// The invariants of the pallet's records and of the money it holds: every
		/// task's counters match its submissions, its escrow matches its state, every
		/// record is in its indexes and every index entry points at a record that says
		/// the same, and the holds of each account under each reason equal what the
		/// records say.
		pub fn do_try_state() -> Result<(), DispatchError> {
			use alloc::collections::btree_map::BTreeMap;
			type Sums<T> = BTreeMap<<T as frame_system::Config>::AccountId, BalanceOf<T>>;
			fn add<T: Config>(sums: &mut Sums<T>, who: &T::AccountId, amount: BalanceOf<T>) {
				let entry = sums.entry(who.clone()).or_insert_with(Zero::zero);
				*entry = entry.saturating_add(amount);
			}
			let err = |m: &'static str| DispatchError::Other(m);
			let mut escrow = Sums::<T>::new();
			let mut assignment = Sums::<T>::new();
			let mut storage = Sums::<T>::new();
			let mut indexed = 0u64;
			for (task_id, task) in Tasks::<T>::iter() {
				let mut counts = [0u32; 7];
				let mut live = 0u32;
				for submission_id in TaskSubmissions::<T>::iter_key_prefix(task_id) {
					let s = Submissions::<T>::get(submission_id)
						.ok_or(err("TaskSubmissions points to no submission"))?;
					ensure!(s.task_id == task_id, err("submission indexed under another task"));
					ensure!(
						Assignments::<T>::get(task_id, &s.contributor) == Some(submission_id),
						err("stored submission without its Assignments entry")
					);
					ensure!(
						ContributorSubmissions::<T>::contains_key(&s.contributor, submission_id),
						err("stored submission without its ContributorSubmissions entry")
					);
					live += 1;
					counts[s.status as usize] += 1;
					match s.status {
						SubmissionStatus::Assigned | SubmissionStatus::Committed => {
							add::<T>(&mut assignment, &s.contributor, s.assignment_deposit)
						},
						_ => ensure!(
							s.assignment_deposit.is_zero(),
							err("assignment deposit recorded after the reveal")
						),
					}
					if s.status == SubmissionStatus::Committed {
						ensure!(s.commitment.is_some(), err("committed without a commitment"));
					}
					ensure!(
						(s.status == SubmissionStatus::PayoutOwed)
							== OwedPayouts::<T>::contains_key(submission_id),
						err("OwedPayouts does not match PayoutOwed submissions")
					);
					add::<T>(&mut storage, &s.contributor, s.storage_deposit);
				}
				indexed += live as u64;
				let count = |s: SubmissionStatus| counts[s as usize];
				ensure!(live == task.live_submissions, err("live_submissions is wrong"));
				ensure!(live == task.taken_slots, err("taken_slots is wrong"));
				ensure!(task.taken_slots <= task.max_assignments, err("more slots than allowed"));
				ensure!(task.pending == count(SubmissionStatus::Pending), err("pending is wrong"));
				ensure!(
					task.accepted == count(SubmissionStatus::Accepted),
					err("accepted is wrong")
				);
				let owed_slots = match task.status {
					TaskStatus::Open => {
						ensure!(
							OpenTasks::<T>::contains_key(task_id),
							err("open task not indexed")
						);
						ensure!(task.closed_at.is_none(), err("open task with closed_at"));
						task.max_assignments
							.checked_sub(task.accepted)
							.ok_or(err("more accepted than slots"))?
					},
					TaskStatus::Closed => {
						ensure!(
							!OpenTasks::<T>::contains_key(task_id),
							err("closed task indexed open")
						);
						ensure!(task.closed_at.is_some(), err("closed task without closed_at"));
						ensure!(
							count(SubmissionStatus::Assigned)
								+ count(SubmissionStatus::Committed)
								+ count(SubmissionStatus::Pending)
								== 0,
							err("closed task with an unsettled slot")
						);
						count(SubmissionStatus::Rejected)
							+ count(SubmissionStatus::Appealed)
							+ count(SubmissionStatus::PayoutOwed)
					},
				};
				ensure!(
					Some(task.escrow) == task.pays_amount.checked_mul(&owed_slots.into()),
					err("task escrow does not match its slots")
				);
				ensure!(
					TasksByCreator::<T>::contains_key(&task.creator, task_id),
					err("task not indexed by creator")
				);
				add::<T>(&mut escrow, &task.creator, task.escrow);
				add::<T>(&mut storage, &task.creator, task.deposit);
			}
			ensure!(
				Submissions::<T>::iter_keys().count() as u64 == indexed,
				err("a submission is not indexed under its task")
			);
			for (task_id, hash, submission_id) in ResultHashes::<T>::iter() {
				let s = Submissions::<T>::get(submission_id)
					.ok_or(err("ResultHashes points to no submission"))?;
				ensure!(s.task_id == task_id, err("ResultHashes under another task"));
				ensure!(
					s.result_location.as_ref().map(|l| l.content_hash) == Some(hash),
					err("ResultHashes under a hash its submission did not reveal")
				);
			}
			// The indexes point only at records that say the same.
			let submission_is = |id: SubmissionId, f: &dyn Fn(&SubmissionOf<T>) -> bool| {
				Submissions::<T>::get(id).is_some_and(|s| f(&s))
			};
			for task_id in OpenTasks::<T>::iter_keys() {
				ensure!(
					Tasks::<T>::get(task_id).is_some_and(|t| t.status == TaskStatus::Open),
					err("an OpenTasks entry without an open task")
				);
			}
			for (creator, task_id, ()) in TasksByCreator::<T>::iter() {
				ensure!(
					Tasks::<T>::get(task_id).is_some_and(|t| t.creator == creator),
					err("a TasksByCreator entry without a task of that creator")
				);
			}
			for (task_id, submission_id, ()) in TaskSubmissions::<T>::iter() {
				ensure!(
					submission_is(submission_id, &|s| s.task_id == task_id),
					err("a TaskSubmissions entry without a submission of that task")
				);
			}
			for (who, submission_id, ()) in ContributorSubmissions::<T>::iter() {
				ensure!(
					submission_is(submission_id, &|s| s.contributor == who),
					err("a ContributorSubmissions entry without a submission of that account")
				);
			}
			for (task_id, who, submission_id) in Assignments::<T>::iter() {
				ensure!(
					submission_is(submission_id, &|s| s.task_id == task_id && s.contributor == who),
					err("an Assignments entry without a submission of that task and account")
				);
			}
			for submission_id in OwedPayouts::<T>::iter_keys() {
				ensure!(
					submission_is(submission_id, &|s| s.status == SubmissionStatus::PayoutOwed),
					err("an OwedPayouts entry without an owed submission")
				);
			}
			Self::campaigns_try_state()?;
			let (next_task, next_submission) =
				(NextTaskId::<T>::get(), NextSubmissionId::<T>::get());
			ensure!(
				Tasks::<T>::iter_keys().all(|id| id < next_task),
				err("a task id at or above NextTaskId")
			);
			ensure!(
				Submissions::<T>::iter_keys().all(|id| id < next_submission),
				err("a submission id at or above NextSubmissionId")
			);
			let checks = [
				(HoldReason::TaskEscrow, escrow),
				(HoldReason::AssignmentDeposit, assignment),
				(HoldReason::StorageDeposit, storage),
			];
			for (reason, sums) in checks {
				let reason: T::RuntimeHoldReason = reason.into();
				for (who, expected) in sums {
					ensure!(
						T::Currency::balance_on_hold(&reason, &who) == expected,
						err("holds do not match the records")
					);
				}
			}
			Ok(())
		}

		/// Every campaign's rounds are 1..=`rounds`, each round's task (while stored) is
		/// the creator's and records that round and the previous round's task, only the
		/// latest round may be open, and every task's lineage is indexed.
		fn campaigns_try_state() -> Result<(), DispatchError> {
			let err = |m: &'static str| DispatchError::Other(m);
			let next_campaign = NextCampaignId::<T>::get();
			for (campaign_id, campaign) in Campaigns::<T>::iter() {
				ensure!(
					campaign_id < next_campaign,
					err("a campaign id at or above NextCampaignId")
				);
				let rounds = CampaignRounds::<T>::iter_prefix(campaign_id).count() as u64;
				ensure!(
					campaign.rounds > 0 && rounds == campaign.rounds as u64,
					err("a campaign's rounds do not match its CampaignRounds entries")
				);
				ensure!(
					CampaignRounds::<T>::get(campaign_id, campaign.rounds)
						== Some(campaign.latest_task),
					err("a campaign's latest task is not its highest round's")
				);
				for (round, task_id) in CampaignRounds::<T>::iter_prefix(campaign_id) {
					ensure!(
						(1..=campaign.rounds).contains(&round),
						err("a CampaignRounds entry outside the campaign's rounds")
					);
					let Some(task) = Tasks::<T>::get(task_id) else { continue };
					let continues = match round {
						1 => None,
						_ => Some(
							CampaignRounds::<T>::get(campaign_id, round - 1)
								.ok_or(err("a campaign round without its previous round"))?,
						),
					};
					ensure!(
						task.lineage == Some(Lineage { campaign: campaign_id, round, continues }),
						err("a campaign round's task records another lineage")
					);
					ensure!(
						task.creator == campaign.creator,
						err("a campaign round by another creator")
					);
					ensure!(
						round == campaign.rounds || task.status != TaskStatus::Open,
						err("an earlier campaign round still open")
					);
				}
			}
			for (campaign_id, _, _) in CampaignRounds::<T>::iter() {
				ensure!(
					Campaigns::<T>::contains_key(campaign_id),
					err("a CampaignRounds entry without its campaign")
				);
			}
			for (task_id, task) in Tasks::<T>::iter() {
				if let Some(lineage) = task.lineage {
					ensure!(
						CampaignRounds::<T>::get(lineage.campaign, lineage.round) == Some(task_id),
						err("a task's lineage is not in CampaignRounds")
					);
				}
			}
			Ok(())
		}
	}
}
