//! Unit tests of every call's success and errors, the eight attacks on the marketplace
//! (each proved to fail for the attacker), campaigns and released slots, the v0 -> v1
//! and v1 -> v2 migrations, and a property test
//! that money is conserved over random call sequences.

use crate::{mock::*, *};
use frame::deps::frame_support::traits::{
	fungible::{Inspect, InspectHold, Mutate, MutateHold},
	tokens::Preservation,
	Hooks, OnRuntimeUpgrade, StorageVersion,
};
use frame::testing_prelude::*;

const REWARD: u64 = 100;
const EXPIRY: u64 = 100;

#[test]
fn metadata_names_every_byte_limit_with_its_value() {
	let constants = DecentralML::pallet_constants_metadata();
	let value = |name: &str| {
		let constant = constants.iter().find(|c| c.name == name);
		let c = constant.unwrap_or_else(|| panic!("{name} is not in the metadata"));
		u32::decode(&mut &c.value[..]).unwrap()
	};
	assert_eq!(value("MaxQuestionLen"), MAX_QUESTION_LEN);
	assert_eq!(value("MaxPathLen"), MAX_PATH_LEN);
	assert_eq!(value("MaxResultLen"), MAX_RESULT_LEN);
	assert_eq!(value("MaxReasonLen"), MAX_REASON_LEN);
	assert_eq!(value("MaxAnnotationLen"), MAX_ANNOTATION_LEN);
}

fn bundle() -> Location {
	Location {
		storage_type: StorageType::IPFS,
		path: b"bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
			.to_vec()
			.try_into()
			.unwrap(),
		content_hash: [7u8; 32],
		size: 4096,
	}
}

/// A result location whose content hash is `[n; 32]`.
fn location(n: u8) -> Location {
	Location {
		storage_type: StorageType::S3,
		path: b"results/model.tar".to_vec().try_into().unwrap(),
		content_hash: [n; 32],
		size: 1234,
	}
}

fn text() -> ResultText {
	b"accuracy=0.91".to_vec().try_into().unwrap()
}

fn salt(n: u8) -> [u8; 32] {
	[n.wrapping_add(100); 32]
}

fn question() -> Question {
	b"Train the MNIST MLP on your data".to_vec().try_into().unwrap()
}

fn reason() -> Reason {
	b"accuracy below 0.5".to_vec().try_into().unwrap()
}

fn create_with(creator: u64, slots: u32, strategy: ValidationStrategy, expiry: u64) -> TaskId {
	let id = NextTaskId::<Test>::get();
	assert_ok!(DecentralML::create_task(
		RuntimeOrigin::signed(creator),
		TaskType::ModelContributor,
		question(),
		REWARD,
		slots,
		expiry,
		strategy,
		bundle(),
		Some([9u8; 32]),
		None,
	));
	id
}

fn create(creator: u64, slots: u32, strategy: ValidationStrategy) -> TaskId {
	create_with(creator, slots, strategy, EXPIRY)
}

fn assign(who: u64, task_id: TaskId) -> SubmissionId {
	let id = NextSubmissionId::<Test>::get();
	assert_ok!(DecentralML::assign_task(RuntimeOrigin::signed(who), task_id));
	id
}

fn commitment(who: u64, sub: SubmissionId, n: u8) -> [u8; 32] {
	DecentralML::result_commitment(&who, sub, &text(), &Some(location(n)), &salt(n))
}

fn commit(who: u64, sub: SubmissionId, n: u8) {
	assert_ok!(DecentralML::commit_task_result(
		RuntimeOrigin::signed(who),
		sub,
		commitment(who, sub, n)
	));
}

fn reveal_call(who: u64, sub: SubmissionId, n: u8) -> DispatchResult {
	DecentralML::reveal_task_result(
		RuntimeOrigin::signed(who),
		sub,
		text(),
		Some(location(n)),
		salt(n),
	)
}

fn reveal(who: u64, sub: SubmissionId, n: u8) {
	assert_ok!(reveal_call(who, sub, n));
}

/// Commit, then reveal in the same block: the client's `send_task_result`.
fn send(who: u64, sub: SubmissionId, n: u8) {
	commit(who, sub, n);
	reveal(who, sub, n);
}

/// Assign, commit and reveal: a pending result with content `n`.
fn pending(who: u64, task_id: TaskId, n: u8) -> SubmissionId {
	let sub = assign(who, task_id);
	send(who, sub, n);
	sub
}

fn run_to(block: u64) {
	System::set_block_number(block);
}

fn free(who: u64) -> u64 {
	Balances::free_balance(who)
}

fn held(reason: HoldReason, who: u64) -> u64 {
	Balances::balance_on_hold(&RuntimeHoldReason::from(reason), &who)
}

fn status(sub: SubmissionId) -> Option<SubmissionStatus> {
	Submissions::<Test>::get(sub).map(|s| s.status)
}

fn task(task_id: TaskId) -> TaskOf<Test> {
	Tasks::<Test>::get(task_id).expect("task stored")
}

fn last_event() -> RuntimeEvent {
	System::events().pop().expect("an event").event
}

fn has_event(event: Event<Test>) -> bool {
	let event: RuntimeEvent = event.into();
	System::events().iter().any(|r| r.event == event)
}

fn check() {
	assert_ok!(DecentralML::do_try_state());
}

// ---------------------------------------------------------------------------------
// The eight attacks: each now fails for the attacker.
// ---------------------------------------------------------------------------------

mod attacks {
	use super::*;

	/// 1. The creator can no longer read a result in the pool and get a rejection or a
	/// close in first: the commit shows only a hash, a committed slot cannot be
	/// rejected, and nobody can close while a commitment may still be revealed.
	#[test]
	fn attack1_front_running_the_send_fails_for_the_creator() {
		new_test_ext().execute_with(|| {
			let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
			let sub = assign(BOB, task_id);
			commit(BOB, sub, 1);
			// All that is on-chain (or in the pool) is the hash.
			let stored = Submissions::<Test>::get(sub).unwrap();
			assert_eq!(stored.commitment, Some(commitment(BOB, sub, 1)));
			assert_eq!(stored.result_location, None);
			// Bob's reveal is in the pool; the creator tries to get in first.
			assert_noop!(
				DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()),
				Error::<Test>::ResultNotPending
			);
			assert_noop!(
				DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id),
				Error::<Test>::CommitmentsOutstanding
			);
			reveal(BOB, sub, 1);
			// Now that it is read, closing pays it.
			assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
			assert!(has_event(Event::ResultAccepted {
				task_id,
				submission_id: sub,
				contributor: BOB,
				paid: REWARD,
				decided_by: Decider::Close,
			}));
			assert_eq!(free(BOB), INITIAL_BALANCE + REWARD - SUBMISSION_DEPOSIT);
			check();
		});
	}

	/// 2. A result revealed just before expiry is no longer paid unreviewed when
	/// anyone closes at expiry: nobody but the creator may close while it is under
	/// review, and the creator can reject it within the review period.
	#[test]
	fn attack2_junk_sent_before_expiry_is_reviewed_not_paid() {
		new_test_ext().execute_with(|| {
			let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
			let sub = assign(BOB, task_id);
			run_to(EXPIRY - 1);
			send(BOB, sub, 1);
			run_to(EXPIRY);
			for who in [BOB, EVE] {
				assert_noop!(
					DecentralML::close_task(RuntimeOrigin::signed(who), task_id),
					Error::<Test>::ResultsUnderReview
				);
			}
			assert_ok!(DecentralML::reject_task_result(
				RuntimeOrigin::signed(ALICE),
				sub,
				reason()
			));
			assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(EVE), task_id));
			run_to(EXPIRY + APPEAL_PERIOD);
			assert_ok!(DecentralML::release_rejection(RuntimeOrigin::signed(EVE), sub));
			assert_eq!(free(BOB), INITIAL_BALANCE);
			assert_eq!(free(ALICE), INITIAL_BALANCE - TASK_DEPOSIT);
			check();
		});
	}

	/// 3. A revealed result can no longer stay unpaid forever: expiry is bounded by
	/// MaxTaskDuration, and once the review period lapses anyone claims the reward.
	#[test]
	fn attack3_pending_forever_fails_reward_claimable_after_review() {
		new_test_ext().execute_with(|| {
			assert_noop!(
				DecentralML::create_task(
					RuntimeOrigin::signed(ALICE),
					TaskType::ModelContributor,
					question(),
					REWARD,
					1,
					u64::MAX,
					ValidationStrategy::ManualAccept,
					bundle(),
					None,
					None,
				),
				Error::<Test>::ExpirationTooFar
			);
			let task_id =
				create_with(ALICE, 1, ValidationStrategy::ManualAccept, 1 + MAX_TASK_DURATION);
			let sub = pending(BOB, task_id, 1);
			run_to(1 + REVIEW_PERIOD - 1);
			assert_noop!(
				DecentralML::claim_reward(RuntimeOrigin::signed(BOB), sub),
				Error::<Test>::DeadlineNotReached
			);
			run_to(1 + REVIEW_PERIOD);
			assert_ok!(DecentralML::claim_reward(RuntimeOrigin::signed(BOB), sub));
			assert_eq!(
				last_event(),
				Event::ResultAccepted {
					task_id,
					submission_id: sub,
					contributor: BOB,
					paid: REWARD,
					decided_by: Decider::ReviewPeriodLapsed,
				}
				.into()
			);
			assert_eq!(free(BOB), INITIAL_BALANCE + REWARD - SUBMISSION_DEPOSIT);
			check();
		});
	}

	/// 4. Squatting costs a deposit that the creator receives when the slot times
	/// out, and timed-out or finally rejected slots no longer count against the task,
	/// so it never locks out.
	#[test]
	fn attack4_slot_squatting_costs_the_squatter_and_never_locks_out() {
		new_test_ext().execute_with(|| {
			let task_id =
				create_with(ALICE, 1, ValidationStrategy::ManualAccept, 1 + MAX_TASK_DURATION);
			assert_noop!(
				DecentralML::assign_task(RuntimeOrigin::signed(PAUPER), task_id),
				Error::<Test>::InsufficientFundsForDeposit
			);
			let squat = assign(DAVE, task_id);
			assert_noop!(
				DecentralML::assign_task(RuntimeOrigin::signed(BOB), task_id),
				Error::<Test>::NoSlotsLeft
			);
			run_to(1 + RESULT_TIMEOUT);
			assert_ok!(DecentralML::time_out_slot(RuntimeOrigin::signed(BOB), squat));
			assert_eq!(free(DAVE), INITIAL_BALANCE - ASSIGNMENT_DEPOSIT);
			assert_eq!(free(ALICE), INITIAL_BALANCE - REWARD - TASK_DEPOSIT + ASSIGNMENT_DEPOSIT);
			assert_eq!(ContributorStats::<Test>::get(DAVE).slots_timed_out, 1);
			// Far more squatters than the old bound of 32 records per task: the slot
			// always reopens.
			for round in 0..40u64 {
				let squatter = [CHARLIE, DAVE, EVE][(round % 3) as usize];
				let now = System::block_number();
				let sub = assign(squatter, task_id);
				if round % 2 == 0 {
					commit(squatter, sub, 9);
					run_to(now + REVEAL_WINDOW + 1);
				} else {
					run_to(now + RESULT_TIMEOUT);
				}
				assert_ok!(DecentralML::time_out_slot(RuntimeOrigin::signed(BOB), sub));
			}
			assert_eq!(task(task_id).live_submissions, 0);
			assign(BOB, task_id);
			check();
		});
	}

	/// 5. A reward below the existential deposit is refused at creation, and a payout
	/// that cannot be made no longer blocks settlement of the others: it is kept
	/// claimable.
	#[test]
	fn attack5_one_unpayable_account_no_longer_blocks_the_others() {
		new_test_ext_with_whale().execute_with(|| {
			assert_noop!(
				DecentralML::create_task(
					RuntimeOrigin::signed(ALICE),
					TaskType::ModelContributor,
					question(),
					EXISTENTIAL_DEPOSIT - 1,
					2,
					EXPIRY,
					ValidationStrategy::ManualAccept,
					bundle(),
					None,
					None,
				),
				Error::<Test>::RewardBelowMinimum
			);
			let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
			let bob = pending(BOB, task_id, 1);
			let whale = pending(WHALE, task_id, 2);
			assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
			assert_eq!(status(bob), Some(SubmissionStatus::Accepted));
			assert_eq!(status(whale), Some(SubmissionStatus::PayoutOwed));
			assert!(has_event(Event::PayoutDeferred {
				task_id,
				submission_id: whale,
				contributor: WHALE,
				amount: REWARD,
			}));
			assert_eq!(free(BOB), INITIAL_BALANCE + REWARD - SUBMISSION_DEPOSIT);
			assert_eq!(task(task_id).escrow, REWARD);
			assert_eq!(held(HoldReason::TaskEscrow, ALICE), REWARD);
			check();
			// Still unpayable: the retry fails and changes nothing.
			assert_noop!(
				DecentralML::claim_reward(RuntimeOrigin::signed(EVE), whale),
				TokenError::CannotCreate
			);
			run_to(1 + REMOVAL_DELAY);
			assert_noop!(
				DecentralML::remove_task(RuntimeOrigin::signed(EVE), task_id),
				Error::<Test>::SettlementOutstanding
			);
			assert_ok!(Balances::transfer(&WHALE, &EVE, 1_000, Preservation::Preserve));
			assert_ok!(DecentralML::claim_reward(RuntimeOrigin::signed(EVE), whale));
			assert_eq!(
				last_event(),
				Event::ResultAccepted {
					task_id,
					submission_id: whale,
					contributor: WHALE,
					paid: REWARD,
					decided_by: Decider::Close,
				}
				.into()
			);
			assert_eq!(task(task_id).escrow, 0);
			check();
			assert_ok!(DecentralML::remove_task(RuntimeOrigin::signed(EVE), task_id));
			check();
		});
	}

	/// 6. Records cost a deposit while stored, and a closed task is removed with all
	/// its records after the grace period, returning every deposit.
	#[test]
	fn attack6_state_is_paid_for_and_removed_after_close() {
		new_test_ext().execute_with(|| {
			let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
			let sub = pending(BOB, task_id, 1);
			assert_eq!(held(HoldReason::StorageDeposit, ALICE), TASK_DEPOSIT);
			assert_eq!(held(HoldReason::StorageDeposit, BOB), SUBMISSION_DEPOSIT);
			assert_noop!(
				DecentralML::remove_task(RuntimeOrigin::signed(EVE), task_id),
				Error::<Test>::TaskNotClosed
			);
			assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
			run_to(1 + REMOVAL_DELAY - 1);
			assert_noop!(
				DecentralML::remove_task(RuntimeOrigin::signed(EVE), task_id),
				Error::<Test>::RemovalTooEarly
			);
			run_to(1 + REMOVAL_DELAY);
			assert_ok!(DecentralML::remove_task(RuntimeOrigin::signed(EVE), task_id));
			assert_eq!(last_event(), Event::TaskRemoved { task_id }.into());
			assert!(!Tasks::<Test>::contains_key(task_id));
			assert!(!Submissions::<Test>::contains_key(sub));
			assert!(!TasksByCreator::<Test>::contains_key(ALICE, task_id));
			assert!(!TaskSubmissions::<Test>::contains_key(task_id, sub));
			assert!(!ContributorSubmissions::<Test>::contains_key(BOB, sub));
			assert!(!Assignments::<Test>::contains_key(task_id, BOB));
			assert!(!ResultHashes::<Test>::contains_key(task_id, [1u8; 32]));
			assert_eq!(held(HoldReason::StorageDeposit, ALICE), 0);
			assert_eq!(held(HoldReason::StorageDeposit, BOB), 0);
			assert_eq!(free(ALICE), INITIAL_BALANCE - REWARD);
			assert_eq!(free(BOB), INITIAL_BALANCE + REWARD);
			// Reputation outlives the records.
			assert_eq!(CreatorStats::<Test>::get(ALICE).total_paid, REWARD);
			check();
		});
	}

	/// 7. Copying another contributor's location and hash is refused, and so is
	/// revealing another contributor's commitment: it names them.
	#[test]
	fn attack7_replaying_another_contributors_result_fails() {
		new_test_ext().execute_with(|| {
			let task_id = create(ALICE, 3, ValidationStrategy::AutoAccept);
			let bob = pending(BOB, task_id, 1);
			let copied = Submissions::<Test>::get(bob).unwrap().result_location;
			let charlie = assign(CHARLIE, task_id);
			let copy_commitment =
				DecentralML::result_commitment(&CHARLIE, charlie, &text(), &copied, &salt(1));
			assert_ok!(DecentralML::commit_task_result(
				RuntimeOrigin::signed(CHARLIE),
				charlie,
				copy_commitment
			));
			assert_noop!(
				DecentralML::reveal_task_result(
					RuntimeOrigin::signed(CHARLIE),
					charlie,
					text(),
					copied,
					salt(1)
				),
				Error::<Test>::DuplicateResult
			);
			// Dave copies Bob's commitment itself before Bob reveals in another task.
			let other = create(ALICE, 2, ValidationStrategy::AutoAccept);
			let bob2 = assign(BOB, other);
			let dave = assign(DAVE, other);
			commit(BOB, bob2, 5);
			let bobs = Submissions::<Test>::get(bob2).unwrap().commitment.unwrap();
			assert_ok!(DecentralML::commit_task_result(RuntimeOrigin::signed(DAVE), dave, bobs));
			assert_noop!(reveal_call(DAVE, dave, 5), Error::<Test>::CommitmentMismatch);
			reveal(BOB, bob2, 5);
			assert_eq!(free(CHARLIE), INITIAL_BALANCE - ASSIGNMENT_DEPOSIT - SUBMISSION_DEPOSIT);
			assert_eq!(free(DAVE), INITIAL_BALANCE - ASSIGNMENT_DEPOSIT - SUBMISSION_DEPOSIT);
			check();
		});
	}

	/// 8. Rejecting every result no longer takes the escrow back at once, leaves a
	/// public record, and can be appealed: the arbiter overturns and the contributor
	/// is paid.
	#[test]
	fn attack8_read_then_reject_is_recorded_and_overturned_on_appeal() {
		new_test_ext().execute_with(|| {
			let task_id = create(ALICE, 3, ValidationStrategy::ManualAccept);
			let mut subs = vec![];
			for (n, who) in [BOB, CHARLIE, DAVE].into_iter().enumerate() {
				let sub = pending(who, task_id, n as u8 + 1);
				assert_ok!(DecentralML::reject_task_result(
					RuntimeOrigin::signed(ALICE),
					sub,
					reason()
				));
				subs.push((who, sub));
			}
			assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
			// Nothing came back to the creator yet: every reward is still held.
			assert_eq!(held(HoldReason::TaskEscrow, ALICE), 3 * REWARD);
			assert_eq!(CreatorStats::<Test>::get(ALICE).results_rejected, 3);
			for (who, sub) in &subs {
				assert_ok!(DecentralML::appeal_rejection(RuntimeOrigin::signed(*who), *sub));
			}
			for (_, sub) in &subs {
				assert_ok!(DecentralML::arbitrate(RuntimeOrigin::root(), *sub, true));
			}
			for (who, _) in &subs {
				assert_eq!(free(*who), INITIAL_BALANCE + REWARD - SUBMISSION_DEPOSIT);
				assert_eq!(ContributorStats::<Test>::get(*who).appeals_won, 1);
			}
			let record = CreatorStats::<Test>::get(ALICE);
			assert_eq!((record.rejections_overturned, record.results_accepted), (3, 3));
			assert_eq!(held(HoldReason::TaskEscrow, ALICE), 0);
			check();
		});
	}
}

