//! Benchmarks of every call in its most expensive path; `weights.rs` is generated
//! from them by `scripts/generate_weights.sh`.

use super::*;
use frame::benchmarking::prelude::*;
use fungible::{Inspect, Mutate};

const SEED: u32 = 0;

fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who: T::AccountId = account(name, index, SEED);
	let amount = T::Currency::minimum_balance() * 1_000_000u32.into()
		+ (T::AssignmentDeposit::get() + T::SubmissionDeposit::get() + T::TaskDeposit::get())
			* 10u32.into();
	T::Currency::set_balance(&who, amount);
	who
}

/// A location with the longest path and a content hash of its own for each `index`.
fn full_location(index: u32) -> Location {
	let mut content_hash = [0xabu8; 32];
	content_hash[..4].copy_from_slice(&index.to_le_bytes());
	Location {
		storage_type: StorageType::S3,
		path: alloc::vec![b'p'; MAX_PATH_LEN as usize].try_into().unwrap(),
		content_hash,
		size: u64::MAX,
	}
}

fn full_result() -> ResultText {
	alloc::vec![b'r'; MAX_RESULT_LEN as usize].try_into().unwrap()
}

fn now<T: Config>() -> BlockNumberFor<T> {
	frame_system::Pallet::<T>::block_number()
}

fn advance<T: Config>(blocks: BlockNumberFor<T>) {
	frame_system::Pallet::<T>::set_block_number(now::<T>() + blocks);
}

/// Creates a task with the largest fields and `slots` slots; returns its id.
fn create_task_of<T: Config>(
	creator: &T::AccountId,
	slots: u32,
	strategy: ValidationStrategy,
) -> TaskId {
	let id = NextTaskId::<T>::get();
	Pallet::<T>::create_task(
		RawOrigin::Signed(creator.clone()).into(),
		TaskType::ModelContributor,
		alloc::vec![b'q'; MAX_QUESTION_LEN as usize].try_into().unwrap(),
		T::Currency::minimum_balance() * 10u32.into(),
		slots,
		now::<T>() + T::MaxTaskDuration::get(),
		strategy,
		full_location(0),
		Some([2u8; 32]),
		None,
	)
	.expect("benchmark task is valid");
	id
}

fn assign_as<T: Config>(who: &T::AccountId, task_id: TaskId) -> SubmissionId {
	let id = NextSubmissionId::<T>::get();
	Pallet::<T>::assign_task(RawOrigin::Signed(who.clone()).into(), task_id)
		.expect("a slot is free");
	id
}

fn commit_as<T: Config>(who: &T::AccountId, submission_id: SubmissionId, index: u32) {
	let commitment = Pallet::<T>::result_commitment(
		who,
		submission_id,
		&full_result(),
		&Some(full_location(index)),
		&[7u8; 32],
	);
	Pallet::<T>::commit_task_result(
		RawOrigin::Signed(who.clone()).into(),
		submission_id,
		commitment,
	)
	.expect("the slot is assigned");
}

fn reveal_as<T: Config>(who: &T::AccountId, submission_id: SubmissionId, index: u32) {
	Pallet::<T>::reveal_task_result(
		RawOrigin::Signed(who.clone()).into(),
		submission_id,
		full_result(),
		Some(full_location(index)),
		[7u8; 32],
	)
	.expect("the reveal matches the commitment");
}

/// A contributor with a pending (revealed) result in `task_id`.
fn pending_result<T: Config>(task_id: TaskId, index: u32) -> (T::AccountId, SubmissionId) {
	let contributor = funded::<T>("contributor", index);
	let submission_id = assign_as::<T>(&contributor, task_id);
	commit_as::<T>(&contributor, submission_id, index + 1);
	reveal_as::<T>(&contributor, submission_id, index + 1);
	(contributor, submission_id)
}

fn reason() -> Reason {
	alloc::vec![b'x'; MAX_REASON_LEN as usize].try_into().unwrap()
}

fn status_of<T: Config>(submission_id: SubmissionId) -> Option<SubmissionStatus> {
	Submissions::<T>::get(submission_id).map(|s| s.status)
}

