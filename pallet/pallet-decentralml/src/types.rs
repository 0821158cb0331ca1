//! The records the marketplace keeps on-chain, and the enums its calls take.
//!
//! Every field is bounded so that a record has a known maximum size. No field
//! holds a credential: locations are paths or URIs plus the hash of what is
//! stored there; access keys stay with the client.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame::prelude::*;
use scale_info::TypeInfo;

/// Longest task question / description, in bytes.
pub const MAX_QUESTION_LEN: u32 = 1024;
/// Longest storage path or URI (an IPFS CID, `s3://bucket/key`, a local path), in bytes.
pub const MAX_PATH_LEN: u32 = 512;
/// Longest free-text result a contributor can send, in bytes.
pub const MAX_RESULT_LEN: u32 = 1024;
/// Longest reason a creator can give when rejecting a result, in bytes.
pub const MAX_REASON_LEN: u32 = 256;
/// Longest data-annotation field (annotation type, class labels as JSON), in bytes.
pub const MAX_ANNOTATION_LEN: u32 = 1024;

pub type TaskId = u64;
pub type SubmissionId = u64;
pub type CampaignId = u64;
pub type Question = BoundedVec<u8, ConstU32<MAX_QUESTION_LEN>>;
pub type StoragePath = BoundedVec<u8, ConstU32<MAX_PATH_LEN>>;
pub type ResultText = BoundedVec<u8, ConstU32<MAX_RESULT_LEN>>;
pub type Reason = BoundedVec<u8, ConstU32<MAX_REASON_LEN>>;
pub type AnnotationText = BoundedVec<u8, ConstU32<MAX_ANNOTATION_LEN>>;

/// What kind of work a task buys.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum TaskType {
	/// Train the creator's model on the contributor's own data and send the trained model.
	ModelContributor,
	/// Label the creator's samples.
	DataAnnotator,
	/// Improve the creator's model architecture or code.
	ModelEngineer,
}

/// How results are judged.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum ValidationStrategy {
	/// Every result is accepted, and paid, the moment it is sent.
	AutoAccept,
	/// The creator accepts or rejects each result by hand.
	ManualAccept,
	/// The creator runs their own check off-chain and accepts or rejects with its verdict.
	CustomAccept,
}

/// Where a bundle or result is stored.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum StorageType {
	IPFS,
	S3,
	Crust,
	GCP,
	Azure,
	/// A directory on the machine (or shared file system) of the parties; for
	/// single-machine use and demos.
	Local,
}

/// A stored object: where it is and the sha256 of its bytes, which whoever
/// fetches it checks before using it.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct Location {
	pub storage_type: StorageType,
	/// Path or URI within that storage: a CID for IPFS, `bucket/key` for S3.
	pub path: StoragePath,
	/// sha256 of the stored bytes.
	pub content_hash: [u8; 32],
	/// How many bytes are stored there; more than zero.
	pub size: u64,
}

/// What a data-annotation task asks for.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct AnnotationSpec {
	/// e.g. `classification`, `bounding_box`.
	pub annotation_type: AnnotationText,
	/// The labels to choose from, as the creator writes them (JSON by convention).
	pub class_labels: AnnotationText,
}

#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum TaskStatus {
	/// Taking assignments (until expiry) and decisions.
	Open,
	/// Settled: results paid, slots without a result released, the rest of the escrow
	/// returned. Disputed rewards (rejected or appealed results) and payouts that
	/// could not be made stay held until they are settled one by one.
	Closed,
}

/// Where a submission stands. Cancelled and timed-out slots and final rejections are
/// pruned from storage (their events say what happened), so they are never stored.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum SubmissionStatus {
	/// The contributor holds a slot (and an assignment deposit) and has not committed.
	Assigned,
	/// The contributor committed to a result by its hash; it must be revealed within
	/// the reveal window.
	Committed,
	/// The result was revealed and awaits the creator's decision (until the review
	/// period lapses, after which anyone may claim its reward for the contributor).
	Pending,
	/// The result was accepted and its reward paid.
	Accepted,
	/// The creator rejected the result; its reward stays held until the rejection is
	/// final (appeal period over, or upheld by the arbiter).
	Rejected,
	/// The contributor appealed the rejection; the arbiter decides.
	Appealed,
	/// The result was accepted but its payment failed; the reward stays held and
	/// anyone may retry it with `claim_reward`.
	PayoutOwed,
}

/// Who or what accepted a result.
#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum Decider {
	/// The task's creator, with `accept_task_result`.
	Creator,
	/// The task's AutoAccept strategy, when the result was revealed.
	AutoAccept,
	/// Nobody decided within the review period; paid on claim or close.
	ReviewPeriodLapsed,
	/// The arbiter overturned the creator's rejection.
	Arbiter,
	/// The creator closed the task while the result was still under review.
	Close,
}

