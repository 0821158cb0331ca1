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
	/// Settled: every accepted result paid, the rest of the escrow returned.
	Closed,
}

#[derive(
	Encode, Decode, DecodeWithMemTracking, Clone, Copy, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen,
)]
pub enum SubmissionStatus {
	/// The contributor holds a slot and has not sent a result yet.
	Assigned,
	/// A result was sent and awaits the creator's decision.
	Pending,
	/// The result was accepted and its reward paid.
	Accepted,
	/// The creator rejected the result (or freed the slot); nothing was paid.
	Rejected,
	/// The task closed before a result was sent.
	Cancelled,
}

/// A training task and its escrow.
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Task<AccountId, Balance, BlockNumber> {
	pub creator: AccountId,
	pub task_type: TaskType,
	pub question: Question,
	/// Reward paid for each accepted result.
	pub pays_amount: Balance,
	/// How many results the task pays for; also the number of slots.
	pub max_assignments: u32,
	/// From this block on, no slot can be taken and no result sent.
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
	/// Slots held by submissions that are assigned, pending or accepted.
	pub taken_slots: u32,
	/// Results waiting for a decision.
	pub pending: u32,
	/// Results accepted and paid.
	pub accepted: u32,
	/// Submission records ever made for this task (rejected ones included).
	pub submissions: u32,
	/// Held from the creator and not yet paid out or returned.
	pub escrow: Balance,
}

/// One contributor's slot in a task, and what they sent.
#[derive(Encode, Decode, Clone, PartialEq, Eq, Debug, TypeInfo, MaxEncodedLen)]
pub struct Submission<AccountId, BlockNumber> {
	pub task_id: TaskId,
	pub contributor: AccountId,
	pub status: SubmissionStatus,
	pub assigned_at: BlockNumber,
	pub submitted_at: Option<BlockNumber>,
	/// Free-text result (labels, metrics, a note).
	pub result: ResultText,
	/// Where the result bundle is stored, and its hash.
	pub result_location: Option<Location>,
	/// Why the creator rejected it, if they did.
	pub rejection_reason: Option<Reason>,
}