// ---------------------------------------------------------------------------------
// Every call: success and every error.
// ---------------------------------------------------------------------------------

#[test]
fn create_task_holds_escrow_and_deposit_and_counts_the_task() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 3, ValidationStrategy::ManualAccept);
		let t = task(task_id);
		assert_eq!((t.escrow, t.deposit, t.closed_at), (3 * REWARD, TASK_DEPOSIT, None));
		assert_eq!(t.status, TaskStatus::Open);
		assert_eq!(free(ALICE), INITIAL_BALANCE - 3 * REWARD - TASK_DEPOSIT);
		assert_eq!(DecentralML::escrow_held(&ALICE), 3 * REWARD);
		assert_eq!(held(HoldReason::StorageDeposit, ALICE), TASK_DEPOSIT);
		assert!(OpenTasks::<Test>::contains_key(task_id));
		assert!(TasksByCreator::<Test>::contains_key(ALICE, task_id));
		assert_eq!(CreatorStats::<Test>::get(ALICE).tasks_created, 1);
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
		check();
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
		assert_noop!(
			call(ALICE, Default::default(), REWARD, 1, 10, bundle()),
			Error::<Test>::EmptyQuestion
		);
		assert_noop!(call(ALICE, question(), 0, 1, 10, bundle()), Error::<Test>::ZeroReward);
		assert_noop!(
			call(ALICE, question(), 9, 1, 10, bundle()),
			Error::<Test>::RewardBelowMinimum
		);
		assert_noop!(
			call(ALICE, question(), REWARD, 0, 10, bundle()),
			Error::<Test>::ZeroAssignments
		);
		assert_noop!(
			call(ALICE, question(), REWARD, 17, 10, bundle()),
			Error::<Test>::TooManyAssignments
		);
		assert_noop!(
			call(ALICE, question(), REWARD, 1, 1, bundle()),
			Error::<Test>::ExpirationInPast
		);
		assert_noop!(
			call(ALICE, question(), REWARD, 1, 2 + MAX_TASK_DURATION, bundle()),
			Error::<Test>::ExpirationTooFar
		);
		assert_noop!(
			call(ALICE, question(), REWARD, 1, 10, empty_path),
			Error::<Test>::EmptyLocation
		);
		assert_noop!(call(ALICE, question(), u64::MAX, 2, 10, bundle()), Error::<Test>::Overflow);
		assert_noop!(
			call(ALICE, question(), INITIAL_BALANCE, 1, 10, bundle()),
			Error::<Test>::InsufficientFunds
		);
		// Enough for the escrow, not for the escrow and the deposit: the escrow hold
		// is undone too.
		assert_noop!(
			call(
				ALICE,
				question(),
				INITIAL_BALANCE - EXISTENTIAL_DEPOSIT - TASK_DEPOSIT + 1,
				1,
				10,
				bundle()
			),
			Error::<Test>::InsufficientFunds
		);
		assert_noop!(
			call(PAUPER, question(), REWARD, 1, 10, bundle()),
			Error::<Test>::InsufficientFunds
		);
		assert_noop!(
			DecentralML::create_task(
				RuntimeOrigin::none(),
				TaskType::ModelContributor,
				question(),
				REWARD,
				1,
				10,
				ValidationStrategy::ManualAccept,
				bundle(),
				None,
				None
			),
			BadOrigin
		);
		assert_eq!(NextTaskId::<Test>::get(), 0);
		assert_eq!(held(HoldReason::TaskEscrow, ALICE), 0);
	});
}

#[test]
fn assign_task_holds_deposits_and_gives_exactly_max_assignments_slots() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
		let first = assign(BOB, task_id);
		assign(CHARLIE, task_id);
		assert_noop!(
			DecentralML::assign_task(RuntimeOrigin::signed(DAVE), task_id),
			Error::<Test>::NoSlotsLeft
		);
		let s = Submissions::<Test>::get(first).unwrap();
		assert_eq!(s.status, SubmissionStatus::Assigned);
		assert_eq!(
			(s.assignment_deposit, s.storage_deposit),
			(ASSIGNMENT_DEPOSIT, SUBMISSION_DEPOSIT)
		);
		assert_eq!(held(HoldReason::AssignmentDeposit, BOB), ASSIGNMENT_DEPOSIT);
		assert_eq!(held(HoldReason::StorageDeposit, BOB), SUBMISSION_DEPOSIT);
		assert_eq!(Assignments::<Test>::get(task_id, BOB), Some(first));
		assert!(TaskSubmissions::<Test>::contains_key(task_id, first));
		assert!(ContributorSubmissions::<Test>::contains_key(BOB, first));
		assert_eq!((task(task_id).taken_slots, task(task_id).live_submissions), (2, 2));
		assert_eq!(ContributorStats::<Test>::get(BOB).slots_taken, 1);
		assert!(has_event(Event::TaskAssigned { task_id, submission_id: first, contributor: BOB }));
		check();
	});
}

#[test]
fn assign_task_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 3, ValidationStrategy::ManualAccept);
		let assign_as =
			|who: u64, id: TaskId| DecentralML::assign_task(RuntimeOrigin::signed(who), id);
		assert_noop!(assign_as(BOB, 99), Error::<Test>::TaskNotFound);
		assert_noop!(assign_as(ALICE, task_id), Error::<Test>::CreatorCannotContribute);
		assign(BOB, task_id);
		assert_noop!(assign_as(BOB, task_id), Error::<Test>::AlreadyAssigned);
		assert_noop!(assign_as(PAUPER, task_id), Error::<Test>::InsufficientFundsForDeposit);
		// Enough for the assignment deposit only: nothing is held.
		assert_ok!(Balances::transfer(
			&EVE,
			&PAUPER,
			ASSIGNMENT_DEPOSIT + EXISTENTIAL_DEPOSIT,
			Preservation::Preserve
		));
		assert_noop!(assign_as(PAUPER, task_id), Error::<Test>::InsufficientFundsForDeposit);
		assert_noop!(DecentralML::assign_task(RuntimeOrigin::none(), task_id), BadOrigin);
		run_to(EXPIRY);
		assert_noop!(assign_as(CHARLIE, task_id), Error::<Test>::TaskExpired);
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
		assert_noop!(assign_as(CHARLIE, task_id), Error::<Test>::TaskNotOpen);
	});
}

#[test]
fn commit_task_result_stores_the_hash_only() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		run_to(3);
		commit(BOB, sub, 1);
		let s = Submissions::<Test>::get(sub).unwrap();
		assert_eq!(s.status, SubmissionStatus::Committed);
		assert_eq!((s.commitment, s.committed_at), (Some(commitment(BOB, sub, 1)), Some(3)));
		assert_eq!((s.result_location, s.submitted_at), (None, None));
		assert_eq!(held(HoldReason::AssignmentDeposit, BOB), ASSIGNMENT_DEPOSIT);
		assert_eq!(
			last_event(),
			Event::ResultCommitted { task_id, submission_id: sub, contributor: BOB }.into()
		);
		check();
	});
}

#[test]
fn commit_task_result_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 3, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		let commit_as = |who: u64, id: SubmissionId| {
			DecentralML::commit_task_result(RuntimeOrigin::signed(who), id, [1; 32])
		};
		assert_noop!(commit_as(BOB, 99), Error::<Test>::SubmissionNotFound);
		assert_noop!(commit_as(CHARLIE, sub), Error::<Test>::NotAssignedContributor);
		commit(BOB, sub, 1);
		assert_noop!(commit_as(BOB, sub), Error::<Test>::AlreadyCommitted);
		reveal(BOB, sub, 1);
		assert_noop!(commit_as(BOB, sub), Error::<Test>::ResultAlreadySent);
		assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()));
		let late = assign(CHARLIE, task_id);
		run_to(EXPIRY - 5);
		let cancelled = assign(DAVE, task_id);
		run_to(EXPIRY);
		assert_noop!(commit_as(CHARLIE, late), Error::<Test>::TaskExpired);
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
		assert!(has_event(Event::SlotCancelled {
			task_id,
			submission_id: cancelled,
			contributor: DAVE
		}));
		assert!(has_event(Event::SlotTimedOut {
			task_id,
			submission_id: late,
			contributor: CHARLIE,
			forfeited: ASSIGNMENT_DEPOSIT
		}));
		// A cancelled or timed-out slot is gone, not "already sent".
		assert_noop!(commit_as(DAVE, cancelled), Error::<Test>::SubmissionNotFound);
		assert_noop!(commit_as(CHARLIE, late), Error::<Test>::SubmissionNotFound);
		assert_noop!(
			DecentralML::commit_task_result(RuntimeOrigin::none(), sub, [0; 32]),
			BadOrigin
		);
	});
}

#[test]
fn reveal_task_result_returns_the_deposit_and_awaits_review() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		commit(BOB, sub, 1);
		run_to(1 + REVEAL_WINDOW);
		reveal(BOB, sub, 1);
		let s = Submissions::<Test>::get(sub).unwrap();
		assert_eq!(s.status, SubmissionStatus::Pending);
		assert_eq!(
			(s.result_location, s.submitted_at),
			(Some(location(1)), Some(1 + REVEAL_WINDOW))
		);
		assert_eq!(s.assignment_deposit, 0);
		assert_eq!(held(HoldReason::AssignmentDeposit, BOB), 0);
		assert_eq!(free(BOB), INITIAL_BALANCE - SUBMISSION_DEPOSIT);
		assert_eq!(ResultHashes::<Test>::get(task_id, [1u8; 32]), Some(sub));
		assert_eq!(task(task_id).pending, 1);
		assert_eq!(ContributorStats::<Test>::get(BOB).results_revealed, 1);
		assert_eq!(
			last_event(),
			Event::ResultRevealed { task_id, submission_id: sub, contributor: BOB }.into()
		);
		check();
	});
}

#[test]
fn reveal_task_result_under_auto_accept_pays_at_once() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::AutoAccept);
		let sub = pending(BOB, task_id, 1);
		assert_eq!(status(sub), Some(SubmissionStatus::Accepted));
		assert_eq!(free(BOB), INITIAL_BALANCE + REWARD - SUBMISSION_DEPOSIT);
		assert_eq!(
			(task(task_id).escrow, task(task_id).accepted, task(task_id).pending),
			(REWARD, 1, 0)
		);
		assert_eq!(
			last_event(),
			Event::ResultAccepted {
				task_id,
				submission_id: sub,
				contributor: BOB,
				paid: REWARD,
				decided_by: Decider::AutoAccept
			}
			.into()
		);
		check();
	});
}

#[test]
fn reveal_is_allowed_after_expiry_when_committed_before() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		run_to(EXPIRY - 1);
		commit(BOB, sub, 1);
		run_to(EXPIRY + 1);
		assert_noop!(
			DecentralML::close_task(RuntimeOrigin::signed(EVE), task_id),
			Error::<Test>::CommitmentsOutstanding
		);
		reveal(BOB, sub, 1);
		check();
	});
}

#[test]
fn reveal_task_result_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 3, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		let reveal_as =
			|who: u64, id: SubmissionId, t: ResultText, l: Option<Location>, s: [u8; 32]| {
				DecentralML::reveal_task_result(RuntimeOrigin::signed(who), id, t, l, s)
			};
		assert_noop!(reveal_as(BOB, 99, text(), None, salt(1)), Error::<Test>::SubmissionNotFound);
		assert_noop!(
			reveal_as(CHARLIE, sub, text(), None, salt(1)),
			Error::<Test>::NotAssignedContributor
		);
		assert_noop!(reveal_call(BOB, sub, 1), Error::<Test>::NotCommitted);
		commit(BOB, sub, 1);
		assert_noop!(
			reveal_as(BOB, sub, text(), Some(location(2)), salt(1)),
			Error::<Test>::CommitmentMismatch
		);
		assert_noop!(
			reveal_as(BOB, sub, text(), Some(location(1)), salt(2)),
			Error::<Test>::CommitmentMismatch
		);
		reveal(BOB, sub, 1);
		assert_noop!(reveal_call(BOB, sub, 1), Error::<Test>::ResultAlreadySent);
		let other = assign(CHARLIE, task_id);
		commit(CHARLIE, other, 1);
		assert_noop!(reveal_call(CHARLIE, other, 1), Error::<Test>::DuplicateResult);
		let late = assign(DAVE, task_id);
		commit(DAVE, late, 3);
		run_to(1 + REVEAL_WINDOW + 1);
		assert_noop!(reveal_call(DAVE, late, 3), Error::<Test>::RevealWindowOver);
		assert_noop!(
			DecentralML::reveal_task_result(RuntimeOrigin::none(), late, text(), None, salt(3)),
			BadOrigin
		);
	});
}

#[test]
fn reveal_refuses_empty_results_locations_and_sizes() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 3, ValidationStrategy::ManualAccept);
		let empty = Location { path: Default::default(), ..location(1) };
		let zero = Location { size: 0, ..location(1) };
		let cases = [
			(BOB, ResultText::default(), None, Error::<Test>::EmptyResult),
			(CHARLIE, text(), Some(empty), Error::<Test>::EmptyLocation),
			(DAVE, text(), Some(zero), Error::<Test>::ZeroSize),
		];
		for (who, t, l, error) in cases {
			let sub = assign(who, task_id);
			let c = DecentralML::result_commitment(&who, sub, &t, &l, &salt(1));
			assert_ok!(DecentralML::commit_task_result(RuntimeOrigin::signed(who), sub, c));
			assert_noop!(
				DecentralML::reveal_task_result(RuntimeOrigin::signed(who), sub, t, l, salt(1)),
				error
			);
		}
	});
}

#[test]
fn result_commitment_binds_contributor_submission_and_salt() {
	new_test_ext().execute_with(|| {
		let base = DecentralML::result_commitment(&BOB, 0, &text(), &Some(location(1)), &salt(1));
		assert_ne!(
			base,
			DecentralML::result_commitment(&CHARLIE, 0, &text(), &Some(location(1)), &salt(1))
		);
		assert_ne!(
			base,
			DecentralML::result_commitment(&BOB, 1, &text(), &Some(location(1)), &salt(1))
		);
		assert_ne!(
			base,
			DecentralML::result_commitment(&BOB, 0, &text(), &Some(location(1)), &salt(2))
		);
		assert_ne!(
			base,
			DecentralML::result_commitment(&BOB, 0, &text(), &Some(location(2)), &salt(1))
		);
		// The documented formula: blake2_256 of the SCALE encoding of the tuple.
		let encoded = (BOB, 0u64, text(), Some(location(1)), salt(1)).encode();
		assert_eq!(base, frame::hashing::blake2_256(&encoded));
	});
}

