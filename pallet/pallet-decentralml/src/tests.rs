//! Unit tests of every call's success and errors, and a property test that money is
//! conserved over random call sequences.

use crate::{mock::*, *};
use frame::testing_prelude::*;

const REWARD: u64 = 100;

fn bundle() -> Location {
	Location {
		storage_type: StorageType::IPFS,
		path: b"bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi".to_vec().try_into().unwrap(),
		content_hash: [7u8; 32],
	}
}

fn question() -> Question {
	b"Train the MNIST MLP on your data".to_vec().try_into().unwrap()
}

fn create(creator: u64, slots: u32, strategy: ValidationStrategy) -> TaskId {
	let id = NextTaskId::<Test>::get();
	assert_ok!(DecentralML::create_task(
		RuntimeOrigin::signed(creator),
		TaskType::ModelContributor,
		question(),
		REWARD,
		slots,
		100,
		strategy,
		bundle(),
		Some([9u8; 32]),
		None,
	));
	id
}

fn assign(who: u64, task_id: TaskId) -> SubmissionId {
	let id = NextSubmissionId::<Test>::get();
	assert_ok!(DecentralML::assign_task(RuntimeOrigin::signed(who), task_id));
	id
}

fn send(who: u64, submission_id: SubmissionId) {
	assert_ok!(DecentralML::send_task_result(
		RuntimeOrigin::signed(who),
		submission_id,
		b"accuracy=0.91".to_vec().try_into().unwrap(),
		Some(bundle()),
	));
}

fn reason() -> Reason {
	b"accuracy below 0.5".to_vec().try_into().unwrap()
}

fn free(who: u64) -> u64 {
	Balances::free_balance(who)
}

fn last_event() -> RuntimeEvent {
	System::events().pop().expect("an event").event
}

#[test]
fn create_task_holds_the_reward_for_every_slot() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 3, ValidationStrategy::ManualAccept);
		let task = Tasks::<Test>::get(task_id).unwrap();
		assert_eq!(task.escrow, 3 * REWARD);
		assert_eq!(task.status, TaskStatus::Open);
		assert_eq!(free(ALICE), INITIAL_BALANCE - 3 * REWARD);
		assert_eq!(DecentralML::escrow_held(&ALICE), 3 * REWARD);
		assert!(OpenTasks::<Test>::contains_key(task_id));
		assert!(TasksByCreator::<Test>::contains_key(ALICE, task_id));
		assert_eq!(
			last_event(),
			Event::TaskCreated {
				task_id,
				creator: ALICE,
				pays_amount: REWARD,
				max_assignments: 3,
				escrow: 300
			}
			.into()
		);
	});
}

#[test]
fn create_task_rejects_bad_input_and_changes_nothing() {
	new_test_ext().execute_with(|| {
		let call = |who: u64, q: Question, pays: u64, slots: u32, exp: u64, b: Location| {
			DecentralML::create_task(
				RuntimeOrigin::signed(who),
				TaskType::ModelContributor,
				q,
				pays,
				slots,
				exp,
				ValidationStrategy::ManualAccept,
				b,
				None,
				None,
			)
		};
		let empty_path = Location { path: Default::default(), ..bundle() };
		assert_noop!(call(ALICE, Default::default(), 1, 1, 10, bundle()), Error::<Test>::EmptyQuestion);
		assert_noop!(call(ALICE, question(), 0, 1, 10, bundle()), Error::<Test>::ZeroReward);
		assert_noop!(call(ALICE, question(), 1, 0, 10, bundle()), Error::<Test>::ZeroAssignments);
		assert_noop!(call(ALICE, question(), 1, 17, 10, bundle()), Error::<Test>::TooManyAssignments);
		assert_noop!(call(ALICE, question(), 1, 1, 1, bundle()), Error::<Test>::ExpirationInPast);
		assert_noop!(call(ALICE, question(), 1, 1, 10, empty_path), Error::<Test>::EmptyLocation);
		assert_noop!(call(ALICE, question(), u64::MAX, 2, 10, bundle()), Error::<Test>::Overflow);
		assert_noop!(
			call(ALICE, question(), INITIAL_BALANCE, 1, 10, bundle()),
			Error::<Test>::InsufficientFunds
		);
		assert_noop!(call(PAUPER, question(), 1, 1, 10, bundle()), Error::<Test>::InsufficientFunds);
		assert_eq!(NextTaskId::<Test>::get(), 0);
	});
}