/// A task with every slot it may have, `s` of them committed and past their reveal
/// window (so closing times each one out); returns its creator and id.
fn task_with_lapsed_commitments<T: Config>(s: u32) -> (T::AccountId, TaskId) {
	let creator = funded::<T>("creator", 0);
	let task_id =
		create_task_of::<T>(&creator, T::MaxAssignments::get(), ValidationStrategy::ManualAccept);
	for i in 0..s {
		let contributor = funded::<T>("contributor", i);
		let submission_id = assign_as::<T>(&contributor, task_id);
		commit_as::<T>(&contributor, submission_id, 1);
	}
	advance::<T>(T::RevealWindow::get() + 1u32.into());
	(creator, task_id)
}

/// The largest arguments of a campaign round: question, reward, slots, expiry, annotation.
fn campaign_task_fields<T: Config>(
) -> (Question, BalanceOf<T>, u32, BlockNumberFor<T>, AnnotationSpec) {
	(
		alloc::vec![b'q'; MAX_QUESTION_LEN as usize].try_into().unwrap(),
		T::Currency::minimum_balance() * 10u32.into(),
		T::MaxAssignments::get(),
		now::<T>() + T::MaxTaskDuration::get(),
		AnnotationSpec {
			annotation_type: alloc::vec![b't'; MAX_ANNOTATION_LEN as usize].try_into().unwrap(),
			class_labels: alloc::vec![b'l'; MAX_ANNOTATION_LEN as usize].try_into().unwrap(),
		},
	)
}