#[test]
fn accept_task_result_pays_the_contributor_once() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
		let sub = pending(BOB, task_id, 1);
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), sub));
		assert_eq!(free(BOB), INITIAL_BALANCE + REWARD - SUBMISSION_DEPOSIT);
		assert_eq!(DecentralML::escrow_held(&ALICE), REWARD);
		assert_eq!(
			last_event(),
			Event::ResultAccepted {
				task_id,
				submission_id: sub,
				contributor: BOB,
				paid: REWARD,
				decided_by: Decider::Creator
			}
			.into()
		);
		assert_noop!(
			DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), sub),
			Error::<Test>::ResultNotPending
		);
		let record = CreatorStats::<Test>::get(ALICE);
		assert_eq!((record.results_accepted, record.total_paid), (1, REWARD));
		assert_eq!(ContributorStats::<Test>::get(BOB).results_accepted, 1);
		check();
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
		commit(BOB, sub, 1);
		assert_noop!(accept_as(ALICE, sub), Error::<Test>::ResultNotPending);
		reveal(BOB, sub, 1);
		assert_noop!(accept_as(BOB, sub), Error::<Test>::NotTaskCreator);
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
		assert_noop!(accept_as(ALICE, sub), Error::<Test>::TaskNotOpen);
		assert_noop!(DecentralML::accept_task_result(RuntimeOrigin::none(), sub), BadOrigin);
	});
}

#[test]
fn reject_task_result_holds_the_reward_until_final() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = pending(BOB, task_id, 1);
		run_to(4);
		assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()));
		let s = Submissions::<Test>::get(sub).unwrap();
		assert_eq!(s.status, SubmissionStatus::Rejected);
		assert_eq!((s.rejection_reason, s.rejected_at), (Some(reason()), Some(4)));
		assert_eq!(
			last_event(),
			Event::ResultRejected {
				task_id,
				submission_id: sub,
				contributor: BOB,
				reason: reason()
			}
			.into()
		);
		assert_eq!(DecentralML::escrow_held(&ALICE), REWARD);
		// The slot stays taken until the rejection is final.
		assert_noop!(
			DecentralML::assign_task(RuntimeOrigin::signed(CHARLIE), task_id),
			Error::<Test>::NoSlotsLeft
		);
		assert_eq!(CreatorStats::<Test>::get(ALICE).results_rejected, 1);
		assert_eq!(ContributorStats::<Test>::get(BOB).results_rejected, 1);
		check();
	});
}

#[test]
fn reject_task_result_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 3, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		let reject_as = |who: u64, id: SubmissionId| {
			DecentralML::reject_task_result(RuntimeOrigin::signed(who), id, reason())
		};
		assert_noop!(reject_as(ALICE, 99), Error::<Test>::SubmissionNotFound);
		assert_noop!(reject_as(BOB, sub), Error::<Test>::NotTaskCreator);
		assert_noop!(reject_as(ALICE, sub), Error::<Test>::ResultNotPending);
		commit(BOB, sub, 1);
		assert_noop!(reject_as(ALICE, sub), Error::<Test>::ResultNotPending);
		reveal(BOB, sub, 1);
		run_to(1 + REVIEW_PERIOD);
		assert_noop!(reject_as(ALICE, sub), Error::<Test>::ReviewPeriodOver);
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), sub));
		assert_noop!(reject_as(ALICE, sub), Error::<Test>::ResultNotPending);
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
		assert_noop!(reject_as(ALICE, sub), Error::<Test>::TaskNotOpen);
		assert_noop!(
			DecentralML::reject_task_result(RuntimeOrigin::none(), sub, reason()),
			BadOrigin
		);
	});
}

#[test]
fn close_task_settles_every_kind_of_slot() {
	new_test_ext().execute_with(|| {
		for who in [6, 7, 8] {
			assert_ok!(Balances::mint_into(&who, INITIAL_BALANCE));
		}
		let task_id = create(ALICE, 8, ValidationStrategy::ManualAccept);
		let stale = assign(EVE, task_id); // assigned at 1, times out at 1 + RESULT_TIMEOUT
		run_to(2);
		let lapsed = pending(BOB, task_id, 1); // review lapses at 2 + REVIEW_PERIOD
		let accepted = pending(CHARLIE, task_id, 2);
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), accepted));
		let rejected = pending(DAVE, task_id, 3);
		assert_ok!(DecentralML::reject_task_result(
			RuntimeOrigin::signed(ALICE),
			rejected,
			reason()
		));
		run_to(1 + RESULT_TIMEOUT);
		let fresh = pending(6, task_id, 4);
		let silent = assign(7, task_id);
		let committed = assign(8, task_id);
		commit(8, committed, 5);
		run_to(1 + RESULT_TIMEOUT + REVEAL_WINDOW + 1);
		let alice_before = free(ALICE);
		System::reset_events();
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
		let decided = |sub, who, decided_by| Event::ResultAccepted {
			task_id,
			submission_id: sub,
			contributor: who,
			paid: REWARD,
			decided_by,
		};
		assert!(has_event(decided(lapsed, BOB, Decider::ReviewPeriodLapsed)));
		assert!(has_event(decided(fresh, 6, Decider::Close)));
		assert!(has_event(Event::SlotTimedOut {
			task_id,
			submission_id: stale,
			contributor: EVE,
			forfeited: ASSIGNMENT_DEPOSIT
		}));
		assert!(has_event(Event::SlotTimedOut {
			task_id,
			submission_id: committed,
			contributor: 8,
			forfeited: ASSIGNMENT_DEPOSIT
		}));
		assert!(has_event(Event::SlotCancelled { task_id, submission_id: silent, contributor: 7 }));
		// 8 slots: 3 paid (accepted, lapsed, fresh), 1 rejected kept, 4 refunded.
		assert_eq!(
			last_event(),
			Event::TaskClosed { task_id, paid_on_close: 2 * REWARD, refunded: 4 * REWARD }.into()
		);
		assert_eq!(free(ALICE), alice_before + 4 * REWARD + 2 * ASSIGNMENT_DEPOSIT);
		let t = task(task_id);
		assert_eq!(
			(t.status, t.escrow, t.closed_at),
			(TaskStatus::Closed, REWARD, Some(System::block_number()))
		);
		assert_eq!((t.live_submissions, t.accepted, t.pending), (4, 3, 0));
		for sub in [stale, silent, committed] {
			assert_eq!(status(sub), None);
		}
		assert_eq!(status(rejected), Some(SubmissionStatus::Rejected));
		assert!(!OpenTasks::<Test>::contains_key(task_id));
		// The cancelled slot's deposits are back.
		assert_eq!(free(7), INITIAL_BALANCE);
		check();
	});
}

#[test]
fn close_task_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
		assert_noop!(
			DecentralML::close_task(RuntimeOrigin::signed(EVE), task_id),
			Error::<Test>::TaskNotExpired
		);
		assert_noop!(
			DecentralML::close_task(RuntimeOrigin::signed(ALICE), 99),
			Error::<Test>::TaskNotFound
		);
		let sub = assign(BOB, task_id);
		commit(BOB, sub, 1);
		assert_noop!(
			DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id),
			Error::<Test>::CommitmentsOutstanding
		);
		reveal(BOB, sub, 1);
		run_to(EXPIRY);
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(EVE), task_id));
		assert_noop!(
			DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id),
			Error::<Test>::TaskNotOpen
		);
		assert_noop!(DecentralML::close_task(RuntimeOrigin::none(), task_id), BadOrigin);
		assert_noop!(DecentralML::close_task(RuntimeOrigin::root(), task_id), BadOrigin);
	});
}

#[test]
fn anyone_may_close_an_expired_task_once_reviews_lapse() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
		run_to(EXPIRY - 2);
		let sub = pending(BOB, task_id, 1);
		run_to(EXPIRY);
		assert_noop!(
			DecentralML::close_task(RuntimeOrigin::signed(EVE), task_id),
			Error::<Test>::ResultsUnderReview
		);
		run_to(EXPIRY - 2 + REVIEW_PERIOD);
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(EVE), task_id));
		assert!(has_event(Event::ResultAccepted {
			task_id,
			submission_id: sub,
			contributor: BOB,
			paid: REWARD,
			decided_by: Decider::ReviewPeriodLapsed,
		}));
		assert_eq!(free(ALICE), INITIAL_BALANCE - REWARD - TASK_DEPOSIT);
		check();
	});
}

/// The race a judged close is for. The creator lists the task's results, decides the
/// one it sees and sends the decision with a close; meanwhile a contributor whose slot
/// showed nothing commits and reveals (or its reveal is ordered before the close in the
/// same block). `close_judged_task` then refuses and nothing moves, where `close_task`
/// pays the result nobody judged.
#[test]
fn close_judged_task_refuses_a_result_revealed_after_the_creator_looked() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 3, ValidationStrategy::ManualAccept);
		let seen = pending(BOB, task_id, 1);
		let hostile = assign(DAVE, task_id);
		// Block 3: the creator looks; Bob's result is pending, Dave's slot is empty.
		run_to(3);
		assert_eq!(status(hostile), Some(SubmissionStatus::Assigned));
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), seen));
		// Dave commits at 4 and reveals at 5; the creator's close lands at 6.
		run_to(4);
		commit(DAVE, hostile, 2);
		run_to(5);
		reveal(DAVE, hostile, 2);
		run_to(6);
		let (alice, dave) = (free(ALICE), free(DAVE));
		assert_noop!(
			DecentralML::close_judged_task(RuntimeOrigin::signed(ALICE), task_id),
			Error::<Test>::ResultsPending
		);
		assert_eq!((free(ALICE), free(DAVE)), (alice, dave));
		assert_eq!(held(HoldReason::TaskEscrow, ALICE), 2 * REWARD);
		assert_eq!(task(task_id).status, TaskStatus::Open);
		assert_eq!(status(hostile), Some(SubmissionStatus::Pending));
		check();
		// The paying close, in the same state, pays it unjudged.
		System::reset_events();
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
		assert!(has_event(Event::ResultAccepted {
			task_id,
			submission_id: hostile,
			contributor: DAVE,
			paid: REWARD,
			decided_by: Decider::Close,
		}));
		assert_eq!(free(DAVE), dave + REWARD);
		assert_eq!(free(ALICE), alice + REWARD);
		check();
	});
}

/// What one close left: every account's free balance and holds, the task record, the
/// submissions and the events of the close.
type Settlement = (
	Vec<(u64, u64, u64, u64, u64)>,
	TaskOf<Test>,
	Vec<(SubmissionId, Option<SubmissionStatus>)>,
	Vec<RuntimeEvent>,
);

/// Every kind of slot, the late result decided (rejected), then closed with `close`.
fn settle_after_deciding(
	close: fn(RuntimeOrigin, TaskId) -> DispatchResultWithPostInfo,
) -> Settlement {
	new_test_ext().execute_with(|| {
		for who in [6, 7, 8] {
			assert_ok!(Balances::mint_into(&who, INITIAL_BALANCE));
		}
		let task_id = create(ALICE, 8, ValidationStrategy::ManualAccept);
		let stale = assign(EVE, task_id);
		run_to(2);
		let accepted = pending(BOB, task_id, 1);
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), accepted));
		let rejected = pending(CHARLIE, task_id, 2);
		assert_ok!(DecentralML::reject_task_result(
			RuntimeOrigin::signed(ALICE),
			rejected,
			reason()
		));
		run_to(1 + RESULT_TIMEOUT);
		let late = pending(DAVE, task_id, 3);
		let silent = assign(7, task_id);
		let committed = assign(8, task_id);
		commit(8, committed, 5);
		run_to(1 + RESULT_TIMEOUT + REVEAL_WINDOW + 1);
		assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), late, reason()));
		System::reset_events();
		assert_ok!(close(RuntimeOrigin::signed(ALICE), task_id));
		check();
		let accounts = [ALICE, BOB, CHARLIE, DAVE, EVE, 6, 7, 8]
			.into_iter()
			.map(|who| {
				(
					who,
					free(who),
					held(HoldReason::TaskEscrow, who),
					held(HoldReason::AssignmentDeposit, who),
					held(HoldReason::StorageDeposit, who),
				)
			})
			.collect();
		let subs = [stale, accepted, rejected, late, silent, committed]
			.into_iter()
			.map(|sub| (sub, status(sub)))
			.collect();
		let events = System::events().into_iter().map(|r| r.event).collect();
		(accounts, task(task_id), subs, events)
	})
}

#[test]
fn close_judged_task_after_the_decisions_settles_exactly_like_close_task() {
	let judged = settle_after_deciding(DecentralML::close_judged_task);
	let paying = settle_after_deciding(DecentralML::close_task);
	assert_eq!(judged, paying);
	// What both did: 8 slots, 1 paid before, 2 rejected kept, 5 refunded; the stale and
	// the committed slot timed out to the creator, the silent one cancelled.
	let (accounts, t, subs, events) = judged;
	assert_eq!((t.status, t.escrow, t.pending), (TaskStatus::Closed, 2 * REWARD, 0));
	assert_eq!(
		events.last(),
		Some(&Event::TaskClosed { task_id: 0, paid_on_close: 0, refunded: 5 * REWARD }.into())
	);
	assert_eq!(
		accounts[0],
		(
			ALICE,
			INITIAL_BALANCE - 3 * REWARD - TASK_DEPOSIT + 2 * ASSIGNMENT_DEPOSIT,
			2 * REWARD,
			0,
			TASK_DEPOSIT
		)
	);
	assert_eq!(subs.iter().filter(|(_, s)| s.is_none()).count(), 3);
}

#[test]
fn close_judged_task_errors() {
	new_test_ext().execute_with(|| {
		let close =
			|who: u64, task_id| DecentralML::close_judged_task(RuntimeOrigin::signed(who), task_id);
		let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
		assert_noop!(close(EVE, task_id), Error::<Test>::TaskNotExpired);
		assert_noop!(close(ALICE, 99), Error::<Test>::TaskNotFound);
		run_to(EXPIRY - 3);
		let sub = assign(BOB, task_id);
		commit(BOB, sub, 1);
		assert_noop!(close(ALICE, task_id), Error::<Test>::CommitmentsOutstanding);
		run_to(EXPIRY - 2);
		reveal(BOB, sub, 1);
		assert_noop!(close(ALICE, task_id), Error::<Test>::ResultsPending);
		// Once the task expires anyone may close it, but not over a pending result:
		// neither while it is under review (where `close_task` says `ResultsUnderReview`)
		// nor after (where `close_task` pays it).
		run_to(EXPIRY);
		assert_noop!(close(EVE, task_id), Error::<Test>::ResultsPending);
		assert_noop!(
			DecentralML::close_task(RuntimeOrigin::signed(EVE), task_id),
			Error::<Test>::ResultsUnderReview
		);
		run_to(EXPIRY - 2 + REVIEW_PERIOD);
		assert_noop!(close(EVE, task_id), Error::<Test>::ResultsPending);
		assert_noop!(close(ALICE, task_id), Error::<Test>::ResultsPending);
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), sub));
		assert_ok!(close(EVE, task_id));
		assert_eq!(task(task_id).status, TaskStatus::Closed);
		assert_noop!(close(ALICE, task_id), Error::<Test>::TaskNotOpen);
		assert_noop!(DecentralML::close_judged_task(RuntimeOrigin::none(), task_id), BadOrigin);
		assert_noop!(DecentralML::close_judged_task(RuntimeOrigin::root(), task_id), BadOrigin);
		check();
	});
}

#[test]
fn time_out_slot_forfeits_to_the_creator_and_reopens_the_slot() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		commit(BOB, sub, 1);
		run_to(1 + REVEAL_WINDOW + 1);
		assert_ok!(DecentralML::time_out_slot(RuntimeOrigin::signed(EVE), sub));
		assert_eq!(
			last_event(),
			Event::SlotTimedOut {
				task_id,
				submission_id: sub,
				contributor: BOB,
				forfeited: ASSIGNMENT_DEPOSIT
			}
			.into()
		);
		assert_eq!(free(BOB), INITIAL_BALANCE - ASSIGNMENT_DEPOSIT);
		assert_eq!(held(HoldReason::StorageDeposit, BOB), 0);
		assert_eq!(status(sub), None);
		assert!(!Assignments::<Test>::contains_key(task_id, BOB));
		assert_eq!(task(task_id).taken_slots, 0);
		// The same account may take the slot again.
		assign(BOB, task_id);
		check();
	});
}

#[test]
fn time_out_slot_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 3, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		let time_out = |id| DecentralML::time_out_slot(RuntimeOrigin::signed(EVE), id);
		assert_noop!(time_out(99), Error::<Test>::SubmissionNotFound);
		run_to(RESULT_TIMEOUT);
		assert_noop!(time_out(sub), Error::<Test>::DeadlineNotReached);
		commit(BOB, sub, 1);
		run_to(RESULT_TIMEOUT + REVEAL_WINDOW);
		assert_noop!(time_out(sub), Error::<Test>::DeadlineNotReached);
		reveal(BOB, sub, 1);
		assert_noop!(time_out(sub), Error::<Test>::ResultAlreadySent);
		assert_noop!(DecentralML::time_out_slot(RuntimeOrigin::none(), sub), BadOrigin);
	});
}

