"""Many strangers at once: a hundred contributors, each with its own connection and
account, race for the ten slots of one task on the real dev chain."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from substrateinterface import Keypair

from substrate_client.chain import Chain, connect
from substrate_client.errors import PalletError
from substrate_client.marketplace import Marketplace
from tests.chain_fixtures import UNIT

CONTRIBUTORS = 100
SLOTS = 10


def fund_all(substrate, funder: Keypair, addresses: list[str], amount: int) -> None:
    """One batched transaction funds everyone (a hundred transfers would take a hundred blocks)."""
    calls = [substrate.compose_call("Balances", "transfer_keep_alive", {"dest": a, "value": amount})
             for a in addresses]
    batch = substrate.compose_call("Utility", "batch_all", {"calls": calls})
    receipt = substrate.submit_extrinsic(
        substrate.create_signed_extrinsic(call=batch, keypair=funder), wait_for_inclusion=True)
    assert receipt.is_success, receipt.error_message


def test_a_hundred_contributors_race_for_ten_slots(substrate, dev_keys, devnet_url, tmp_path):
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "start_task.sh").write_text("#!/bin/sh\n")
    store = {"root": str(tmp_path / "store")}
    creator = Marketplace(Chain(substrate, dev_keys["ferdie"]), store)
    task = creator.create_task_model_contributor(
        question="Train on your data", pays_amount=UNIT, max_assignments=SLOTS,
        model_contributor_script_path=bundle, model_contributor_script_storage_type="Local",
        expires_in_blocks=5000)
    keys = [Keypair.create_from_mnemonic(Keypair.generate_mnemonic(), ss58_format=42)
            for _ in range(CONTRIBUTORS)]
    fund_all(substrate, dev_keys["alice"], [k.ss58_address for k in keys], 10 * UNIT)

    with ThreadPoolExecutor(max_workers=16) as pool:
        markets = list(pool.map(lambda k: Marketplace(Chain(connect(devnet_url), k), store), keys))
    start = threading.Barrier(CONTRIBUTORS)

    def take_slot(market: Marketplace):
        start.wait()
        try:
            return market.assign_task(task.task_id).submission_id
        except PalletError as error:
            return error.name

    with ThreadPoolExecutor(max_workers=CONTRIBUTORS) as pool:
        outcomes = list(pool.map(take_slot, markets))
    assigned = [o for o in outcomes if isinstance(o, int)]
    refused = [o for o in outcomes if not isinstance(o, int)]
    assert len(assigned) == SLOTS and len(set(assigned)) == SLOTS
    assert set(refused) == {"NoSlotsLeft"} and len(refused) == CONTRIBUTORS - SLOTS
    assert creator.get_task(task.task_id).taken_slots == SLOTS