/// Creates a campaign round with the largest fields (`campaign` none: a new campaign).
fn campaign_round<T: Config>(creator: &T::AccountId, campaign: Option<CampaignId>) {
	let (question, reward, slots, expiration, annotation) = campaign_task_fields::<T>();
	Pallet::<T>::create_campaign_task(
		RawOrigin::Signed(creator.clone()).into(),
		TaskType::DataAnnotator,
		question,
		reward,
		slots,
		expiration,
		ValidationStrategy::ManualAccept,
		full_location(0),
		Some([2u8; 32]),
		Some(annotation),
		campaign,
	)
	.expect("the round is valid");
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn create_task() {
		let creator = funded::<T>("creator", 0);
		let slots = T::MaxAssignments::get();
		let reward = T::Currency::minimum_balance() * 10u32.into();
		let expiration = now::<T>() + T::MaxTaskDuration::get();

		#[extrinsic_call]
		_(
			RawOrigin::Signed(creator.clone()),
			TaskType::DataAnnotator,
			alloc::vec![b'q'; MAX_QUESTION_LEN as usize].try_into().unwrap(),
			reward,
			slots,
			expiration,
			ValidationStrategy::ManualAccept,
			full_location(0),
			Some([2u8; 32]),
			Some(AnnotationSpec {
				annotation_type: alloc::vec![b't'; MAX_ANNOTATION_LEN as usize].try_into().unwrap(),
				class_labels: alloc::vec![b'l'; MAX_ANNOTATION_LEN as usize].try_into().unwrap(),
			}),
		);

		assert!(OpenTasks::<T>::contains_key(0));
	}

	#[benchmark]
	fn assign_task() {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::ManualAccept);
		let contributor = funded::<T>("contributor", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(contributor.clone()), task_id);

		assert!(Assignments::<T>::contains_key(task_id, &contributor));
	}

	#[benchmark]
	fn commit_task_result() {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::ManualAccept);
		let contributor = funded::<T>("contributor", 0);
		let submission_id = assign_as::<T>(&contributor, task_id);

		#[extrinsic_call]
		_(RawOrigin::Signed(contributor.clone()), submission_id, [3u8; 32]);

		assert_eq!(status_of::<T>(submission_id), Some(SubmissionStatus::Committed));
	}

	// AutoAccept is the heavier path: the reveal also pays.
	#[benchmark]
	fn reveal_task_result() {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::AutoAccept);
		let contributor = funded::<T>("contributor", 0);
		let submission_id = assign_as::<T>(&contributor, task_id);
		commit_as::<T>(&contributor, submission_id, 1);

		#[extrinsic_call]
		_(
			RawOrigin::Signed(contributor.clone()),
			submission_id,
			full_result(),
			Some(full_location(1)),
			[7u8; 32],
		);

		assert_eq!(status_of::<T>(submission_id), Some(SubmissionStatus::Accepted));
	}

	#[benchmark]
	fn accept_task_result() {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::ManualAccept);
		let (_, submission_id) = pending_result::<T>(task_id, 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(creator.clone()), submission_id);

		assert_eq!(status_of::<T>(submission_id), Some(SubmissionStatus::Accepted));
	}

	#[benchmark]
	fn reject_task_result() {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::ManualAccept);
		let (_, submission_id) = pending_result::<T>(task_id, 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(creator.clone()), submission_id, reason());

		assert_eq!(status_of::<T>(submission_id), Some(SubmissionStatus::Rejected));
	}

	/// `s` committed slots whose reveal window is over: closing times each one out
	/// (forfeits its deposit to the creator, returns its storage deposit, prunes it),
	/// the heaviest settlement of a slot.
	#[benchmark]
	fn close_task(s: Linear<0, { T::MaxAssignments::get() }>) {
		let (creator, task_id) = task_with_lapsed_commitments::<T>(s);

		#[extrinsic_call]
		_(RawOrigin::Signed(creator.clone()), task_id);

		let task = Tasks::<T>::get(task_id).unwrap();
		assert_eq!((task.status, task.live_submissions), (TaskStatus::Closed, 0));
	}

	/// The same `s` lapsed commitments as `close_task`: a pending result would make the
	/// call fail, and timing a slot out is the heaviest settlement that succeeds. The
	/// check for pending results reads nothing `close_task` does not.
	#[benchmark]
	fn close_judged_task(s: Linear<0, { T::MaxAssignments::get() }>) {
		let (creator, task_id) = task_with_lapsed_commitments::<T>(s);

		#[extrinsic_call]
		_(RawOrigin::Signed(creator.clone()), task_id);

		let task = Tasks::<T>::get(task_id).unwrap();
		assert_eq!((task.status, task.live_submissions), (TaskStatus::Closed, 0));
	}

	#[benchmark]
	fn time_out_slot() {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::ManualAccept);
		let contributor = funded::<T>("contributor", 0);
		let submission_id = assign_as::<T>(&contributor, task_id);
		commit_as::<T>(&contributor, submission_id, 1);
		advance::<T>(T::RevealWindow::get() + 1u32.into());
		let caller = funded::<T>("caller", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), submission_id);

		assert_eq!(status_of::<T>(submission_id), None);
	}

	#[benchmark]
	fn claim_reward() {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::ManualAccept);
		let (contributor, submission_id) = pending_result::<T>(task_id, 0);
		advance::<T>(T::ReviewPeriod::get());

		#[extrinsic_call]
		_(RawOrigin::Signed(contributor), submission_id);

		assert_eq!(status_of::<T>(submission_id), Some(SubmissionStatus::Accepted));
	}

	#[benchmark]
	fn appeal_rejection() {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::ManualAccept);
		let (contributor, submission_id) = pending_result::<T>(task_id, 0);
		Pallet::<T>::reject_task_result(RawOrigin::Signed(creator).into(), submission_id, reason())
			.expect("pending under review");

		#[extrinsic_call]
		_(RawOrigin::Signed(contributor), submission_id);

		assert_eq!(status_of::<T>(submission_id), Some(SubmissionStatus::Appealed));
	}

	/// Overturning pays the reward and updates two records: the heavier decision.
	#[benchmark]
	fn arbitrate() -> Result<(), BenchmarkError> {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::ManualAccept);
		let (contributor, submission_id) = pending_result::<T>(task_id, 0);
		Pallet::<T>::reject_task_result(RawOrigin::Signed(creator).into(), submission_id, reason())
			.expect("pending under review");
		Pallet::<T>::appeal_rejection(RawOrigin::Signed(contributor).into(), submission_id)
			.expect("within the appeal period");
		let origin =
			T::ArbiterOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, submission_id, true);

		assert_eq!(status_of::<T>(submission_id), Some(SubmissionStatus::Accepted));
		Ok(())
	}

	/// On a closed task: the reward also returns to the creator.
	#[benchmark]
	fn release_rejection() {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::ManualAccept);
		let (_, submission_id) = pending_result::<T>(task_id, 0);
		Pallet::<T>::reject_task_result(
			RawOrigin::Signed(creator.clone()).into(),
			submission_id,
			reason(),
		)
		.expect("pending under review");
		Pallet::<T>::close_task(RawOrigin::Signed(creator).into(), task_id)
			.expect("the creator may close");
		advance::<T>(T::AppealPeriod::get());
		let caller = funded::<T>("caller", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), submission_id);

		assert_eq!(status_of::<T>(submission_id), None);
	}

	/// `s` accepted submissions to remove with the task.
	#[benchmark]
	fn remove_task(s: Linear<0, { T::MaxAssignments::get() }>) {
		let creator = funded::<T>("creator", 0);
		let task_id =
			create_task_of::<T>(&creator, T::MaxAssignments::get(), ValidationStrategy::AutoAccept);
		for i in 0..s {
			pending_result::<T>(task_id, i);
		}
		Pallet::<T>::close_task(RawOrigin::Signed(creator).into(), task_id)
			.expect("the creator may close");
		advance::<T>(T::RemovalDelay::get());
		let caller = funded::<T>("caller", 0);

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), task_id);

		assert!(!Tasks::<T>::contains_key(task_id));
	}

	/// The next round of a campaign: besides `create_task`'s work, it reads the campaign
	/// and its previous round's task (stored, closed, with the largest fields) and writes
	/// both campaign records: the largest proof of the call's two paths.
	#[benchmark]
	fn create_campaign_task() {
		let creator = funded::<T>("creator", 0);
		campaign_round::<T>(&creator, None);
		Pallet::<T>::close_task(RawOrigin::Signed(creator.clone()).into(), 0)
			.expect("the creator may close");
		let (question, reward, slots, expiration, annotation) = campaign_task_fields::<T>();

		#[extrinsic_call]
		_(
			RawOrigin::Signed(creator.clone()),
			TaskType::DataAnnotator,
			question,
			reward,
			slots,
			expiration,
			ValidationStrategy::ManualAccept,
			full_location(1),
			Some([2u8; 32]),
			Some(annotation),
			Some(0),
		);

		assert_eq!(Campaigns::<T>::get(0).map(|c| (c.rounds, c.latest_task)), Some((2, 1)));
	}

	/// The first round of a new campaign: one read fewer than the next round's, but one
	/// write more (`NextCampaignId`); the call is charged the heavier of the two.
	#[benchmark]
	fn start_campaign() {
		let creator = funded::<T>("creator", 0);
		let (question, reward, slots, expiration, annotation) = campaign_task_fields::<T>();

		#[extrinsic_call]
		create_campaign_task(
			RawOrigin::Signed(creator.clone()),
			TaskType::DataAnnotator,
			question,
			reward,
			slots,
			expiration,
			ValidationStrategy::ManualAccept,
			full_location(0),
			Some([2u8; 32]),
			Some(annotation),
			None,
		);

		assert_eq!(Campaigns::<T>::get(0).map(|c| (c.rounds, c.latest_task)), Some((1, 0)));
	}

	/// The contributor gives up an assigned slot: the deposit is forfeited to the
	/// creator and the record removed, as a time-out does.
	#[benchmark]
	fn release_slot() {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::ManualAccept);
		let contributor = funded::<T>("contributor", 0);
		let submission_id = assign_as::<T>(&contributor, task_id);

		#[extrinsic_call]
		_(RawOrigin::Signed(contributor.clone()), submission_id);

		assert_eq!(status_of::<T>(submission_id), None);
		assert_eq!(ContributorStats::<T>::get(&contributor).slots_released, 1);
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