#[test]
fn claim_reward_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		let claim = |id| DecentralML::claim_reward(RuntimeOrigin::signed(EVE), id);
		assert_noop!(claim(99), Error::<Test>::SubmissionNotFound);
		assert_noop!(claim(sub), Error::<Test>::NothingToClaim);
		send(BOB, sub, 1);
		assert_noop!(claim(sub), Error::<Test>::DeadlineNotReached);
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), sub));
		assert_noop!(claim(sub), Error::<Test>::NothingToClaim);
		assert_noop!(DecentralML::claim_reward(RuntimeOrigin::none(), sub), BadOrigin);
	});
}

#[test]
fn a_failed_payout_is_deferred_on_accept_and_retried_by_claim() {
	new_test_ext_with_whale().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = pending(WHALE, task_id, 1);
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), sub));
		assert_eq!(status(sub), Some(SubmissionStatus::PayoutOwed));
		assert_eq!(OwedPayouts::<Test>::get(sub), Some(Decider::Creator));
		assert_eq!(
			last_event(),
			Event::PayoutDeferred {
				task_id,
				submission_id: sub,
				contributor: WHALE,
				amount: REWARD
			}
			.into()
		);
		check();
		assert_ok!(Balances::transfer(&WHALE, &EVE, 1_000, Preservation::Preserve));
		assert_ok!(DecentralML::claim_reward(RuntimeOrigin::signed(EVE), sub));
		assert_eq!(
			last_event(),
			Event::ResultAccepted {
				task_id,
				submission_id: sub,
				contributor: WHALE,
				paid: REWARD,
				decided_by: Decider::Creator
			}
			.into()
		);
		assert_eq!(OwedPayouts::<Test>::get(sub), None);
		check();
	});
}

#[test]
fn appeal_rejection_moves_it_to_the_arbiter() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = pending(BOB, task_id, 1);
		assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()));
		run_to(1 + APPEAL_PERIOD - 1);
		assert_ok!(DecentralML::appeal_rejection(RuntimeOrigin::signed(BOB), sub));
		assert_eq!(status(sub), Some(SubmissionStatus::Appealed));
		assert_eq!(
			last_event(),
			Event::RejectionAppealed { task_id, submission_id: sub, contributor: BOB }.into()
		);
		// An appealed rejection cannot be released by anyone.
		run_to(100);
		assert_noop!(
			DecentralML::release_rejection(RuntimeOrigin::signed(EVE), sub),
			Error::<Test>::NotRejected
		);
		check();
	});
}

#[test]
fn appeal_rejection_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = pending(BOB, task_id, 1);
		let appeal = |who: u64, id| DecentralML::appeal_rejection(RuntimeOrigin::signed(who), id);
		assert_noop!(appeal(BOB, 99), Error::<Test>::SubmissionNotFound);
		assert_noop!(appeal(BOB, sub), Error::<Test>::NotRejected);
		assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()));
		assert_noop!(appeal(CHARLIE, sub), Error::<Test>::NotAssignedContributor);
		run_to(1 + APPEAL_PERIOD);
		assert_noop!(appeal(BOB, sub), Error::<Test>::AppealPeriodOver);
		assert_noop!(DecentralML::appeal_rejection(RuntimeOrigin::none(), sub), BadOrigin);
	});
}

#[test]
fn arbitrate_overturn_pays_and_records_it() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = pending(BOB, task_id, 1);
		assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()));
		assert_ok!(DecentralML::appeal_rejection(RuntimeOrigin::signed(BOB), sub));
		assert_ok!(DecentralML::arbitrate(RuntimeOrigin::root(), sub, true));
		assert!(has_event(Event::ResultAccepted {
			task_id,
			submission_id: sub,
			contributor: BOB,
			paid: REWARD,
			decided_by: Decider::Arbiter,
		}));
		assert_eq!(
			last_event(),
			Event::AppealDecided { task_id, submission_id: sub, overturned: true }.into()
		);
		assert_eq!(status(sub), Some(SubmissionStatus::Accepted));
		assert_eq!(CreatorStats::<Test>::get(ALICE).rejections_overturned, 1);
		assert_eq!(ContributorStats::<Test>::get(BOB).appeals_won, 1);
		assert_eq!(free(BOB), INITIAL_BALANCE + REWARD - SUBMISSION_DEPOSIT);
		check();
	});
}

#[test]
fn arbitrate_uphold_makes_the_rejection_final() {
	new_test_ext().execute_with(|| {
		// Open task: the slot reopens, the reward stays in escrow.
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = pending(BOB, task_id, 1);
		assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()));
		assert_ok!(DecentralML::appeal_rejection(RuntimeOrigin::signed(BOB), sub));
		assert_ok!(DecentralML::arbitrate(RuntimeOrigin::root(), sub, false));
		assert!(has_event(Event::RejectionFinal { task_id, submission_id: sub }));
		assert_eq!(
			last_event(),
			Event::AppealDecided { task_id, submission_id: sub, overturned: false }.into()
		);
		assert_eq!(status(sub), None);
		assert_eq!(task(task_id).escrow, REWARD);
		assert_eq!(free(BOB), INITIAL_BALANCE);
		assign(CHARLIE, task_id);
		check();
		// Closed task: the reward returns to the creator.
		let closed = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = pending(DAVE, closed, 2);
		assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()));
		assert_ok!(DecentralML::appeal_rejection(RuntimeOrigin::signed(DAVE), sub));
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), closed));
		assert_eq!(task(closed).escrow, REWARD);
		let before = free(ALICE);
		assert_ok!(DecentralML::arbitrate(RuntimeOrigin::root(), sub, false));
		assert_eq!(free(ALICE), before + REWARD);
		assert_eq!(task(closed).escrow, 0);
		check();
	});
}

#[test]
fn arbitrate_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = pending(BOB, task_id, 1);
		assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()));
		assert_noop!(
			DecentralML::arbitrate(RuntimeOrigin::root(), 99, true),
			Error::<Test>::SubmissionNotFound
		);
		assert_noop!(
			DecentralML::arbitrate(RuntimeOrigin::root(), sub, true),
			Error::<Test>::NotAppealed
		);
		assert_ok!(DecentralML::appeal_rejection(RuntimeOrigin::signed(BOB), sub));
		for who in [ALICE, BOB] {
			assert_noop!(DecentralML::arbitrate(RuntimeOrigin::signed(who), sub, true), BadOrigin);
		}
	});
}

#[test]
fn release_rejection_reopens_the_slot_or_refunds_a_closed_task() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
		let open_one = pending(BOB, task_id, 1);
		let closed_one = pending(CHARLIE, task_id, 2);
		for sub in [open_one, closed_one] {
			assert_ok!(DecentralML::reject_task_result(
				RuntimeOrigin::signed(ALICE),
				sub,
				reason()
			));
		}
		run_to(1 + APPEAL_PERIOD);
		assert_ok!(DecentralML::release_rejection(RuntimeOrigin::signed(EVE), open_one));
		assert_eq!(last_event(), Event::RejectionFinal { task_id, submission_id: open_one }.into());
		assert_eq!((task(task_id).escrow, task(task_id).taken_slots), (2 * REWARD, 1));
		assert_eq!(free(BOB), INITIAL_BALANCE);
		assert!(!ResultHashes::<Test>::contains_key(task_id, [1u8; 32]));
		// The hash is free again and the account may take a slot again.
		pending(BOB, task_id, 1);
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
		let before = free(ALICE);
		assert_ok!(DecentralML::release_rejection(RuntimeOrigin::signed(EVE), closed_one));
		assert_eq!(free(ALICE), before + REWARD);
		check();
	});
}

#[test]
fn release_rejection_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = pending(BOB, task_id, 1);
		let release = |id| DecentralML::release_rejection(RuntimeOrigin::signed(EVE), id);
		assert_noop!(release(99), Error::<Test>::SubmissionNotFound);
		assert_noop!(release(sub), Error::<Test>::NotRejected);
		assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()));
		run_to(1 + APPEAL_PERIOD - 1);
		assert_noop!(release(sub), Error::<Test>::DeadlineNotReached);
		assert_noop!(DecentralML::release_rejection(RuntimeOrigin::none(), sub), BadOrigin);
	});
}

#[test]
fn remove_task_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let remove = |id| DecentralML::remove_task(RuntimeOrigin::signed(EVE), id);
		assert_noop!(remove(99), Error::<Test>::TaskNotFound);
		assert_noop!(remove(task_id), Error::<Test>::TaskNotClosed);
		let sub = pending(BOB, task_id, 1);
		assert_ok!(DecentralML::reject_task_result(RuntimeOrigin::signed(ALICE), sub, reason()));
		assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(ALICE), task_id));
		assert_noop!(remove(task_id), Error::<Test>::RemovalTooEarly);
		run_to(1 + REMOVAL_DELAY);
		assert_noop!(remove(task_id), Error::<Test>::SettlementOutstanding);
		assert_ok!(DecentralML::release_rejection(RuntimeOrigin::signed(EVE), sub));
		assert_noop!(DecentralML::remove_task(RuntimeOrigin::none(), task_id), BadOrigin);
		assert_ok!(remove(task_id));
		assert_eq!(free(ALICE), INITIAL_BALANCE);
		assert_eq!(Balances::total_balance(&BOB), INITIAL_BALANCE);
		check();
	});
}

#[test]
fn reputation_counters_follow_the_spec() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 3, ValidationStrategy::ManualAccept);
		let paid = pending(BOB, task_id, 1);
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), paid));
		let rejected = pending(CHARLIE, task_id, 2);
		assert_ok!(DecentralML::reject_task_result(
			RuntimeOrigin::signed(ALICE),
			rejected,
			reason()
		));
		let squat = assign(DAVE, task_id);
		run_to(1 + RESULT_TIMEOUT);
		assert_ok!(DecentralML::time_out_slot(RuntimeOrigin::signed(EVE), squat));
		assert_eq!(
			CreatorStats::<Test>::get(ALICE),
			CreatorRecord {
				tasks_created: 1,
				results_accepted: 1,
				results_rejected: 1,
				rejections_overturned: 0,
				total_paid: REWARD
			}
		);
		assert_eq!(
			ContributorStats::<Test>::get(BOB),
			ContributorRecord {
				slots_taken: 1,
				results_revealed: 1,
				results_accepted: 1,
				..Default::default()
			}
		);
		assert_eq!(
			ContributorStats::<Test>::get(CHARLIE),
			ContributorRecord {
				slots_taken: 1,
				results_revealed: 1,
				results_rejected: 1,
				..Default::default()
			}
		);
		assert_eq!(
			ContributorStats::<Test>::get(DAVE),
			ContributorRecord { slots_taken: 1, slots_timed_out: 1, ..Default::default() }
		);
	});
}

#[test]
fn integrity_test_passes_and_the_runtime_weights_fit_a_block() {
	new_test_ext().execute_with(|| {
		<DecentralML as Hooks<u64>>::integrity_test();
		// The measured weights at the dev runtime's MaxAssignments (256) fit one
		// normal extrinsic of a 2 s block (75% of it).
		let limit = Weight::from_parts(2 * 1_000_000_000_000 * 3 / 4, 5 * 1024 * 1024);
		type W = crate::weights::SubstrateWeight<Test>;
		assert!(W::close_task(256).all_lte(limit), "{:?}", W::close_task(256));
		assert!(W::close_judged_task(256).all_lte(limit), "{:?}", W::close_judged_task(256));
		assert!(W::remove_task(256).all_lte(limit), "{:?}", W::remove_task(256));
	});
}

#[test]
fn try_state_catches_a_hold_the_records_do_not_explain() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		check();
		assert_ok!(Balances::hold(&HoldReason::TaskEscrow.into(), &ALICE, 1));
		assert!(DecentralML::do_try_state().is_err());
		assert_ok!(Balances::release(
			&HoldReason::TaskEscrow.into(),
			&ALICE,
			1,
			frame::deps::frame_support::traits::tokens::Precision::Exact
		));
		Tasks::<Test>::mutate(task_id, |t| t.as_mut().unwrap().accepted = 1);
		assert!(DecentralML::do_try_state().is_err());
	});
}

#[test]
fn try_state_catches_an_index_entry_the_records_do_not_explain() {
	let strays: [(&str, fn()); 8] = [
		("OpenTasks", || OpenTasks::<Test>::insert(99, ())),
		("TasksByCreator", || TasksByCreator::<Test>::insert(BOB, 0, ())),
		("TaskSubmissions", || TaskSubmissions::<Test>::insert(1, 0, ())),
		("ContributorSubmissions", || ContributorSubmissions::<Test>::insert(CHARLIE, 0, ())),
		("Assignments", || Assignments::<Test>::insert(0, CHARLIE, 0)),
		("OwedPayouts", || OwedPayouts::<Test>::insert(0, Decider::Creator)),
		("ResultHashes", || ResultHashes::<Test>::insert(0, [1u8; 32], 0)),
		("NextSubmissionId", || NextSubmissionId::<Test>::put(0)),
	];
	for (index, stray) in strays {
		new_test_ext().execute_with(|| {
			let task_id = create(ALICE, 2, ValidationStrategy::ManualAccept);
			assert_eq!((task_id, assign(BOB, task_id)), (0, 0));
			check();
			stray();
			assert!(DecentralML::do_try_state().is_err(), "a stray {index} entry passed");
		});
	}
}

#[test]
fn unsigned_origins_are_refused() {
	new_test_ext().execute_with(|| {
		assert_noop!(DecentralML::assign_task(RuntimeOrigin::none(), 0), BadOrigin);
		assert_noop!(DecentralML::close_task(RuntimeOrigin::root(), 0), BadOrigin);
		assert_noop!(DecentralML::claim_reward(RuntimeOrigin::root(), 0), BadOrigin);
	});
}

// ---------------------------------------------------------------------------------
// Campaigns: one task per round, by one creator, each round after the previous settled.
// ---------------------------------------------------------------------------------

fn campaign_call(creator: u64, campaign: Option<CampaignId>) -> DispatchResult {
	campaign_call_by(RuntimeOrigin::signed(creator), question(), campaign)
}

fn campaign_call_by(
	origin: RuntimeOrigin,
	question: Question,
	campaign: Option<CampaignId>,
) -> DispatchResult {
	DecentralML::create_campaign_task(
		origin,
		TaskType::ModelContributor,
		question,
		REWARD,
		2,
		EXPIRY,
		ValidationStrategy::CustomAccept,
		bundle(),
		Some([9u8; 32]),
		None,
		campaign,
	)
}

/// Creates a campaign round; returns its task id.
fn round(creator: u64, campaign: Option<CampaignId>) -> TaskId {
	let id = NextTaskId::<Test>::get();
	assert_ok!(campaign_call(creator, campaign));
	id
}

fn close(task_id: TaskId) {
	assert_ok!(DecentralML::close_task(RuntimeOrigin::signed(task(task_id).creator), task_id));
}

fn lineage(campaign: CampaignId, round: u32, continues: Option<TaskId>) -> Option<Lineage> {
	Some(Lineage { campaign, round, continues })
}

#[test]
fn create_campaign_task_starts_a_campaign_with_a_task_like_create_task() {
	new_test_ext().execute_with(|| {
		let plain = create(BOB, 2, ValidationStrategy::CustomAccept);
		let first = round(ALICE, None);
		assert_eq!(task(first).lineage, lineage(0, 1, None));
		assert_eq!(task(plain).lineage, None);
		// The same task, holds and records as create_task, but for its lineage.
		assert_eq!(TaskOf::<Test> { creator: BOB, lineage: None, ..task(first) }, task(plain));
		assert_eq!(held(HoldReason::TaskEscrow, ALICE), 2 * REWARD);
		assert_eq!(held(HoldReason::StorageDeposit, ALICE), TASK_DEPOSIT);
		assert!(OpenTasks::<Test>::contains_key(first));
		assert!(TasksByCreator::<Test>::contains_key(ALICE, first));
		assert_eq!(CreatorStats::<Test>::get(ALICE).tasks_created, 1);
		assert_eq!(
			Campaigns::<Test>::get(0),
			Some(Campaign { creator: ALICE, rounds: 1, latest_task: first })
		);
		assert_eq!(CampaignRounds::<Test>::get(0, 1), Some(first));
		assert_eq!(NextCampaignId::<Test>::get(), 1);
		let events: Vec<RuntimeEvent> =
			System::events().into_iter().rev().take(2).map(|r| r.event).collect();
		assert_eq!(
			events,
			vec![
				Event::CampaignRoundCreated {
					campaign: 0,
					round: 1,
					task_id: first,
					continues: None
				}
				.into(),
				Event::TaskCreated {
					task_id: first,
					creator: ALICE,
					pays_amount: REWARD,
					max_assignments: 2,
					escrow: 2 * REWARD
				}
				.into(),
			]
		);
		// Another creator's campaign gets the next id.
		let other = round(BOB, None);
		assert_eq!(task(other).lineage, lineage(1, 1, None));
		assert_eq!(NextCampaignId::<Test>::get(), 2);
		check();
	});
}