#[test]
fn assign_task_gives_exactly_max_assignments_slots() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
		let first = assign(BOB, task_id);
		assign(CHARLIE, task_id);
		assert_noop!(
			DecentralML::assign_task(RuntimeOrigin::signed(DAVE), task_id),
			Error::<Test>::NoSlotsLeft
		);
		let submission = Submissions::<Test>::get(first).unwrap();
		assert_eq!(submission.status, SubmissionStatus::Assigned);
		assert_eq!(Assignments::<Test>::get(task_id, BOB), Some(first));
		assert!(TaskSubmissions::<Test>::contains_key(task_id, first));
		assert!(ContributorSubmissions::<Test>::contains_key(BOB, first));
		assert_eq!(Tasks::<Test>::get(task_id).unwrap().taken_slots, 2);
	});
}

#[test]
fn assign_task_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 3, ValidationStrategy::ManualAccept);
		let assign_as = |who: u64, id: TaskId| DecentralML::assign_task(RuntimeOrigin::signed(who), id);
		assert_noop!(assign_as(BOB, 99), Error::<Test>::TaskNotFound);
		assert_noop!(assign_as(ALICE, task_id), Error::<Test>::CreatorCannotContribute);
		assign(BOB, task_id);
		assert_noop!(assign_as(BOB, task_id), Error::<Test>::AlreadyAssigned);
		System::set_block_number(100);
		assert_noop!(assign_as(CHARLIE, task_id), Error::<Test>::TaskExpired);
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
		assert_noop!(assign_as(CHARLIE, task_id), Error::<Test>::TaskClosed);
	});
}

#[test]
fn send_task_result_marks_it_pending_without_paying() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		send(BOB, sub);
		let submission = Submissions::<Test>::get(sub).unwrap();
		assert_eq!(submission.status, SubmissionStatus::Pending);
		assert_eq!(submission.result_location, Some(bundle()));
		assert_eq!(submission.submitted_at, Some(1));
		assert_eq!(free(BOB), INITIAL_BALANCE);
		assert_eq!(last_event(), Event::ResultSent { task_id, submission_id: sub, contributor: BOB }.into());
	});
}

#[test]
fn send_task_result_under_auto_accept_pays_at_once() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::AutoAccept);
		let sub = assign(BOB, task_id);
		send(BOB, sub);
		assert_eq!(Submissions::<Test>::get(sub).unwrap().status, SubmissionStatus::Accepted);
		assert_eq!(free(BOB), INITIAL_BALANCE + REWARD);
		assert_eq!(Tasks::<Test>::get(task_id).unwrap().escrow, REWARD);
		assert_eq!(
			last_event(),
			Event::ResultAccepted { task_id, submission_id: sub, contributor: BOB, paid: REWARD }
				.into()
		);
	});
}

#[test]
fn send_task_result_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		let text = |t: &[u8]| -> ResultText { t.to_vec().try_into().unwrap() };
		let send_as = |who: u64, id: SubmissionId, t: ResultText, l: Option<Location>| {
			DecentralML::send_task_result(RuntimeOrigin::signed(who), id, t, l)
		};
		assert_noop!(send_as(BOB, 99, text(b"x"), None), Error::<Test>::SubmissionNotFound);
		assert_noop!(send_as(CHARLIE, sub, text(b"x"), None), Error::<Test>::NotAssignedContributor);
		assert_noop!(send_as(BOB, sub, text(b""), None), Error::<Test>::EmptyResult);
		let empty = Location { path: Default::default(), ..bundle() };
		assert_noop!(send_as(BOB, sub, text(b""), Some(empty)), Error::<Test>::EmptyLocation);
		send(BOB, sub);
		assert_noop!(send_as(BOB, sub, text(b"again"), None), Error::<Test>::ResultAlreadySent);
		let late = assign(CHARLIE, task_id);
		System::set_block_number(100);
		assert_noop!(send_as(CHARLIE, late, text(b"x"), None), Error::<Test>::TaskExpired);
	});
}

#[test]
fn accept_task_result_pays_the_contributor_once() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		send(BOB, sub);
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), sub));
		assert_eq!(free(BOB), INITIAL_BALANCE + REWARD);
		assert_eq!(DecentralML::escrow_held(&ALICE), REWARD);
		assert_noop!(
			DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), sub),
			Error::<Test>::ResultNotPending
		);
		assert_eq!(free(BOB), INITIAL_BALANCE + REWARD);
	});
}

#[test]
fn accept_task_result_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		let accept_as = |who: u64, id: SubmissionId| {
			DecentralML::accept_task_result(RuntimeOrigin::signed(who), id)
		};
		assert_noop!(accept_as(ALICE, 99), Error::<Test>::SubmissionNotFound);
		assert_noop!(accept_as(ALICE, sub), Error::<Test>::ResultNotPending);
		send(BOB, sub);
		assert_noop!(accept_as(BOB, sub), Error::<Test>::NotTaskCreator);
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
		assert_noop!(accept_as(ALICE, sub), Error::<Test>::TaskClosed);
	});
}

