//! Benchmarks of every call in its most expensive path; `weights.rs` is generated
//! from them by `scripts/generate_weights.sh`.

use super::*;
use frame::benchmarking::prelude::*;
use fungible::{Inspect, Mutate};

const SEED: u32 = 0;

fn funded<T: Config>(name: &'static str, index: u32) -> T::AccountId {
	let who: T::AccountId = account(name, index, SEED);
	let amount = T::Currency::minimum_balance() * 1_000_000u32.into();
	T::Currency::set_balance(&who, amount);
	who
}

fn full_location() -> Location {
	Location {
		storage_type: StorageType::S3,
		path: alloc::vec![b'p'; MAX_PATH_LEN as usize].try_into().unwrap(),
		content_hash: [1u8; 32],
	}
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
		frame_system::Pallet::<T>::block_number() + 1_000u32.into(),
		strategy,
		full_location(),
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

fn send_as<T: Config>(who: &T::AccountId, submission_id: SubmissionId) {
	Pallet::<T>::send_task_result(
		RawOrigin::Signed(who.clone()).into(),
		submission_id,
		full_result(),
		Some(full_location()),
	)
	.expect("the result is valid");
}

fn full_result() -> ResultText {
	alloc::vec![b'r'; MAX_RESULT_LEN as usize].try_into().unwrap()
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn create_task() {
		let creator = funded::<T>("creator", 0);
		let slots = T::MaxAssignments::get();
		let reward = T::Currency::minimum_balance() * 10u32.into();
		let expiration = frame_system::Pallet::<T>::block_number() + 1_000u32.into();

		#[extrinsic_call]
		_(
			RawOrigin::Signed(creator.clone()),
			TaskType::DataAnnotator,
			alloc::vec![b'q'; MAX_QUESTION_LEN as usize].try_into().unwrap(),
			reward,
			slots,
			expiration,
			ValidationStrategy::ManualAccept,
			full_location(),
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

	// AutoAccept is the heavier path: it also pays.
	#[benchmark]
	fn send_task_result() {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::AutoAccept);
		let contributor = funded::<T>("contributor", 0);
		let submission_id = assign_as::<T>(&contributor, task_id);

		#[extrinsic_call]
		_(
			RawOrigin::Signed(contributor.clone()),
			submission_id,
			full_result(),
			Some(full_location()),
		);

		assert_eq!(
			Submissions::<T>::get(submission_id).unwrap().status,
			SubmissionStatus::Accepted
		);
	}

	#[benchmark]
	fn accept_task_result() {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::ManualAccept);
		let contributor = funded::<T>("contributor", 0);
		let submission_id = assign_as::<T>(&contributor, task_id);
		send_as::<T>(&contributor, submission_id);

		#[extrinsic_call]
		_(RawOrigin::Signed(creator.clone()), submission_id);

		assert_eq!(
			Submissions::<T>::get(submission_id).unwrap().status,
			SubmissionStatus::Accepted
		);
	}

	#[benchmark]
	fn reject_task_result() {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, 2, ValidationStrategy::ManualAccept);
		let contributor = funded::<T>("contributor", 0);
		let submission_id = assign_as::<T>(&contributor, task_id);
		send_as::<T>(&contributor, submission_id);
		let reason: Reason = alloc::vec![b'x'; MAX_REASON_LEN as usize].try_into().unwrap();

		#[extrinsic_call]
		_(RawOrigin::Signed(creator.clone()), submission_id, reason);

		assert_eq!(
			Submissions::<T>::get(submission_id).unwrap().status,
			SubmissionStatus::Rejected
		);
	}

	/// `s` submissions, every one pending, so closing pays each of them.
	#[benchmark]
	fn close_task(s: Linear<0, { T::MaxAssignments::get() }>) {
		let creator = funded::<T>("creator", 0);
		let task_id = create_task_of::<T>(&creator, T::MaxAssignments::get(), ValidationStrategy::ManualAccept);
		for i in 0..s {
			let contributor = funded::<T>("contributor", i);
			let submission_id = assign_as::<T>(&contributor, task_id);
			send_as::<T>(&contributor, submission_id);
		}

		#[extrinsic_call]
		_(RawOrigin::Signed(creator.clone()), task_id);

		assert_eq!(Tasks::<T>::get(task_id).unwrap().status, TaskStatus::Closed);
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