#[test]
fn each_round_continues_the_previous_once_it_is_closed() {
	new_test_ext().execute_with(|| {
		let first = round(ALICE, None);
		assert_noop!(campaign_call(ALICE, Some(0)), Error::<Test>::PreviousRoundOpen);
		let sub = pending(BOB, first, 1);
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), sub));
		close(first);
		let second = round(ALICE, Some(0));
		assert_eq!(task(second).lineage, lineage(0, 2, Some(first)));
		assert_eq!(
			last_event(),
			Event::CampaignRoundCreated {
				campaign: 0,
				round: 2,
				task_id: second,
				continues: Some(first)
			}
			.into()
		);
		assert_noop!(campaign_call(ALICE, Some(0)), Error::<Test>::PreviousRoundOpen);
		close(second);
		let third = round(ALICE, Some(0));
		assert_eq!(task(third).lineage, lineage(0, 3, Some(second)));
		assert_eq!(
			Campaigns::<Test>::get(0),
			Some(Campaign { creator: ALICE, rounds: 3, latest_task: third })
		);
		let rounds: Vec<(u32, TaskId)> = CampaignRounds::<Test>::iter_prefix(0).collect();
		let mut rounds = rounds;
		rounds.sort();
		assert_eq!(rounds, vec![(1, first), (2, second), (3, third)]);
		assert_eq!(NextCampaignId::<Test>::get(), 1);
		check();
	});
}

#[test]
fn a_removed_previous_round_counts_as_settled_and_its_history_stays() {
	new_test_ext().execute_with(|| {
		let first = round(ALICE, None);
		close(first);
		run_to(1 + REMOVAL_DELAY);
		assert_ok!(DecentralML::remove_task(RuntimeOrigin::signed(EVE), first));
		let second = round(ALICE, Some(0));
		assert_eq!(task(second).lineage, lineage(0, 2, Some(first)));
		assert_eq!(CampaignRounds::<Test>::get(0, 1), Some(first));
		check();
	});
}

#[test]
fn create_campaign_task_errors_change_nothing() {
	new_test_ext().execute_with(|| {
		round(ALICE, None);
		close(0);
		assert_noop!(campaign_call(BOB, Some(0)), Error::<Test>::NotCampaignCreator);
		assert_noop!(campaign_call(ALICE, Some(1)), Error::<Test>::CampaignNotFound);
		assert_noop!(campaign_call(BOB, Some(7)), Error::<Test>::CampaignNotFound);
		// create_task's checks, for a new campaign and for the next round.
		assert_noop!(campaign_call(PAUPER, None), Error::<Test>::InsufficientFunds);
		let empty =
			|campaign| campaign_call_by(RuntimeOrigin::signed(ALICE), Default::default(), campaign);
		assert_noop!(empty(None), Error::<Test>::EmptyQuestion);
		assert_noop!(empty(Some(0)), Error::<Test>::EmptyQuestion);
		assert_noop!(campaign_call_by(RuntimeOrigin::none(), question(), None), BadOrigin);
		assert_eq!(NextCampaignId::<Test>::get(), 1);
		check();
	});
}

#[test]
fn try_state_catches_campaign_records_that_disagree() {
	let breaks: [(&str, fn()); 6] = [
		("a stray round", || CampaignRounds::<Test>::insert(0, 3, 1)),
		("a round of no campaign", || CampaignRounds::<Test>::insert(5, 1, 1)),
		("a wrong round count", || {
			Campaigns::<Test>::mutate(0, |c| c.as_mut().unwrap().rounds = 1)
		}),
		("a wrong latest task", || {
			Campaigns::<Test>::mutate(0, |c| c.as_mut().unwrap().latest_task = 0)
		}),
		("a wrong lineage", || {
			Tasks::<Test>::mutate(1, |t| t.as_mut().unwrap().lineage = lineage(0, 2, None))
		}),
		("a campaign id not yet given", || NextCampaignId::<Test>::put(0)),
	];
	for (what, damage) in breaks {
		new_test_ext().execute_with(|| {
			round(ALICE, None);
			close(0);
			round(ALICE, Some(0));
			check();
			damage();
			assert!(DecentralML::do_try_state().is_err(), "{what} passed");
		});
	}
}

#[test]
fn release_slot_forfeits_the_assignment_deposit_and_reopens_the_slot() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		assert_noop!(
			DecentralML::assign_task(RuntimeOrigin::signed(CHARLIE), task_id),
			Error::<Test>::NoSlotsLeft
		);
		let alice = free(ALICE);
		assert_ok!(DecentralML::release_slot(RuntimeOrigin::signed(BOB), sub));
		assert_eq!(
			last_event(),
			Event::SlotReleased {
				task_id,
				submission_id: sub,
				contributor: BOB,
				forfeited: ASSIGNMENT_DEPOSIT
			}
			.into()
		);
		assert_eq!(free(BOB), INITIAL_BALANCE - ASSIGNMENT_DEPOSIT);
		assert_eq!(free(ALICE), alice + ASSIGNMENT_DEPOSIT);
		assert_eq!(held(HoldReason::AssignmentDeposit, BOB), 0);
		assert_eq!(held(HoldReason::StorageDeposit, BOB), 0);
		assert_eq!(held(HoldReason::TaskEscrow, ALICE), REWARD);
		assert_eq!(status(sub), None);
		assert!(!Assignments::<Test>::contains_key(task_id, BOB));
		assert!(!ContributorSubmissions::<Test>::contains_key(BOB, sub));
		assert_eq!(task(task_id).taken_slots, 0);
		// A release is not a time-out in the contributor's record.
		assert_eq!(
			ContributorStats::<Test>::get(BOB),
			ContributorRecord { slots_taken: 1, slots_released: 1, ..Default::default() }
		);
		check();
		// The slot reopens, for another account or the same one.
		let again = assign(CHARLIE, task_id);
		assert_ok!(DecentralML::release_slot(RuntimeOrigin::signed(CHARLIE), again));
		assign(BOB, task_id);
		check();
	});
}

#[test]
fn release_slot_after_the_timeout_counts_as_a_time_out() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 1, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		run_to(1 + RESULT_TIMEOUT);
		assert_ok!(DecentralML::release_slot(RuntimeOrigin::signed(BOB), sub));
		assert_eq!(
			last_event(),
			Event::SlotTimedOut {
				task_id,
				submission_id: sub,
				contributor: BOB,
				forfeited: ASSIGNMENT_DEPOSIT
			}
			.into()
		);
		assert_eq!(
			ContributorStats::<Test>::get(BOB),
			ContributorRecord { slots_taken: 1, slots_timed_out: 1, ..Default::default() }
		);
		assert_eq!(free(BOB), INITIAL_BALANCE - ASSIGNMENT_DEPOSIT);
		check();
	});
}

#[test]
fn release_slot_errors() {
	new_test_ext().execute_with(|| {
		let task_id = create(ALICE, 3, ValidationStrategy::ManualAccept);
		let sub = assign(BOB, task_id);
		let release = |who, id| DecentralML::release_slot(RuntimeOrigin::signed(who), id);
		assert_noop!(release(BOB, 99), Error::<Test>::SubmissionNotFound);
		assert_noop!(release(CHARLIE, sub), Error::<Test>::NotAssignedContributor);
		assert_noop!(release(ALICE, sub), Error::<Test>::NotAssignedContributor);
		assert_noop!(DecentralML::release_slot(RuntimeOrigin::none(), sub), BadOrigin);
		commit(BOB, sub, 1);
		assert_noop!(release(BOB, sub), Error::<Test>::ResultAlreadySent);
		reveal(BOB, sub, 1);
		assert_noop!(release(BOB, sub), Error::<Test>::ResultAlreadySent);
		assert_ok!(DecentralML::accept_task_result(RuntimeOrigin::signed(ALICE), sub));
		assert_noop!(release(BOB, sub), Error::<Test>::ResultAlreadySent);
		check();
	});
}

// ---------------------------------------------------------------------------------
// The v0 -> v1 migration.
// ---------------------------------------------------------------------------------

mod migration {
	use super::*;
	use crate::migrations::{
		v1::{v0, MigrateV0ToV1},
		v2::{v1, MigrateV1ToV2},
	};

	fn old_location(n: u8) -> v0::Location {
		v0::Location {
			storage_type: StorageType::S3,
			path: b"r/x".to_vec().try_into().unwrap(),
			content_hash: [n; 32],
		}
	}

	fn old_submission(
		task_id: TaskId,
		who: u64,
		status: v0::SubmissionStatus,
		n: u8,
	) -> v0::SubmissionOf<Test> {
		let sent =
			!matches!(status, v0::SubmissionStatus::Assigned | v0::SubmissionStatus::Cancelled);
		v0::Submission {
			task_id,
			contributor: who,
			status,
			assigned_at: 1,
			submitted_at: sent.then_some(2),
			result: text(),
			result_location: sent.then(|| old_location(n)),
			rejection_reason: (status == v0::SubmissionStatus::Rejected).then(reason),
		}
	}

	fn old_task(
		status: TaskStatus,
		taken: u32,
		pending: u32,
		accepted: u32,
		subs: u32,
		escrow: u64,
	) -> v0::TaskOf<Test> {
		v0::Task {
			creator: ALICE,
			task_type: TaskType::ModelContributor,
			question: question(),
			pays_amount: REWARD,
			max_assignments: 4,
			expiration_block: EXPIRY,
			validation_strategy: ValidationStrategy::ManualAccept,
			bundle: old_location(7),
			result_public_key: None,
			annotation: None,
			status,
			created_at: 1,
			taken_slots: taken,
			pending,
			accepted,
			submissions: subs,
			escrow,
		}
	}

	fn index(task_id: TaskId, who: u64, sub: SubmissionId) {
		TaskSubmissions::<Test>::insert(task_id, sub, ());
		ContributorSubmissions::<Test>::insert(who, sub, ());
		Assignments::<Test>::insert(task_id, who, sub);
	}

	#[test]
	fn v0_storage_is_migrated_to_v1_and_passes_try_state() {
		new_test_ext().execute_with(|| {
			use v0::SubmissionStatus as S;
			StorageVersion::new(0).put::<DecentralML>();
			// Task 0, open: assigned, pending, accepted, rejected. Escrow for 3 unpaid slots.
			v0::Tasks::<Test>::insert(0, old_task(TaskStatus::Open, 3, 1, 1, 4, 3 * REWARD));
			assert_ok!(Balances::hold(&HoldReason::TaskEscrow.into(), &ALICE, 3 * REWARD));
			for (sub, who, status) in [
				(0, BOB, S::Assigned),
				(1, CHARLIE, S::Pending),
				(2, DAVE, S::Accepted),
				(3, EVE, S::Rejected),
			] {
				v0::Submissions::<Test>::insert(sub, old_submission(0, who, status, sub as u8 + 1));
				index(0, who, sub);
			}
			// Task 1, closed: one accepted, one cancelled.
			v0::Tasks::<Test>::insert(1, old_task(TaskStatus::Closed, 2, 0, 1, 2, 0));
			for (sub, who, status) in [(4, BOB, S::Accepted), (5, CHARLIE, S::Cancelled)] {
				v0::Submissions::<Test>::insert(sub, old_submission(1, who, status, sub as u8 + 1));
				index(1, who, sub);
			}
			for id in [0, 1] {
				TasksByCreator::<Test>::insert(ALICE, id, ());
			}
			OpenTasks::<Test>::insert(0, ());
			NextTaskId::<Test>::put(2);
			NextSubmissionId::<Test>::put(6);
			run_to(50);

			MigrateV0ToV1::<Test>::on_runtime_upgrade();

			assert_eq!(StorageVersion::get::<DecentralML>(), StorageVersion::new(1));
			// As the runtime's migrations do: v1 -> v2 follows in the same upgrade.
			MigrateV1ToV2::<Test>::on_runtime_upgrade();
			assert_eq!(StorageVersion::get::<DecentralML>(), StorageVersion::new(2));
			let open = task(0);
			assert_eq!(
				(open.taken_slots, open.live_submissions, open.pending, open.accepted),
				(3, 3, 1, 1)
			);
			assert_eq!(
				(open.escrow, open.deposit, open.closed_at, open.bundle.size),
				(3 * REWARD, 0, None, 0)
			);
			let closed = task(1);
			assert_eq!((closed.live_submissions, closed.closed_at), (1, Some(50)));
			assert_eq!(status(0), Some(SubmissionStatus::Assigned));
			assert_eq!(status(1), Some(SubmissionStatus::Pending));
			assert_eq!(status(2), Some(SubmissionStatus::Accepted));
			assert_eq!(status(4), Some(SubmissionStatus::Accepted));
			for pruned in [3, 5] {
				assert_eq!(status(pruned), None);
			}
			assert!(!Assignments::<Test>::contains_key(0, EVE));
			assert!(!TaskSubmissions::<Test>::contains_key(1, 5));
			assert!(!ContributorSubmissions::<Test>::contains_key(CHARLIE, 5));
			let s = Submissions::<Test>::get(1).unwrap();
			assert_eq!((s.assignment_deposit, s.storage_deposit, s.commitment), (0, 0, None));
			assert_eq!(s.result_location.unwrap().size, 0);
			assert_eq!(ResultHashes::<Test>::get(0, [2u8; 32]), Some(1));
			check();

			// The migrated records work with the new calls.
			run_to(50 + REVIEW_PERIOD);
			assert_ok!(DecentralML::claim_reward(RuntimeOrigin::signed(EVE), 1));
			assign(EVE, 0);
			run_to(50 + REMOVAL_DELAY);
			assert_ok!(DecentralML::remove_task(RuntimeOrigin::signed(EVE), 1));
			check();

			// Running it again does nothing.
			let weight = MigrateV0ToV1::<Test>::on_runtime_upgrade();
			assert_eq!(weight, <Test as frame_system::Config>::DbWeight::get().reads(1));
		});
	}
	#[test]
	fn v1_storage_is_migrated_to_v2_and_passes_try_state() {
		new_test_ext().execute_with(|| {
			StorageVersion::new(1).put::<DecentralML>();
			let old_task = |status: TaskStatus, escrow: u64| v1::Task {
				creator: ALICE,
				task_type: TaskType::ModelContributor,
				question: question(),
				pays_amount: REWARD,
				max_assignments: 2,
				expiration_block: EXPIRY,
				validation_strategy: ValidationStrategy::ManualAccept,
				bundle: bundle(),
				result_public_key: Some([9u8; 32]),
				annotation: None,
				status,
				created_at: 1,
				closed_at: (status == TaskStatus::Closed).then_some(3),
				taken_slots: 0,
				pending: 0,
				accepted: 0,
				live_submissions: 0,
				escrow,
				deposit: TASK_DEPOSIT,
			};
			v1::Tasks::<Test>::insert(0, old_task(TaskStatus::Open, 2 * REWARD));
			v1::Tasks::<Test>::insert(1, old_task(TaskStatus::Closed, 0));
			OpenTasks::<Test>::insert(0, ());
			for id in [0, 1] {
				TasksByCreator::<Test>::insert(ALICE, id, ());
			}
			NextTaskId::<Test>::put(2);
			assert_ok!(Balances::hold(&HoldReason::TaskEscrow.into(), &ALICE, 2 * REWARD));
			assert_ok!(Balances::hold(
				&HoldReason::StorageDeposit.into(),
				&ALICE,
				2 * TASK_DEPOSIT
			));
			let record = v1::ContributorRecord {
				slots_taken: 4,
				results_revealed: 3,
				results_accepted: 2,
				results_rejected: 1,
				slots_timed_out: 1,
				appeals_won: 1,
			};
			v1::ContributorStats::<Test>::insert(BOB, record);

			let weight = MigrateV1ToV2::<Test>::on_runtime_upgrade();

			assert_eq!(StorageVersion::get::<DecentralML>(), StorageVersion::new(2));
			assert!(!weight.is_zero());
			let open = task(0);
			assert_eq!((open.lineage, open.escrow, open.deposit), (None, 2 * REWARD, TASK_DEPOSIT));
			assert_eq!(open.bundle, bundle());
			let closed = task(1);
			assert_eq!(
				(closed.lineage, closed.status, closed.closed_at),
				(None, TaskStatus::Closed, Some(3))
			);
			assert_eq!(
				ContributorStats::<Test>::get(BOB),
				ContributorRecord {
					slots_taken: 4,
					results_revealed: 3,
					results_accepted: 2,
					results_rejected: 1,
					slots_timed_out: 1,
					appeals_won: 1,
					slots_released: 0,
				}
			);
			check();

			// The migrated records work with the new calls.
			let sub = assign(CHARLIE, 0);
			assert_ok!(DecentralML::release_slot(RuntimeOrigin::signed(CHARLIE), sub));
			assert_ok!(campaign_call(ALICE, None));
			check();

			// Running it again does nothing.
			let weight = MigrateV1ToV2::<Test>::on_runtime_upgrade();
			assert_eq!(weight, <Test as frame_system::Config>::DbWeight::get().reads(1));
		});
	}
}

// ---------------------------------------------------------------------------------
// Money is conserved over random call sequences.
// ---------------------------------------------------------------------------------