#[test]
fn reject_task_result_reopens_the_slot_and_pays_nothing() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		send(BOB, sub);
		assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()));
		let submission = Submissions::<Test>::get(sub).unwrap();
		assert_eq!(submission.status, SubmissionStatus::Rejected);
		assert_eq!(submission.rejection_reason, Some(reason()));
		assert_eq!(free(BOB), INITIAL_BALANCE);
		assert_eq!(DecentralML::escrow_held(&ALICE), REWARD);
		// The rejected contributor cannot take the slot again; someone else can.
		assert_noop!(
			DecentralML::assign_task(RuntimeOrigin::signed(BOB), task_id),
			Error::<Test>::AlreadyAssigned
		);
		assign(CHARLIE, task_id);
	});
}

#[test]
fn reject_task_result_frees_a_silent_slot() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()));
		assign(CHARLIE, task_id);
	});
}

#[test]
fn reject_task_result_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		let reject_as = |who: u64, id: SubmissionId| {
			DecentralML::reject_task_result(RuntimeOrigin::signed(who), id, reason())
		};
		assert_noop!(reject_as(ALICE, 99), Error::<Test>::SubmissionNotFound);
		assert_noop!(reject_as(BOB, sub), Error::<Test>::NotTaskCreator);
		send(BOB, sub);
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), sub));
		assert_noop!(reject_as(ALICE, sub), Error::<Test>::ResultNotPending);
		let other = assign(CHARLIE, task_id);
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
		assert_noop!(reject_as(ALICE, other), Error::<Test>::TaskClosed);
	});
}

#[test]
fn close_task_pays_pending_cancels_silent_and_refunds_the_rest() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 4, ValidationStrategy::ManualAccept);
		let accepted = assign(BOB, task_id);
		let pending = assign(CHARLIE, task_id);
		let silent = assign(DAVE, task_id);
		send(BOB, accepted);
		send(CHARLIE, pending);
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), accepted));
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));

		assert_eq!(free(BOB), INITIAL_BALANCE + REWARD);
		assert_eq!(free(CHARLIE), INITIAL_BALANCE + REWARD);
		assert_eq!(free(DAVE), INITIAL_BALANCE);
		assert_eq!(free(ALICE), INITIAL_BALANCE - 2 * REWARD);
		assert_eq!(DecentralML::escrow_held(&ALICE), 0);
		assert_eq!(Submissions::<Test>::get(pending).unwrap().status, SubmissionStatus::Accepted);
		assert_eq!(Submissions::<Test>::get(silent).unwrap().status, SubmissionStatus::Cancelled);
		let task = Tasks::<Test>::get(task_id).unwrap();
		assert_eq!((task.status, task.escrow), (TaskStatus::Closed, 0));
		assert!(!OpenTasks::<Test>::contains_key(task_id));
		assert_eq!(
			last_event(),
			Event::TaskClosed { task_id, paid_on_close: REWARD, refunded: 2 * REWARD }.into()
		);
	});
}

#[test]
fn anyone_may_close_an_expired_task_but_only_the_creator_before() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
		assert_noop!(
			DecentralML::close_task(RuntimeOrigin::signed(EVE), task_id),
			Error::<Test>::TaskNotExpired
		);
		System::set_block_number(100);
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(EVE), task_id));
		assert_eq!(free(ALICE), INITIAL_BALANCE);
		assert_noop!(
			DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id),
			Error::<Test>::TaskClosed
		);
		assert_noop!(
			DecentralML::close_task(RuntimeOrigin::signed(ALICE), 99),
			Error::<Test>::TaskNotFound
		);
	});
}

#[test]
fn assign_stops_at_the_submission_bound() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		// 32 submissions, each rejected to free the single slot again.
		for who in 100..132u64 {
			let sub = assign(who, task_id);
			assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()));
		}
		assert_noop!(
			DecentralML::assign_task(RuntimeOrigin::signed(BOB), task_id),
			Error::<Test>::TooManySubmissions
		);
	});
}

#[test]
fn unsigned_origins_are_refused() {
	new_test_ext().execute_with(|| {
		assert_noop!(DecentralML::assign_task(RuntimeOrigin::none(), 0), BadOrigin);
		assert_noop!(DecentralML::close_task(RuntimeOrigin::root(), 0), BadOrigin);
	});
}

mod money_is_conserved {
	//! Random sequences of calls by random accounts; after each step the escrow of
	//! every task and the pallet's holds must account for every unit.

	use super::*;
	use frame::prelude::fungible::Inspect;
	use proptest::prelude::*;

	#[derive(Clone, Debug)]
	enum Action {
		Create { creator: u64, slots: u32, auto: bool },
		Assign { who: u64, task: u64 },
		Send { who: u64, sub: u64 },
		Accept { who: u64, sub: u64 },
		Reject { who: u64, sub: u64 },
		Close { who: u64, task: u64 },
		Advance { blocks: u64 },
	}