/// Where a task stands in a training campaign: round `round` of `campaign`, whose
/// bundle carries the model federated in the round of task `continues` (none for the
/// first round, which starts from the creator's initial model).
#[derive(
	Encode, Decode, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct Lineage {
	pub campaign: CampaignId,
	/// 1 for the first round.
	pub round: u32,
	/// The task of the previous round.
	pub continues: Option<TaskId>,
}

/// A training campaign: a chain of tasks, one per round, by one creator.
#[derive(
	Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub struct Campaign<AccountId> {
	/// The only account that may add rounds.
	pub creator: AccountId,
	/// Rounds created so far; the latest is round `rounds`.
	pub rounds: u32,
	/// The task of the latest round; the next round may start once it is settled.
	pub latest_task: TaskId,
}

/// A training task and its escrow.
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Task<AccountId, Balance, BlockNumber> {
	pub creator: AccountId,
	pub task_type: TaskType,
	pub question: Question,
	/// Reward paid for each accepted result; at least the existential deposit.
	pub pays_amount: Balance,
	/// How many results the task pays for; also the number of slots.
	pub max_assignments: u32,
	/// From this block on, no slot can be taken and no result committed.
	pub expiration_block: BlockNumber,
	pub validation_strategy: ValidationStrategy,
	/// The bundle contributors download: scripts for model contributors, the
	/// files to label for annotators, the model for engineers.
	pub bundle: Location,
	/// Public key (X25519) results must be sealed to, so only the creator can read them.
	pub result_public_key: Option<[u8; 32]>,
	pub annotation: Option<AnnotationSpec>,
	pub status: TaskStatus,
	pub created_at: BlockNumber,
	/// The block the task was closed in; it may be removed `RemovalDelay` blocks later.
	pub closed_at: Option<BlockNumber>,
	/// Slots held by stored submissions (every stored submission holds one).
	pub taken_slots: u32,
	/// Results revealed and awaiting a decision.
	pub pending: u32,
	/// Results accepted and paid.
	pub accepted: u32,
	/// Submission records stored for this task.
	pub live_submissions: u32,
	/// Held from the creator and not yet paid out or returned: for an open task the
	/// reward of every slot not yet paid; for a closed one the rewards of rejected,
	/// appealed and owed results.
	pub escrow: Balance,
	/// The storage deposit held from the creator for this record; returned on removal.
	pub deposit: Balance,
	/// The campaign round this task is, if it is one (`create_campaign_task`).
	pub lineage: Option<Lineage>,
}

/// One contributor's slot in a task, and what they sent.
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Submission<AccountId, Balance, BlockNumber> {
	pub task_id: TaskId,
	pub contributor: AccountId,
	pub status: SubmissionStatus,
	pub assigned_at: BlockNumber,
	/// `blake2_256` of the SCALE encoding of (contributor, submission id, result,
	/// result location, salt); see `Pallet::result_commitment`.
	pub commitment: Option<[u8; 32]>,
	pub committed_at: Option<BlockNumber>,
	/// The block the result was revealed in.
	pub submitted_at: Option<BlockNumber>,
	/// Free-text result (labels, metrics, a note).
	pub result: ResultText,
	/// Where the result bundle is stored, its hash and size.
	pub result_location: Option<Location>,
	/// Why the creator rejected it, if they did.
	pub rejection_reason: Option<Reason>,
	pub rejected_at: Option<BlockNumber>,
	/// Held from the contributor until the result is revealed (then returned) or the
	/// slot times out (then forfeited to the creator); zero once released.
	pub assignment_deposit: Balance,
	/// Held from the contributor for this record; returned when it is removed.
	pub storage_deposit: Balance,
}

/// What a creator's record on this chain says about them.
#[derive(
	Encode, Decode, Clone, PartialEq, Eq, Debug, Default, TypeInfo, MaxEncodedLen,
)]
pub struct CreatorRecord<Balance> {
	pub tasks_created: u32,
	pub results_accepted: u32,
	pub results_rejected: u32,
	/// Rejections the arbiter overturned.
	pub rejections_overturned: u32,
	pub total_paid: Balance,
}

/// What a contributor's record on this chain says about them.
#[derive(
	Encode, Decode, Clone, PartialEq, Eq, Debug, Default, TypeInfo, MaxEncodedLen,
)]
pub struct ContributorRecord {
	pub slots_taken: u32,
	pub results_revealed: u32,
	pub results_accepted: u32,
	pub results_rejected: u32,
	pub slots_timed_out: u32,
	pub appeals_won: u32,
	/// Slots the contributor gave up with `release_slot` before their deadline.
	pub slots_released: u32,
}