mod money_is_conserved {
	//! Random sequences of every call, with ids and signers drawn mostly from the live
	//! state (a submission in the status the call wants, its contributor, the task's
	//! creator) and sometimes from anywhere, with varied rewards, slot counts and
	//! strategies, and now and then a malformed argument. After every step:
	//! - `try_state` holds: holds equal the records, counters and indexes match;
	//! - every index map is exactly the set of entries the records imply, and the
	//!   reputation records equal what the events say happened (`check_records`);
	//! - every account's total balance equals its start plus what the events say it
	//!   received, minus what they say it paid, and no event amount is made up;
	//! - a failed call changed nothing (the storage root is unchanged);
	//! - who may act is enforced: a call by the wrong account fails with the error
	//!   for it, and a call that succeeded was made by an account allowed to.
	//!
	//! Every call's outcome is counted and printed as a table at the end of the run, on
	//! stderr (uncaptured, so a plain `cargo test` shows it). Each call must succeed and
	//! fail with each reachable error at least as often as `COVERAGE` says, and nothing
	//! else may happen (the pallet's defensive errors never do), so a generator that
	//! stops reaching a call fails the test.
	//!
	//! `PROPTEST_CASES` sets the number of sequences (256 by default); the minimums
	//! apply from the default up. Which sequences run is random (proptest's seed); a
	//! default run that falls short of a minimum runs a few more batches first.

	use super::*;
	use frame::deps::{
		sp_io,
		sp_runtime::{ModuleError, StateVersion},
	};
	use proptest::{prelude::*, test_runner::TestRunner};
	use std::{
		cell::RefCell,
		collections::{BTreeMap, BTreeSet},
		io::Write,
	};

	/// Sequences run by a plain `cargo test`.
	const DEFAULT_CASES: u32 = 256;
	/// The longest sequence.
	const SEQUENCE_LEN: usize = 128;
	/// Extra sequences per top-up batch, and the most batches (see the test).
	const TOP_UP: u32 = 32;
	const TOP_UPS: u32 = 4;
	/// A failed call's storage root is compared with the one before it on every
	/// `ROOT_EVERY`th step.
	const ROOT_EVERY: u64 = 8;
	/// Everyone who acts. `PAUPER` has nothing, so whatever needs funds fails for it.
	const PEOPLE: [u64; 7] = [ALICE, BOB, CHARLIE, DAVE, EVE, WHALE, PAUPER];
	/// Who creates tasks: not `WHALE`, because releasing a hold on an account that close
	/// to the largest balance fails in pallet-balances (it checks the release as a
	/// deposit).
	const CREATORS: [u64; 6] = [ALICE, BOB, CHARLIE, DAVE, EVE, PAUPER];

	/// The least a default run must reach: each call's successes (`ok`) and every error
	/// it can return in these sequences, about a third of what a default run counts
	/// (the rarest, about ten a run, at least twice). An outcome not listed fails the run at once, except
	/// `Token(CannotCreate)` when the whale is to be credited (see `run_sequence`).
	const COVERAGE: &[(&str, &[(&str, u64)])] = &[
		(
			"create_task",
			&[
				("ok", 800),
				("InsufficientFunds", 100),
				("EmptyQuestion", 5),
				("ZeroReward", 5),
				("RewardBelowMinimum", 5),
				("ZeroAssignments", 5),
				("TooManyAssignments", 5),
				("ExpirationInPast", 5),
				("ExpirationTooFar", 5),
				("EmptyLocation", 5),
				("Overflow", 5),
			],
		),
		(
			"assign_task",
			&[
				("ok", 1000),
				("TaskNotFound", 20),
				("TaskNotOpen", 20),
				("TaskExpired", 5),
				("CreatorCannotContribute", 200),
				("AlreadyAssigned", 200),
				("NoSlotsLeft", 200),
				("InsufficientFundsForDeposit", 150),
			],
		),
		(
			"commit_task_result",
			&[
				("ok", 800),
				("SubmissionNotFound", 20),
				("NotAssignedContributor", 40),
				("AlreadyCommitted", 5),
				("ResultAlreadySent", 30),
				("TaskExpired", 50),
			],
		),
		(
			"reveal_task_result",
			&[
				("ok", 600),
				("SubmissionNotFound", 20),
				("NotAssignedContributor", 30),
				("NotCommitted", 5),
				("ResultAlreadySent", 30),
				("RevealWindowOver", 150),
				("EmptyResult", 3),
				("EmptyLocation", 3),
				("ZeroSize", 3),
				("CommitmentMismatch", 10),
				("DuplicateResult", 50),
			],
		),
		(
			"accept_task_result",
			&[
				("ok", 100),
				("SubmissionNotFound", 15),
				("NotTaskCreator", 15),
				("TaskNotOpen", 8),
				("ResultNotPending", 20),
			],
		),
		(
			"reject_task_result",
			&[
				("ok", 150),
				("SubmissionNotFound", 5),
				("NotTaskCreator", 5),
				("TaskNotOpen", 2),
				("ResultNotPending", 8),
				("ReviewPeriodOver", 15),
			],
		),
		(
			"close_task",
			&[
				("ok", 400),
				("TaskNotFound", 15),
				("TaskNotOpen", 15),
				("TaskNotExpired", 150),
				("CommitmentsOutstanding", 50),
				("ResultsUnderReview", 2),
			],
		),
		// `ResultsUnderReview` is not listed: a pending result refuses a judged close first.
		(
			"close_judged_task",
			&[
				("ok", 100),
				("TaskNotFound", 7),
				("TaskNotOpen", 10),
				("TaskNotExpired", 75),
				("CommitmentsOutstanding", 16),
				("ResultsPending", 12),
			],
		),
		(
			"time_out_slot",
			&[
				("ok", 30),
				("SubmissionNotFound", 10),
				("ResultAlreadySent", 15),
				("DeadlineNotReached", 100),
			],
		),
		(
			"claim_reward",
			&[
				("ok", 25),
				("SubmissionNotFound", 15),
				("DeadlineNotReached", 80),
				("NothingToClaim", 40),
				// Retrying a payout the receiver (the whale) still cannot take.
				("Token(CannotCreate)", 30),
			],
		),
		(
			"appeal_rejection",
			&[
				("ok", 100),
				("SubmissionNotFound", 10),
				("NotAssignedContributor", 10),
				("NotRejected", 25),
				("AppealPeriodOver", 30),
			],
		),
		(
			"arbitrate",
			&[("ok", 60), ("BadOrigin", 5), ("SubmissionNotFound", 10), ("NotAppealed", 25)],
		),
		(
			"release_rejection",
			&[
				("ok", 20),
				("SubmissionNotFound", 10),
				("NotRejected", 30),
				("DeadlineNotReached", 50),
			],
		),
		(
			"remove_task",
			&[
				("ok", 40),
				("TaskNotFound", 8),
				("TaskNotClosed", 15),
				("RemovalTooEarly", 150),
				("SettlementOutstanding", 2),
			],
		),
		(
			"create_campaign_task",
			&[
				("ok", 110),
				("InsufficientFunds", 18),
				("CampaignNotFound", 6),
				("NotCampaignCreator", 14),
				("PreviousRoundOpen", 55),
			],
		),
		(
			"release_slot",
			&[
				("ok", 80),
				("SubmissionNotFound", 8),
				("NotAssignedContributor", 13),
				("ResultAlreadySent", 16),
			],
		),
	];

	/// Things the sequences must make happen besides each call's outcomes, with the
	/// least a default run must count of each.
	const FACTS: &[(&str, u64)] = &[
		("task created AutoAccept", 150),
		("task created ManualAccept", 200),
		("task created CustomAccept", 200),
		("result accepted on a CustomAccept task", 30),
		("result paid at reveal (AutoAccept)", 120),
		("payout deferred", 20),
		("owed payout retried and paid", 5),
		("task closed by a non-creator after expiry", 20),
		("task closed judged", 100),
		("result paid by close", 20),
		("slot cancelled by close", 60),
		("slot timed out by close", 30),
		("appeal overturned", 25),
		("appeal upheld", 25),
		("rejection of a closed task made final", 5),
		("campaign started", 95),
		("campaign continued", 18),
		// Rare here (a round closed, `RemovalDelay` blocks, removed, then continued):
		// shown, not demanded; `a_removed_previous_round_counts_as_settled_...` proves it.
		("campaign continued after its previous round was removed", 0),
		("slot released", 75),
		("slot released after its timeout: a time-out", 5),
	];

	/// Which id a call gets: one of the stored ids in the state the call wants (`Live`;
	/// see `choose` and `lead_up`), any stored id (`Any`), or a small number, often the
	/// id of nothing (`Raw`).
	#[derive(Clone, Copy, Debug)]
	enum Target {
		Live(u8),
		Any(u8),
		Raw(u8),
	}

	#[derive(Clone, Copy, Debug)]
	enum CreateFlaw {
		EmptyQuestion,
		ZeroReward,
		BelowMinimum,
		ZeroSlots,
		TooManySlots,
		ExpiryNow,
		ExpiryTooFar,
		EmptyBundle,
		Overflow,
	}

	#[derive(Clone, Copy, Debug)]
	enum RevealFlaw {
		/// Reveal content other than (or, by chance, the same as) what was committed.
		Content(u8),
		EmptyResult,
		EmptyPath,
		ZeroSize,
	}

	#[derive(Clone, Debug)]
	enum Action {
		Create {
			creator: u8,
			reward: u64,
			slots: u32,
			strategy: u8,
			duration: u64,
			flaw: Option<CreateFlaw>,
		},
		Assign {
			task: Target,
			who: u8,
		},
		Commit {
			sub: Target,
			by: Option<u8>,
			content: u8,
		},
		Reveal {
			sub: Target,
			by: Option<u8>,
			flaw: Option<RevealFlaw>,
		},
		Accept {
			sub: Target,
			by: Option<u8>,
		},
		Reject {
			sub: Target,
			by: Option<u8>,
		},
		/// `close_task`, or `close_judged_task` when `judged`.
		Close {
			task: Target,
			by: Option<u8>,
			judged: bool,
		},
		TimeOut {
			sub: Target,
			who: u8,
		},
		Claim {
			sub: Target,
			who: u8,
		},
		Appeal {
			sub: Target,
			by: Option<u8>,
		},
		Arbitrate {
			sub: Target,
			overturn: bool,
			signed: Option<u8>,
		},
		Release {
			sub: Target,
			who: u8,
		},
		Remove {
			task: Target,
			who: u8,
		},
		/// A new campaign (`campaign` none) by `creator`'s person, or the next round of
		/// the campaign `campaign` picks, signed by its creator unless `by` says who.
		Campaign {
			creator: u8,
			campaign: Option<Target>,
			by: Option<u8>,
		},
		ReleaseSlot {
			sub: Target,
			by: Option<u8>,
		},
		WhaleSpends {
			to: u8,
			amount: u64,
		},
		Advance {
			blocks: u64,
		},
	}

	fn target() -> impl Strategy<Value = Target> {
		prop_oneof![
			26 => any::<u8>().prop_map(Target::Live),
			3 => any::<u8>().prop_map(Target::Any),
			1 => (0u8..48).prop_map(Target::Raw),
		]
	}

	/// Mostly the account allowed to act (`None`), sometimes anyone.
	fn signer() -> impl Strategy<Value = Option<u8>> {
		prop_oneof![6 => Just(None), 1 => any::<u8>().prop_map(Some)]
	}

	/// AutoAccept (0) pays at the reveal; the others leave results to decide.
	fn strategy() -> impl Strategy<Value = u8> {
		prop_oneof![1 => Just(0u8), 2 => Just(1u8), 2 => Just(2u8)]
	}

	fn create_flaw() -> impl Strategy<Value = Option<CreateFlaw>> {
		use CreateFlaw::*;
		let flaws = [
			EmptyQuestion,
			ZeroReward,
			BelowMinimum,
			ZeroSlots,
			TooManySlots,
			ExpiryNow,
			ExpiryTooFar,
			EmptyBundle,
			Overflow,
		];
		prop_oneof![
			6 => Just(None),
			1 => proptest::sample::select(flaws.to_vec()).prop_map(Some),
		]
	}

	fn reveal_flaw() -> impl Strategy<Value = Option<RevealFlaw>> {
		prop_oneof![
			24 => Just(None),
			3 => (0u8..CONTENTS).prop_map(|n| Some(RevealFlaw::Content(n))),
			1 => Just(Some(RevealFlaw::EmptyResult)),
			1 => Just(Some(RevealFlaw::EmptyPath)),
			1 => Just(Some(RevealFlaw::ZeroSize)),
		]
	}

	/// Distinct result contents; few enough that two contributors to a task sometimes
	/// send the same one.
	const CONTENTS: u8 = 12;

	fn action() -> impl Strategy<Value = Action> {
		let reward = prop_oneof![
			8 => EXISTENTIAL_DEPOSIT..=1_000,
			1 => 1_000u64..=400_000,
		];
		let slots = prop_oneof![6 => 1u32..=4, 1 => 5..=MAX_ASSIGNMENTS];
		// Many tasks expire while results are in flight.
		let duration = prop_oneof![2 => 1u64..12, 2 => 12u64..60, 1 => 60u64..=MAX_TASK_DURATION];
		prop_oneof![
			3 => (any::<u8>(), reward, slots, strategy(), duration, create_flaw()).prop_map(
				|(creator, reward, slots, strategy, duration, flaw)| Action::Create {
					creator,
					reward,
					slots,
					strategy,
					duration,
					flaw
				}
			),
			5 => (target(), any::<u8>()).prop_map(|(task, who)| Action::Assign { task, who }),
			4 => (target(), signer(), 0u8..CONTENTS)
				.prop_map(|(sub, by, content)| Action::Commit { sub, by, content }),
			4 => (target(), signer(), reveal_flaw())
				.prop_map(|(sub, by, flaw)| Action::Reveal { sub, by, flaw }),
			3 => (target(), signer()).prop_map(|(sub, by)| Action::Accept { sub, by }),
			1 => (target(), signer()).prop_map(|(sub, by)| Action::Reject { sub, by }),
			5 => (
				target(),
				prop_oneof![1 => Just(None), 1 => any::<u8>().prop_map(Some)],
				prop_oneof![3 => Just(false), 2 => Just(true)],
			)
				.prop_map(|(task, by, judged)| Action::Close { task, by, judged }),
			2 => (target(), any::<u8>()).prop_map(|(sub, who)| Action::TimeOut { sub, who }),
			3 => (target(), any::<u8>()).prop_map(|(sub, who)| Action::Claim { sub, who }),
			2 => (target(), signer()).prop_map(|(sub, by)| Action::Appeal { sub, by }),
			2 => (target(), any::<bool>(), proptest::option::weighted(0.1, any::<u8>()))
				.prop_map(|(sub, overturn, signed)| Action::Arbitrate { sub, overturn, signed }),
			2 => (target(), any::<u8>()).prop_map(|(sub, who)| Action::Release { sub, who }),
			2 => (target(), any::<u8>()).prop_map(|(task, who)| Action::Remove { task, who }),
			2 => (any::<u8>(), proptest::option::weighted(0.7, target()), signer())
				.prop_map(|(creator, campaign, by)| Action::Campaign { creator, campaign, by }),
			2 => (target(), signer()).prop_map(|(sub, by)| Action::ReleaseSlot { sub, by }),
			2 => (any::<u8>(), 1u64..=1_000)
				.prop_map(|(to, amount)| Action::WhaleSpends { to, amount }),
			4 => prop_oneof![3 => 1u64..4, 1 => 4u64..30]
				.prop_map(|blocks| Action::Advance { blocks }),
		]
	}

	fn person(p: u8) -> u64 {
		PEOPLE[p as usize % PEOPLE.len()]
	}

	/// `by`'s person, or `allowed` (the account allowed to act) when `by` is `None`.
	fn signer_for(allowed: Option<u64>, by: Option<u8>) -> u64 {
		match by {
			Some(p) => person(p),
			None => allowed.unwrap_or(ALICE),
		}
	}

	/// The id `target` picks: a `Live` one comes from the first non-empty tier (mostly
	/// the records ready for the call, a quarter of the time those merely in the
	/// state the call wants), else from all stored ids.
	fn choose(target: Target, ready: &[u64], wanted: &[u64], all: &[u64]) -> u64 {
		let from = |ids: &[u64], n: u8| ids.get(n as usize % ids.len().max(1)).copied();
		match target {
			Target::Live(n) if n < 192 => {
				from(ready, n).or_else(|| from(wanted, n)).or_else(|| from(all, n))
			},
			Target::Live(n) => from(wanted, n).or_else(|| from(all, n)),
			Target::Any(n) => from(all, n),
			Target::Raw(n) => Some(n as u64),
		}
		.unwrap_or(u64::MAX)
	}

	/// A task id for `target`: `ready` ones first, then those in `wanted` state.
	fn pick_task(
		target: Target,
		wanted: impl Fn(&TaskOf<Test>) -> bool,
		ready: impl Fn(&TaskOf<Test>) -> bool,
	) -> TaskId {
		let mut all: Vec<_> = Tasks::<Test>::iter().collect();
		all.sort_by_key(|(id, _)| *id);
		let tier = |f: &dyn Fn(&TaskOf<Test>) -> bool| -> Vec<_> {
			all.iter().filter(|(_, t)| f(t)).map(|(id, _)| *id).collect()
		};
		let (live, ready) = (tier(&wanted), tier(&|t| wanted(t) && ready(t)));
		let all: Vec<_> = all.iter().map(|(id, _)| *id).collect();
		choose(target, &ready, &live, &all)
	}