	fn account() -> impl Strategy<Value = u64> {
		1u64..=5
	}

	fn action() -> impl Strategy<Value = Action> {
		prop_oneof![
			(account(), 1u32..=4, any::<bool>())
				.prop_map(|(creator, slots, auto)| Action::Create { creator, slots, auto }),
			(account(), 0u64..4).prop_map(|(who, task)| Action::Assign { who, task }),
			(account(), 0u64..12).prop_map(|(who, sub)| Action::Send { who, sub }),
			(account(), 0u64..12).prop_map(|(who, sub)| Action::Accept { who, sub }),
			(account(), 0u64..12).prop_map(|(who, sub)| Action::Reject { who, sub }),
			(account(), 0u64..4).prop_map(|(who, task)| Action::Close { who, task }),
			(1u64..30).prop_map(|blocks| Action::Advance { blocks }),
		]
	}

	fn apply(action: &Action) {
		let signed = RuntimeOrigin::signed;
		// Failures are expected for many random calls; each must leave no trace,
		// which the invariants below check.
		let _ = match action.clone() {
			Action::Create { creator, slots, auto } => DecentralML::create_task(
				signed(creator),
				TaskType::ModelContributor,
				question(),
				REWARD,
				slots,
				System::block_number() + 50,
				if auto { ValidationStrategy::AutoAccept } else { ValidationStrategy::ManualAccept },
				bundle(),
				None,
				None,
			)
			.map(|_| ()),
			Action::Assign { who, task } => DecentralML::assign_task(signed(who), task),
			Action::Send { who, sub } => DecentralML::send_task_result(
				signed(who),
				sub,
				b"r".to_vec().try_into().unwrap(),
				None,
			),
			Action::Accept { who, sub } => DecentralML::accept_task_result(signed(who), sub),
			Action::Reject { who, sub } =>
				DecentralML::reject_task_result(signed(who), sub, reason()),
			Action::Close { who, task } =>
				DecentralML::close_task(signed(who), task).map(|_| ()).map_err(|e| e.error),
			Action::Advance { blocks } => {
				System::set_block_number(System::block_number() + blocks);
				Ok(())
			},
		};
	}

	fn check_invariants() {
		let accounts = [ALICE, BOB, CHARLIE, DAVE, EVE];
		let mut escrow_by_creator = [0u64; 6];
		for (task_id, task) in Tasks::<Test>::iter() {
			let subs: Vec<_> = TaskSubmissions::<Test>::iter_prefix(task_id)
				.map(|(id, ())| Submissions::<Test>::get(id).unwrap())
				.collect();
			let count = |s: SubmissionStatus| subs.iter().filter(|x| x.status == s).count() as u32;
			assert_eq!(task.accepted, count(SubmissionStatus::Accepted));
			assert_eq!(task.pending, count(SubmissionStatus::Pending));
			match task.status {
				TaskStatus::Open => {
					assert_eq!(task.escrow, REWARD * (task.max_assignments - task.accepted) as u64);
					assert_eq!(
						task.taken_slots,
						task.accepted + task.pending + count(SubmissionStatus::Assigned)
					);
					assert!(task.taken_slots <= task.max_assignments);
				},
				TaskStatus::Closed => {
					assert_eq!(task.escrow, 0);
					assert_eq!(task.pending + count(SubmissionStatus::Assigned), 0);
				},
			}
			escrow_by_creator[task.creator as usize] += task.escrow;
		}
		// What the pallet holds is exactly what open tasks still owe.
		for who in accounts {
			assert_eq!(DecentralML::escrow_held(&who), escrow_by_creator[who as usize]);
		}
		// Balances only move between the five accounts: nothing minted or burnt.
		let total: u64 = accounts.iter().map(|who| Balances::total_balance(who)).sum();
		assert_eq!(total, 5 * INITIAL_BALANCE);
		// Each contributor received exactly the rewards of their accepted results.
		for who in accounts {
			let earned = ContributorSubmissions::<Test>::iter_prefix(who)
				.filter(|(id, ())| {
					Submissions::<Test>::get(id).unwrap().status == SubmissionStatus::Accepted
				})
				.count() as u64 * REWARD;
			let spent_on_tasks: u64 = TasksByCreator::<Test>::iter_prefix(who)
				.map(|(id, ())| REWARD * Tasks::<Test>::get(id).unwrap().accepted as u64)
				.sum();
			assert_eq!(Balances::total_balance(&who), INITIAL_BALANCE + earned - spent_on_tasks);
		}
	}

	proptest! {
		#![proptest_config(ProptestConfig::with_cases(200))]
		#[test]
		fn over_random_call_sequences(actions in proptest::collection::vec(action(), 1..60)) {
			new_test_ext().execute_with(|| {
				for action in &actions {
					apply(action);
					check_invariants();
				}
			});
		}
	}
}