	/// A submission id for `target`: `ready` ones in `statuses` first, then any in them.
	fn pick_sub(
		target: Target,
		statuses: &[SubmissionStatus],
		ready: impl Fn(&SubmissionOf<Test>) -> bool,
	) -> SubmissionId {
		let mut all: Vec<_> = Submissions::<Test>::iter().collect();
		all.sort_by_key(|(id, _)| *id);
		let tier = |f: &dyn Fn(&SubmissionOf<Test>) -> bool| -> Vec<_> {
			all.iter().filter(|(_, s)| f(s)).map(|(id, _)| *id).collect()
		};
		let live = tier(&|s| statuses.contains(&s.status));
		let ready = tier(&|s| statuses.contains(&s.status) && ready(s));
		let all: Vec<_> = all.iter().map(|(id, _)| *id).collect();
		choose(target, &ready, &live, &all)
	}

	/// A campaign id for `target`: those whose latest round is settled first.
	fn pick_campaign(target: Target) -> CampaignId {
		let mut all: Vec<_> = Campaigns::<Test>::iter().collect();
		all.sort_by_key(|(id, _)| *id);
		let ready: Vec<_> = all
			.iter()
			.filter(|(_, c)| {
				Tasks::<Test>::get(c.latest_task).is_none_or(|t| t.status != TaskStatus::Open)
			})
			.map(|(id, _)| *id)
			.collect();
		let all: Vec<_> = all.iter().map(|(id, _)| *id).collect();
		choose(target, &ready, &all, &all)
	}

	fn contributor_of(sub: SubmissionId) -> Option<u64> {
		Submissions::<Test>::get(sub).map(|s| s.contributor)
	}

	fn whale_in_task(task_id: TaskId) -> bool {
		TaskSubmissions::<Test>::iter_key_prefix(task_id)
			.any(|id| contributor_of(id) == Some(WHALE))
	}

	fn task_of(sub: SubmissionId) -> Option<TaskOf<Test>> {
		Submissions::<Test>::get(sub).and_then(|s| Tasks::<Test>::get(s.task_id))
	}

	fn err(e: Error<Test>) -> DispatchResult {
		Err(e.into())
	}

	fn outcome(result: &DispatchResult) -> String {
		match result {
			Ok(()) => "ok".into(),
			Err(DispatchError::Module(ModuleError { message: Some(name), .. })) => (*name).into(),
			Err(e) => format!("{e:?}"),
		}
	}

	/// What each honest commit committed to, so the reveal can match it.
	type Commitments = BTreeMap<SubmissionId, u8>;

	/// What the run reached: each call's outcomes, facts, and the rewards and slot
	/// counts of the tasks created.
	#[derive(Default)]
	struct Tally {
		outcomes: BTreeMap<&'static str, BTreeMap<String, u64>>,
		facts: BTreeMap<&'static str, u64>,
		rewards: BTreeSet<u64>,
		slots: BTreeSet<u32>,
		sequences: u64,
		steps: u64,
	}

	impl Tally {
		fn fact(&mut self, fact: &'static str) {
			*self.facts.entry(fact).or_default() += 1;
		}

		fn table(&self) -> String {
			let mut out = format!(
				"\nmoney_is_conserved: {} sequences, {} steps; {} distinct rewards ({}..={}), \
				 slot counts {:?}\n{:<20} {:>6}  failures by error\n",
				self.sequences,
				self.steps,
				self.rewards.len(),
				self.rewards.first().copied().unwrap_or(0),
				self.rewards.last().copied().unwrap_or(0),
				self.slots,
				"call",
				"ok",
			);
			for (call, _) in COVERAGE {
				let counts = self.outcomes.get(call).cloned().unwrap_or_default();
				let failures: Vec<_> = counts
					.iter()
					.filter(|(o, _)| o.as_str() != "ok")
					.map(|(o, n)| format!("{o} {n}"))
					.collect();
				out += &format!(
					"{call:<20} {:>6}  {}\n",
					counts.get("ok").copied().unwrap_or(0),
					failures.join(", ")
				);
			}
			for (fact, _) in FACTS {
				out += &format!("{:>27}  {fact}\n", self.facts.get(fact).copied().unwrap_or(0));
			}
			out
		}

		/// Everything a default run reached less often than it must.
		fn shortfalls(&self) -> Vec<String> {
			let mut short = Vec::new();
			for (call, wanted) in COVERAGE {
				for (outcome, least) in *wanted {
					let got = self.outcomes.get(call).and_then(|o| o.get(*outcome)).copied();
					if got.unwrap_or(0) < *least {
						short.push(format!("{call} {outcome}: {} < {least}", got.unwrap_or(0)));
					}
				}
			}
			for (fact, least) in FACTS {
				let got = self.facts.get(fact).copied().unwrap_or(0);
				if got < *least {
					short.push(format!("{fact}: {got} < {least}"));
				}
			}
			if self.rewards.len() < 100 {
				short.push(format!("only {} distinct rewards", self.rewards.len()));
			}
			if self.slots.len() < MAX_ASSIGNMENTS as usize {
				short.push(format!("slot counts {:?}, not 1..={MAX_ASSIGNMENTS}", self.slots));
			}
			short
		}
	}

	/// A call aimed at a live record in a state that no record is in yet does the step
	/// that leads there instead (an accept with nothing pending reveals a committed
	/// result, or commits to an assigned slot, or takes a slot, or creates a task), so
	/// that sequences spend their steps on calls that can succeed. A close by anyone but
	/// the creator may first wait (the chain advances) until a task whose result will
	/// still be under review expires.
	fn lead_up(action: Action) -> Action {
		use SubmissionStatus::*;
		let any_sub = |statuses: &[SubmissionStatus]| {
			Submissions::<Test>::iter_values().any(|s| statuses.contains(&s.status))
		};
		let any_task =
			|f: &dyn Fn(&TaskOf<Test>) -> bool| Tasks::<Test>::iter_values().any(|t| f(&t));
		let now = System::block_number();
		let create = |n: u8| Action::Create {
			creator: n,
			reward: EXISTENTIAL_DEPOSIT + 7 * n as u64,
			slots: 1 + n as u32 % 4,
			strategy: n % 3,
			duration: 10 + n as u64 % 50,
			flaw: None,
		};
		let assign = |n: u8| Action::Assign { task: Target::Live(n), who: n };
		let commit =
			|n: u8| Action::Commit { sub: Target::Live(n), by: None, content: n % CONTENTS };
		let reveal = |n: u8| Action::Reveal { sub: Target::Live(n), by: None, flaw: None };
		let reject = |n: u8| Action::Reject { sub: Target::Live(n), by: None };
		let mut action = action;
		// Each step back is one state earlier, so this ends within six steps.
		loop {
			let next = match action {
				Action::Assign { task: Target::Live(n), .. }
					if !any_task(&|t| t.status == TaskStatus::Open && now < t.expiration_block) =>
				{
					create(n)
				},
				Action::Close { task: Target::Live(n), .. }
					if !any_task(&|t| t.status == TaskStatus::Open) =>
				{
					create(n)
				},
				// Anyone may close once the task expires: wait until the expiry of a task
				// whose result will still be under review then, if there is one, and try
				// (a paying close; a judged one refuses any pending result).
				Action::Close { task: Target::Live(_), by: Some(_), judged: false }
					if !Submissions::<Test>::iter_values().any(|s| {
						let t = task(s.task_id);
						s.status == Pending
							&& t.status == TaskStatus::Open
							&& now >= t.expiration_block
							&& s.submitted_at.is_some_and(|at| now < at + REVIEW_PERIOD)
					}) =>
				{
					let expiry = Submissions::<Test>::iter_values()
						.filter(|s| s.status == Pending)
						.filter_map(|s| {
							let expiry = task(s.task_id).expiration_block;
							let review_end = s.submitted_at? + REVIEW_PERIOD;
							(now < expiry && expiry < review_end).then_some(expiry)
						})
						.min();
					if let Some(expiry) = expiry {
						System::set_block_number(expiry);
					}
					return action;
				},
				Action::Commit { sub: Target::Live(n), .. }
				| Action::TimeOut { sub: Target::Live(n), .. }
				| Action::ReleaseSlot { sub: Target::Live(n), .. }
					if !any_sub(&[Assigned]) =>
				{
					assign(n)
				},
				Action::Reveal { sub: Target::Live(n), .. } if !any_sub(&[Committed]) => commit(n),
				Action::Accept { sub: Target::Live(n), .. }
				| Action::Reject { sub: Target::Live(n), .. }
					if !any_sub(&[Pending]) =>
				{
					reveal(n)
				},
				Action::Claim { sub: Target::Live(n), .. } if !any_sub(&[Pending, PayoutOwed]) => {
					reveal(n)
				},
				Action::Appeal { sub: Target::Live(n), .. }
				| Action::Release { sub: Target::Live(n), .. }
					if !any_sub(&[Rejected]) =>
				{
					reject(n)
				},
				Action::Arbitrate { sub: Target::Live(n), .. } if !any_sub(&[Appealed]) => {
					Action::Appeal { sub: Target::Live(n), by: None }
				},
				Action::Remove { task: Target::Live(n), .. }
					if !any_task(&|t| t.status == TaskStatus::Closed) =>
				{
					Action::Close { task: Target::Live(n), by: None, judged: false }
				},
				Action::Campaign { creator, campaign: Some(Target::Live(_)), by }
					if Campaigns::<Test>::iter_keys().next().is_none() =>
				{
					Action::Campaign { creator, campaign: None, by }
				},
				_ => return action,
			};
			action = next;
		}
	}

	/// Runs one action; returns the call it made and its result (`None` for the steps
	/// that are not calls of the pallet). Asserts who may act, and what a success did.
	fn apply(
		action: &Action,
		committed: &mut Commitments,
		tally: &mut Tally,
	) -> Option<(&'static str, DispatchResult, bool)> {
		use SubmissionStatus::*;
		let signed = RuntimeOrigin::signed;
		let now = System::block_number();
		// Whether the whale would receive something from this call.
		let mut whale = false;
		let step = match action.clone() {
			Action::Create { creator, reward, slots, strategy, duration, flaw } => {
				use CreateFlaw::*;
				let creator = CREATORS[creator as usize % CREATORS.len()];
				let strategy = [
					ValidationStrategy::AutoAccept,
					ValidationStrategy::ManualAccept,
					ValidationStrategy::CustomAccept,
				][strategy as usize];
				let mut question = question();
				let mut bundle = bundle();
				let (mut reward, mut slots, mut expiry) = (reward, slots, now + duration);
				match flaw {
					None => {},
					Some(EmptyQuestion) => question = Default::default(),
					Some(ZeroReward) => reward = 0,
					Some(BelowMinimum) => reward = EXISTENTIAL_DEPOSIT - 1,
					Some(ZeroSlots) => slots = 0,
					Some(TooManySlots) => slots = MAX_ASSIGNMENTS + 1,
					Some(ExpiryNow) => expiry = now,
					Some(ExpiryTooFar) => expiry = now + MAX_TASK_DURATION + 1,
					Some(EmptyBundle) => bundle.path = Default::default(),
					Some(Overflow) => (reward, slots) = (u64::MAX / 2, slots.max(3)),
				}
				let id = NextTaskId::<Test>::get();
				let result = DecentralML::create_task(
					signed(creator),
					TaskType::ModelContributor,
					question,
					reward,
					slots,
					expiry,
					strategy,
					bundle,
					None,
					None,
				);
				if result.is_ok() {
					let t = task(id);
					assert_eq!(
						(t.creator, t.pays_amount, t.max_assignments),
						(creator, reward, slots)
					);
					tally.rewards.insert(reward);
					tally.slots.insert(slots);
					tally.fact(match strategy {
						ValidationStrategy::AutoAccept => "task created AutoAccept",
						ValidationStrategy::ManualAccept => "task created ManualAccept",
						ValidationStrategy::CustomAccept => "task created CustomAccept",
					});
				}
				("create_task", result)
			},
			Action::Assign { task: target, who } => {
				let id = pick_task(
					target,
					|t| t.status == TaskStatus::Open && now < t.expiration_block,
					|t| t.taken_slots < t.max_assignments,
				);
				let who = person(who);
				let before = Tasks::<Test>::get(id);
				let sub = NextSubmissionId::<Test>::get();
				let result = DecentralML::assign_task(signed(who), id);
				if let Some(t) = &before {
					if t.creator == who && t.status == TaskStatus::Open && now < t.expiration_block
					{
						assert_eq!(result, err(Error::CreatorCannotContribute));
					}
				}
				if result.is_ok() {
					let s = Submissions::<Test>::get(sub).expect("the new submission");
					assert_eq!((s.task_id, s.contributor, s.status), (id, who, Assigned));
				}
				("assign_task", result)
			},
			Action::Commit { sub: target, by, content } => {
				let id = pick_sub(target, &[Assigned], |s| now < task(s.task_id).expiration_block);
				whale = contributor_of(id) == Some(WHALE);
				let allowed = contributor_of(id);
				let who = signer_for(allowed, by);
				let result =
					DecentralML::commit_task_result(signed(who), id, commitment(who, id, content));
				if allowed.is_some_and(|c| c != who) {
					assert_eq!(result, err(Error::NotAssignedContributor));
				}
				if result.is_ok() {
					assert_eq!(status(id), Some(Committed));
					committed.insert(id, content);
				}
				("commit_task_result", result)
			},
			Action::Reveal { sub: target, by, flaw } => {
				let id = pick_sub(target, &[Committed], |s| {
					s.committed_at.is_some_and(|at| now <= at + REVEAL_WINDOW)
				});
				whale = contributor_of(id) == Some(WHALE);
				let allowed = contributor_of(id);
				let who = signer_for(allowed, by);
				let n = committed.get(&id).copied().unwrap_or(0);
				let (result_text, location) = match flaw {
					None => (text(), Some(location(n))),
					Some(RevealFlaw::Content(other)) => (text(), Some(location(other))),
					Some(RevealFlaw::EmptyResult) => (Default::default(), None),
					Some(RevealFlaw::EmptyPath) => {
						(text(), Some(Location { path: Default::default(), ..location(n) }))
					},
					Some(RevealFlaw::ZeroSize) => {
						(text(), Some(Location { size: 0, ..location(n) }))
					},
				};
				let auto = task_of(id)
					.is_some_and(|t| t.validation_strategy == ValidationStrategy::AutoAccept);
				let result = DecentralML::reveal_task_result(
					signed(who),
					id,
					result_text,
					location,
					salt(n),
				);
				if allowed.is_some_and(|c| c != who) {
					assert_eq!(result, err(Error::NotAssignedContributor));
				}
				if result.is_ok() {
					if auto {
						assert!(matches!(status(id), Some(Accepted | PayoutOwed)));
						if status(id) == Some(Accepted) {
							tally.fact("result paid at reveal (AutoAccept)");
						}
					} else {
						assert_eq!(status(id), Some(Pending));
					}
				}
				("reveal_task_result", result)
			},
			Action::Accept { sub: target, by } => {
				let id = pick_sub(target, &[Pending], |_| true);
				whale = contributor_of(id) == Some(WHALE);
				let before = task_of(id);
				let who = signer_for(before.as_ref().map(|t| t.creator), by);
				let result = DecentralML::accept_task_result(signed(who), id);
				if before.as_ref().is_some_and(|t| t.creator != who) {
					assert_eq!(result, err(Error::NotTaskCreator));
				}
				if result.is_ok() {
					assert!(matches!(status(id), Some(Accepted | PayoutOwed)));
					let strategy = before.expect("a decided task").validation_strategy;
					if strategy == ValidationStrategy::CustomAccept {
						tally.fact("result accepted on a CustomAccept task");
					}
				}
				("accept_task_result", result)
			},
			Action::Reject { sub: target, by } => {
				let id = pick_sub(target, &[Pending], |s| {
					s.submitted_at.is_some_and(|at| now < at + REVIEW_PERIOD)
				});
				whale = contributor_of(id) == Some(WHALE);
				let before = task_of(id);
				let who = signer_for(before.as_ref().map(|t| t.creator), by);
				let result = DecentralML::reject_task_result(signed(who), id, reason());
				if before.as_ref().is_some_and(|t| t.creator != who) {
					assert_eq!(result, err(Error::NotTaskCreator));
				}
				if result.is_ok() {
					assert_eq!(status(id), Some(Rejected));
				}
				("reject_task_result", result)
			},
			Action::Close { task: target, by, judged } => {
				// Anyone but the creator mostly tries the expired ones with results (without,
				// for a judged close, which any pending result refuses).
				let id = pick_task(
					target,
					|t| t.status == TaskStatus::Open,
					|t| {
						by.is_none()
							|| (now >= t.expiration_block && (t.pending > 0) != judged)
					},
				);
				whale = whale_in_task(id);
				let before = Tasks::<Test>::get(id);
				let who = signer_for(before.as_ref().map(|t| t.creator), by);
				let (call, result) = if judged {
					("close_judged_task", DecentralML::close_judged_task(signed(who), id))
				} else {
					("close_task", DecentralML::close_task(signed(who), id))
				};
				let result = result.map(|_| ()).map_err(|e| e.error);
				if let Some(t) = &before {
					let early = now < t.expiration_block;
					if t.status == TaskStatus::Open && t.creator != who && early {
						assert_eq!(result, err(Error::TaskNotExpired));
					}
					if judged && t.pending > 0 {
						assert!(result.is_err(), "a judged close passed over a pending result");
					}
					if result.is_ok() {
						assert_eq!(task(id).status, TaskStatus::Closed);
						if t.creator != who {
							assert!(!early, "a non-creator closed an unexpired task");
							tally.fact("task closed by a non-creator after expiry");
						}
						if judged {
							let paid = System::events().iter().any(|r| {
								matches!(
									r.event,
									RuntimeEvent::DecentralML(
										Event::ResultAccepted { .. }
											| Event::PayoutDeferred { .. }
									)
								)
							});
							assert!(!paid, "a judged close paid a result");
							tally.fact("task closed judged");
						}
					}
				}
				(call, result)
			},
			Action::TimeOut { sub: target, who } => {
				let id = pick_sub(target, &[Assigned, Committed], |s| match s.committed_at {
					None => now >= s.assigned_at + RESULT_TIMEOUT,
					Some(at) => now > at + REVEAL_WINDOW,
				});
				whale = contributor_of(id) == Some(WHALE);
				let result = DecentralML::time_out_slot(signed(person(who)), id);
				if result.is_ok() {
					assert_eq!(status(id), None);
				}
				("time_out_slot", result)
			},
			Action::Claim { sub: target, who } => {
				// Ready: a result past its review, or an owed one its receiver can take.
				let id = pick_sub(target, &[Pending, PayoutOwed], |s| match s.status {
					PayoutOwed => {
						u64::MAX - Balances::total_balance(&s.contributor)
							>= task(s.task_id).pays_amount
					},
					_ => s.submitted_at.is_some_and(|at| now >= at + REVIEW_PERIOD),
				});
				whale = contributor_of(id) == Some(WHALE);
				let was = status(id);
				let result = DecentralML::claim_reward(signed(person(who)), id);
				if result.is_ok() {
					match was {
						Some(PayoutOwed) => {
							assert_eq!(status(id), Some(Accepted));
							tally.fact("owed payout retried and paid");
						},
						_ => assert!(matches!(status(id), Some(Accepted | PayoutOwed))),
					}
				}
				("claim_reward", result)
			},
			Action::Appeal { sub: target, by } => {
				let id = pick_sub(target, &[Rejected], |s| {
					s.rejected_at.is_some_and(|at| now < at + APPEAL_PERIOD)
				});
				whale = contributor_of(id) == Some(WHALE);
				let allowed = contributor_of(id);
				let who = signer_for(allowed, by);
				let result = DecentralML::appeal_rejection(signed(who), id);
				if allowed.is_some_and(|c| c != who) {
					assert_eq!(result, err(Error::NotAssignedContributor));
				}
				if result.is_ok() {
					assert_eq!(status(id), Some(Appealed));
				}
				("appeal_rejection", result)
			},
			Action::Arbitrate { sub: target, overturn, signed: by } => {
				let id = pick_sub(target, &[Appealed], |_| true);
				whale = contributor_of(id) == Some(WHALE);
				let origin = by.map(|p| signed(person(p))).unwrap_or_else(RuntimeOrigin::root);
				let result = DecentralML::arbitrate(origin, id, overturn);
				if by.is_some() {
					assert_eq!(result, Err(BadOrigin.into()));
				}
				if result.is_ok() {
					if overturn {
						assert!(matches!(status(id), Some(Accepted | PayoutOwed)));
						tally.fact("appeal overturned");
					} else {
						assert_eq!(status(id), None);
						tally.fact("appeal upheld");
					}
				}
				("arbitrate", result)
			},
			Action::Release { sub: target, who } => {
				let id = pick_sub(target, &[Rejected], |s| {
					s.rejected_at.is_some_and(|at| now >= at + APPEAL_PERIOD)
				});
				whale = contributor_of(id) == Some(WHALE);
				let closed = task_of(id).is_some_and(|t| t.status == TaskStatus::Closed);
				let result = DecentralML::release_rejection(signed(person(who)), id);
				if result.is_ok() {
					assert_eq!(status(id), None);
					if closed {
						tally.fact("rejection of a closed task made final");
					}
				}
				("release_rejection", result)
			},
			Action::Remove { task: target, who } => {
				let id = pick_task(
					target,
					|t| t.status == TaskStatus::Closed,
					|t| t.closed_at.is_some_and(|at| now >= at + REMOVAL_DELAY),
				);
				whale = whale_in_task(id);
				let result = DecentralML::remove_task(signed(person(who)), id)
					.map(|_| ())
					.map_err(|e| e.error);
				if result.is_ok() {
					assert!(!Tasks::<Test>::contains_key(id));
					assert_eq!(TaskSubmissions::<Test>::iter_key_prefix(id).count(), 0);
				}
				("remove_task", result)
			},
			Action::Campaign { creator: n, campaign, by } => {
				let before = campaign.map(|target| {
					let id = pick_campaign(target);
					(id, Campaigns::<Test>::get(id))
				});
				let who = match &before {
					None => CREATORS[n as usize % CREATORS.len()],
					Some((_, c)) => signer_for(c.as_ref().map(|c| c.creator.clone()), by),
				};
				let task_id = NextTaskId::<Test>::get();
				let result = DecentralML::create_campaign_task(
					signed(who),
					TaskType::ModelContributor,
					question(),
					EXISTENTIAL_DEPOSIT + 7 * n as u64,
					1 + n as u32 % 4,
					now + 10 + n as u64 % 50,
					[
						ValidationStrategy::AutoAccept,
						ValidationStrategy::ManualAccept,
						ValidationStrategy::CustomAccept,
					][n as usize % 3],
					bundle(),
					None,
					None,
					before.as_ref().map(|(id, _)| *id),
				);
				if let Some((_, Some(c))) = &before {
					if c.creator != who {
						assert_eq!(result, err(Error::NotCampaignCreator));
					}
				}
				if result.is_ok() {
					let lineage = task(task_id).lineage.expect("a campaign round's lineage");
					let now_campaign = Campaigns::<Test>::get(lineage.campaign).expect("stored");
					assert_eq!(
						(now_campaign.creator, now_campaign.rounds, now_campaign.latest_task),
						(who, lineage.round, task_id)
					);
					match &before {
						None => {
							assert_eq!((lineage.round, lineage.continues), (1, None));
							tally.fact("campaign started");
						},
						Some((id, c)) => {
							let c = c.as_ref().expect("a campaign that was stored");
							assert_eq!(lineage.campaign, *id);
							assert_eq!(
								(lineage.round, lineage.continues),
								(c.rounds + 1, Some(c.latest_task))
							);
							tally.fact("campaign continued");
							if !Tasks::<Test>::contains_key(c.latest_task) {
								tally.fact(
									"campaign continued after its previous round was removed",
								);
							}
						},
					}
				}
				("create_campaign_task", result)
			},
			Action::ReleaseSlot { sub: target, by } => {
				let id = pick_sub(target, &[Assigned], |s| now < s.assigned_at + RESULT_TIMEOUT);
				whale = contributor_of(id) == Some(WHALE);
				let allowed = contributor_of(id);
				let who = signer_for(allowed, by);
				let timed_out = Submissions::<Test>::get(id)
					.is_some_and(|s| s.status == Assigned && now >= s.assigned_at + RESULT_TIMEOUT);
				let result = DecentralML::release_slot(signed(who), id);
				if allowed.is_some_and(|c| c != who) {
					assert_eq!(result, err(Error::NotAssignedContributor));
				}
				if result.is_ok() {
					assert_eq!(status(id), None);
					tally.fact(if timed_out {
						"slot released after its timeout: a time-out"
					} else {
						"slot released"
					});
				}
				("release_slot", result)
			},
			Action::WhaleSpends { to, amount } => {
				let to = ACCOUNTS[to as usize % ACCOUNTS.len()];
				let _ = Balances::transfer(&WHALE, &to, amount, Preservation::Preserve);
				return None;
			},
			Action::Advance { blocks } => {
				System::set_block_number(now + blocks);
				return None;
			},
		};
		Some((step.0, step.1, whale))
	}

	/// The balances and reputation records the events imply.
	#[derive(Default)]
	struct Model {
		balance: BTreeMap<u64, u128>,
		creator: BTreeMap<u64, CreatorRecord<u64>>,
		contributor: BTreeMap<u64, ContributorRecord>,
	}

	impl Model {
		fn new() -> Self {
			let balance =
				PEOPLE.iter().map(|who| (*who, Balances::total_balance(who) as u128)).collect();
			Model { balance, ..Default::default() }
		}

		fn credit(&mut self, who: u64, amount: u64) {
			*self.balance.get_mut(&who).expect("a known account") += amount as u128;
		}

		fn debit(&mut self, who: u64, amount: u64) {
			*self.balance.get_mut(&who).expect("a known account") -= amount as u128;
		}

		/// Book what the step's events say moved between accounts and what they add to
		/// each account's record; check every amount against the task it came from.
		fn follow_events(&mut self, tally: &mut Tally) {
			for record in System::events() {
				let event = match record.event {
					RuntimeEvent::Balances(pallet_balances::Event::Transfer {
						from,
						to,
						amount,
					}) => {
						assert_eq!(from, WHALE, "only the whale transfers");
						self.debit(from, amount);
						self.credit(to, amount);
						continue;
					},
					RuntimeEvent::DecentralML(event) => event,
					_ => continue,
				};
				match event {
					Event::TaskCreated {
						task_id,
						creator,
						pays_amount,
						max_assignments,
						escrow,
					} => {
						assert_eq!(escrow, pays_amount * max_assignments as u64);
						assert_eq!(task(task_id).escrow, escrow);
						self.creator.entry(creator).or_default().tasks_created += 1;
					},
					Event::TaskAssigned { contributor, .. } => {
						self.contributor.entry(contributor).or_default().slots_taken += 1;
					},
					Event::ResultRevealed { contributor, .. } => {
						self.contributor.entry(contributor).or_default().results_revealed += 1;
					},
					Event::ResultAccepted { task_id, contributor, paid, decided_by, .. } => {
						let creator = task(task_id).creator;
						assert_eq!(paid, task(task_id).pays_amount, "a reward is the task's");
						self.debit(creator, paid);
						self.credit(contributor, paid);
						let r = self.creator.entry(creator).or_default();
						r.results_accepted += 1;
						r.total_paid += paid;
						self.contributor.entry(contributor).or_default().results_accepted += 1;
						if matches!(decided_by, Decider::Close) {
							tally.fact("result paid by close");
						}
					},
					Event::PayoutDeferred { task_id, amount, .. } => {
						assert_eq!(amount, task(task_id).pays_amount);
						tally.fact("payout deferred");
					},
					Event::ResultRejected { task_id, contributor, .. } => {
						self.creator.entry(task(task_id).creator).or_default().results_rejected +=
							1;
						self.contributor.entry(contributor).or_default().results_rejected += 1;
					},
					Event::AppealDecided { task_id, submission_id, overturned: true } => {
						let r = self.creator.entry(task(task_id).creator).or_default();
						r.rejections_overturned += 1;
						let contributor = contributor_of(submission_id).expect("still stored");
						self.contributor.entry(contributor).or_default().appeals_won += 1;
					},
					Event::SlotTimedOut { task_id, contributor, forfeited, .. } => {
						assert!(forfeited == ASSIGNMENT_DEPOSIT || forfeited == 0);
						self.credit(task(task_id).creator, forfeited);
						self.debit(contributor, forfeited);
						self.contributor.entry(contributor).or_default().slots_timed_out += 1;
						if System::events().iter().any(|r| {
							matches!(r.event, RuntimeEvent::DecentralML(Event::TaskClosed { .. }))
						}) {
							tally.fact("slot timed out by close");
						}
					},
					Event::SlotReleased { task_id, contributor, forfeited, .. } => {
						assert!(forfeited == ASSIGNMENT_DEPOSIT || forfeited == 0);
						self.credit(task(task_id).creator, forfeited);
						self.debit(contributor, forfeited);
						self.contributor.entry(contributor).or_default().slots_released += 1;
					},
					Event::CampaignRoundCreated { campaign, round, task_id, continues } => {
						assert_eq!(
							task(task_id).lineage,
							Some(Lineage { campaign, round, continues }),
							"the event says what the task records"
						);
					},
					Event::SlotCancelled { .. } => tally.fact("slot cancelled by close"),
					_ => {},
				}
			}
			System::reset_events();
		}
	}

	/// The index entries `try_state` cannot demand of every chain (a v0 chain may hold
	/// two submissions of one content hash): here every revealed location is in
	/// `ResultHashes`. With `try_state` (each record has its index entries, and each
	/// entry points at a record that says the same) every index map is then exactly
	/// the set its records imply. And the reputation records equal the model's.
	fn check_records(model: &Model) {
		for (id, s) in Submissions::<Test>::iter() {
			if let Some(location) = &s.result_location {
				assert_eq!(ResultHashes::<Test>::get(s.task_id, location.content_hash), Some(id));
			}
		}
		for who in PEOPLE {
			let creator = model.creator.get(&who).cloned().unwrap_or_default();
			assert_eq!(CreatorStats::<Test>::get(who), creator, "CreatorStats of {who}");
			let contributor = model.contributor.get(&who).cloned().unwrap_or_default();
			assert_eq!(
				ContributorStats::<Test>::get(who),
				contributor,
				"ContributorStats of {who}"
			);
		}
	}

	fn check_balances(model: &Model) {
		for (who, amount) in &model.balance {
			assert_eq!(Balances::total_balance(who) as u128, *amount, "total balance of {who}");
		}
		let total: u128 = PEOPLE.iter().map(|who| Balances::total_balance(who) as u128).sum();
		assert_eq!(total, model.balance.values().sum::<u128>(), "nothing minted or burnt");
	}

	fn run_sequence(actions: &[Action], tally: &mut Tally) {
		new_test_ext_with_whale().execute_with(|| {
			let mut model = Model::new();
			let mut committed = Commitments::new();
			System::reset_events();
			for action in actions {
				let action = lead_up(action.clone());
				// The storage root is costly in a debug build: compared on every
				// `ROOT_EVERY`th step.
				let sampled = tally.steps % ROOT_EVERY == 0;
				let root = sampled.then(|| sp_io::storage::root(StateVersion::V1));
				if let Some((call, result, whale)) = apply(&action, &mut committed, tally) {
					let outcome = outcome(&result);
					let expected = COVERAGE.iter().find(|(c, _)| *c == call).expect("a call");
					// Crediting an account whose balance would pass the largest u64 fails
					// in pallet-balances, whether a payment or a hold released back; only
					// the whale sits there, on purpose.
					let at_the_limit = outcome == "Token(CannotCreate)" && whale;
					assert!(
						expected.1.iter().any(|(o, _)| *o == outcome) || at_the_limit,
						"{call} returned {outcome}, which no sequence should reach"
					);
					if let (Err(_), Some(root)) = (&result, root) {
						assert_eq!(
							sp_io::storage::root(StateVersion::V1),
							root,
							"{call} failed with {outcome} but changed storage"
						);
					}
					*tally.outcomes.entry(call).or_default().entry(outcome).or_default() += 1;
				}
				model.follow_events(tally);
				if let Err(e) = DecentralML::do_try_state() {
					panic!("try_state after {action:?}: {e:?}");
				}
				check_records(&model);
				check_balances(&model);
				tally.steps += 1;
			}
			tally.sequences += 1;
		});
	}

	fn cases() -> u32 {
		std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_CASES)
	}

	/// Runs `cases` sequences, adding to `tally`; panics with the shrunk failing
	/// sequence if a check fails.
	fn run_cases(cases: u32, tally: &mut Tally) {
		let mut runner = TestRunner::new(ProptestConfig {
			cases,
			failure_persistence: None,
			..ProptestConfig::default()
		});
		let shared = RefCell::new(std::mem::take(tally));
		let run = runner.run(&proptest::collection::vec(action(), 1..SEQUENCE_LEN), |actions| {
			run_sequence(&actions, &mut shared.borrow_mut());
			Ok(())
		});
		if let Err(failure) = run {
			panic!("{failure}");
		}
		*tally = shared.into_inner();
	}

	#[test]
	fn over_random_sequences_of_every_call() {
		let cases = cases();
		let mut tally = Tally::default();
		run_cases(cases, &mut tally);
		// The rarest outcomes come about ten times a run: when one is short, up to
		// `TOP_UPS` more batches of `TOP_UP` sequences are run before the minimums fail.
		// A generator that stopped reaching something still fails.
		let mut top_ups = 0;
		while cases >= DEFAULT_CASES && !tally.shortfalls().is_empty() && top_ups < TOP_UPS {
			run_cases(TOP_UP, &mut tally);
			top_ups += 1;
		}
		let table = tally.table() + &format!("top-up batches run: {top_ups}\n");
		// Straight to stderr, past the test harness's capture, so every run shows it.
		let _ = std::io::stderr().write_all(table.as_bytes());
		let short = tally.shortfalls();
		if cases >= DEFAULT_CASES {
			assert!(short.is_empty(), "coverage below the minimum:\n{}\n{table}", short.join("\n"));
		}
	}
}
