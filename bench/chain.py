"""Chain: marketplace extrinsics against a dev chain the benchmark starts itself.

Chopsticks runs the compiled runtime (``substrate_client/runtime/chain_spec_raw.json``)
on a free port with its own run folder, building one block per transaction. Alice
creates tasks; fresh accounts funded from Alice (in one ``batch_all``) take slots and
send results; Alice accepts them. Measured, one extrinsic at a time through
``substrate_client.chain.Chain.submit`` (what the client library does):

* extrinsics/s for ``create_task``, ``assign_task``, ``commit_task_result`` and
  ``reveal_task_result`` (the two steps of sending a result), ``accept_task_result``;
* the round trip of each, split into compose, sign (with the RPCs substrate-interface
  makes inside them), submit-and-wait-for-the-block, and reading the receipt; and every
  RPC the client sent, by method;
* accepting N results one by one against one ``Utility.batch_all``
  (``Marketplace.decide_task_results``).

The client-side cost of an extrinsic (compose + sign + encode, no network: the runtime
metadata, nonce and genesis hash given) is timed separately with substrate-interface
and compared with the round trip.

    python -m bench.chain [--smoke] [--count N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

from bench import common
from bench.common import log

NAME = "chain"
PALLET = "DecentralML"


def wait_for_spec(timeout: float) -> Path:
    """The raw chain spec, waiting (polling) while the runtime is being built."""
    from substrate_client import devnet

    path = devnet.chain_spec_path()
    deadline = time.monotonic() + timeout
    announced = False
    while not path.is_file():
        if time.monotonic() > deadline:
            raise SystemExit(f"no chain spec at {path} after {timeout:.0f}s; build it with scripts/build_runtime.sh")
        if not announced:
            log(f"waiting for {path} (the runtime is being built); polling every 30 s for up to {timeout:.0f} s")
            announced = True
        time.sleep(30)
    return path


class RpcLedger:
    """Counts and times every RPC a SubstrateInterface sends, and the library steps of a submit."""

    def __init__(self, substrate):
        self.substrate = substrate
        self.calls: dict[str, list[float]] = defaultdict(list)
        self.depth = 0
        self.top_seconds = 0.0
        self.top_count = 0
        original = substrate.rpc_request

        def rpc_request(method, params, *args, **kwargs):
            self.depth += 1
            start = time.perf_counter()
            try:
                return original(method, params, *args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                self.depth -= 1
                self.calls[method].append(elapsed)
                if self.depth == 0:
                    self.top_seconds += elapsed
                    self.top_count += 1

        substrate.rpc_request = rpc_request
        self.steps: dict[str, float] = defaultdict(float)
        for step in ("compose_call", "create_signed_extrinsic", "submit_extrinsic"):
            setattr(substrate, step, self._timed(step, getattr(substrate, step)))

    def _timed(self, name: str, fn: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.steps[name] += time.perf_counter() - start
        return wrapper

    def snapshot(self) -> dict[str, Any]:
        return {"rpc_seconds": self.top_seconds, "rpc_count": self.top_count,
                "steps": dict(self.steps), "by_method": {m: len(v) for m, v in self.calls.items()}}

    @staticmethod
    def diff(after: dict[str, Any], before: dict[str, Any]) -> dict[str, Any]:
        methods = set(after["by_method"]) | set(before["by_method"])
        return {
            "rpc_seconds": after["rpc_seconds"] - before["rpc_seconds"],
            "rpc_count": after["rpc_count"] - before["rpc_count"],
            "steps": {k: after["steps"].get(k, 0.0) - before["steps"].get(k, 0.0) for k in after["steps"]},
            "by_method": {m: after["by_method"].get(m, 0) - before["by_method"].get(m, 0) for m in methods
                          if after["by_method"].get(m, 0) - before["by_method"].get(m, 0)},
        }


def _submit_series(label: str, items: list, submit: Callable[[Any], Any], ledger: RpcLedger) -> dict[str, Any]:
    """Submit one extrinsic per item, one at a time; per-extrinsic round trips and their split."""
    samples = []
    receipts = []
    seen = {m: len(v) for m, v in ledger.calls.items()}
    start = time.perf_counter()
    for item in items:
        before = ledger.snapshot()
        t0 = time.perf_counter()
        receipts.append(submit(item))
        seconds = time.perf_counter() - t0
        d = RpcLedger.diff(ledger.snapshot(), before)
        steps = d["steps"]
        samples.append({
            "seconds": seconds,
            "compose": steps.get("compose_call", 0.0),
            "sign": steps.get("create_signed_extrinsic", 0.0),
            "submit_and_wait": steps.get("submit_extrinsic", 0.0),
            "receipt": seconds - sum(steps.values()),
            "rpc_seconds": d["rpc_seconds"], "rpc_count": d["rpc_count"], "by_method": d["by_method"],
        })
    wall = time.perf_counter() - start
    med = lambda key: round(common.median(s[key] for s in samples) * 1000, 2)  # noqa: E731
    methods: dict[str, int] = defaultdict(int)
    for s in samples:
        for m, c in s["by_method"].items():
            methods[m] += c
    rpc_ms = {m: round(common.median(v[seen.get(m, 0):]) * 1000, 2) for m, v in sorted(ledger.calls.items())
              if len(v) > seen.get(m, 0)}
    summary = {
        "count": len(items), "wall_seconds": round(wall, 3),
        "extrinsics_per_s": round(len(items) / wall, 2) if wall else None,
        "round_trip_ms": {"median": med("seconds"),
                          "p90": round(sorted(s["seconds"] for s in samples)[int(0.9 * (len(samples) - 1))] * 1000, 2),
                          "mean": round(sum(s["seconds"] for s in samples) / len(samples) * 1000, 2)},
        "split_ms_median": {k: med(k) for k in ("compose", "sign", "submit_and_wait", "receipt")},
        "rpcs_per_extrinsic": round(sum(s["rpc_count"] for s in samples) / len(samples), 1),
        "rpc_ms_per_extrinsic_median": med("rpc_seconds"),
        "rpcs_by_method_per_extrinsic": {m: round(c / len(samples), 2) for m, c in sorted(methods.items())},
        "rpc_ms_by_method_median": rpc_ms,
        "load_after": common.load(),
    }
    log(f"{label}: {summary['extrinsics_per_s']} extrinsics/s, round trip median {summary['round_trip_ms']['median']} ms, "
        f"{summary['rpcs_per_extrinsic']} RPCs each")
    return summary | {"_receipts": receipts}


def client_side_cost(substrate, keypair, module: str, function: str, params: dict, repeats: int) -> dict[str, Any]:
    """compose + sign + encode of one extrinsic without any network: the runtime, nonce and
    genesis hash are given, as a client that caches them would."""
    genesis = substrate.get_block_hash(0)
    nonce = substrate.get_account_nonce(keypair.ss58_address)
    saved = {name: getattr(substrate, name) for name in ("init_runtime", "get_block_hash", "rpc_request")}
    sent = []

    def no_rpc(method, params, *args, **kwargs):
        sent.append(method)
        return saved["rpc_request"](method, params, *args, **kwargs)

    substrate.init_runtime = lambda *a, **k: None
    substrate.get_block_hash = lambda block_id=None: genesis if block_id == 0 else saved["get_block_hash"](block_id)
    substrate.rpc_request = no_rpc
    compose, sign, encode = [], [], []
    try:
        for i in range(repeats):
            t0 = time.perf_counter()
            call = substrate.compose_call(call_module=module, call_function=function, call_params=params)
            t1 = time.perf_counter()
            extrinsic = substrate.create_signed_extrinsic(call=call, keypair=keypair, nonce=nonce + i)
            t2 = time.perf_counter()
            payload = str(extrinsic.data)  # what submit_extrinsic sends
            t3 = time.perf_counter()
            compose.append(t1 - t0)
            sign.append(t2 - t1)
            encode.append(t3 - t2)
            assert payload.startswith("0x")
    finally:
        for name, fn in saved.items():
            setattr(substrate, name, fn)
    total = [a + b + c for a, b, c in zip(compose, sign, encode)]
    ms = lambda xs: round(common.median(xs) * 1000, 3)  # noqa: E731
    return {"repeats": repeats, "compose_ms": ms(compose), "sign_ms": ms(sign), "encode_ms": ms(encode),
            "total_ms": ms(total), "rpcs_sent": len(sent), "bytes": len(payload) // 2 - 1}


def _hex(text: str) -> str:
    return "0x" + text.encode().hex()


def create_params(block: int, reward: int, slots: int, i: int) -> dict[str, Any]:
    return {
        "task_type": "ModelContributor",
        "question": _hex(f"Benchmark task {i}: train the MLP on your shard"),
        "pays_amount": reward,
        "max_assignments": slots,
        "expiration_block": block + 100_000,
        "validation_strategy": "ManualAccept",
        "bundle": {"storage_type": "IPFS", "path": _hex(f"bafybeibenchbundle{i:04d}"), "content_hash": "0x" + "ab" * 32,
                   "size": 4096},
        "result_public_key": None,
        "annotation": None,
    }


#: One salt for every benchmark result: what it hides does not matter here.
SALT = bytes(32)


def result_location(submission_id: int):
    """A distinct stored result per submission (the chain refuses a copied content hash)."""
    import hashlib

    from substrate_client.records import Location, StorageType

    return Location(StorageType.S3, f"bench/result-{submission_id}",
                    hashlib.sha256(b"result %d" % submission_id).digest(), 1000)


def commit_params(contributor: str, submission_id: int) -> dict[str, Any]:
    from substrate_client.commitment import result_commitment

    commitment = result_commitment(contributor, submission_id, "accuracy=0.91",
                                   result_location(submission_id), SALT)
    return {"submission_id": submission_id, "commitment": "0x" + commitment.hex()}


def reveal_params(submission_id: int) -> dict[str, Any]:
    return {"submission_id": submission_id, "result": _hex("accuracy=0.91"),
            "result_location": result_location(submission_id).to_chain(), "salt": "0x" + SALT.hex()}


def send(chain, submission_id: int) -> None:
    """What ``Marketplace.send_task_result`` does on chain once the result is stored."""
    chain.submit("commit_task_result", commit_params(chain.address, submission_id))
    chain.submit("reveal_task_result", reveal_params(submission_id))


def run(count: int, repeats: int, profile_dir: Path) -> dict[str, Any]:
    from substrateinterface import Keypair

    from substrate_client import devnet
    from substrate_client.chain import Chain, connect, load_keypair
    from substrate_client.marketplace import Marketplace

    out: dict[str, Any] = {"count": count}
    run_dir = Path(tempfile.mkdtemp(prefix="dml-bench-chain-"))
    port = common.free_port()
    with common.env_vars(DECENTRALML_RUN_DIR=str(run_dir)):
        t0 = time.perf_counter()
        state = devnet.up(port, timeout=300)
        out["devnet_start_seconds"] = round(time.perf_counter() - t0, 2)
        try:
            substrate = connect(state.url)
            props = substrate.properties or {}
            decimals = int(props.get("tokenDecimals") or 12)
            unit = 10 ** decimals
            ledger = RpcLedger(substrate)
            alice = Chain(substrate, load_keypair("//Alice"))
            free = alice.free_balance(alice.address)
            group_a = [Keypair.create_from_uri(f"//BenchA{i}", ss58_format=42) for i in range(count)]
            group_b = [Keypair.create_from_uri(f"//BenchB{i}", ss58_format=42) for i in range(count)]
            reward = unit // 100
            funding = min(100 * unit, free // (4 * (2 * count + 1)))
            out["token"] = {"decimals": decimals, "symbol": props.get("tokenSymbol"), "alice_free": free,
                            "funding_each": funding, "reward": reward}

            t0 = time.perf_counter()
            alice.submit_batch([alice.call("transfer_keep_alive", {"dest": kp.ss58_address, "value": funding},
                                           module="Balances") for kp in group_a + group_b])
            out["fund_batch_seconds"] = round(time.perf_counter() - t0, 3)
            log(f"funded {2 * count} fresh accounts in one batch_all ({out['fund_batch_seconds']} s)")

            series: dict[str, Any] = {}
            block = alice.block_number()
            # create, one at a time: Alice posts `count` tasks; the first two are used below
            s = _submit_series("create_task", list(range(count)),
                               lambda i: alice.submit("create_task", create_params(block, reward, count, i)), ledger)
            task_ids = [int(r.first("TaskCreated").attributes["task_id"]) for r in s.pop("_receipts")]
            series["create_task"] = s
            task_a, task_b = task_ids[0], task_ids[min(1, len(task_ids) - 1)]
            chains_a = [Chain(substrate, kp) for kp in group_a]
            chains_b = [Chain(substrate, kp) for kp in group_b]

            s = _submit_series("assign_task", chains_a, lambda c: c.submit("assign_task", {"task_id": task_a}), ledger)
            subs_a = [int(r.first("TaskAssigned").attributes["submission_id"]) for r in s.pop("_receipts")]
            series["assign_task"] = s
            pairs = list(zip(chains_a, subs_a))
            s = _submit_series("commit_task_result", pairs, lambda cs: cs[0].submit(
                "commit_task_result", commit_params(cs[0].address, cs[1])), ledger)
            s.pop("_receipts")
            series["commit_task_result"] = s
            s = _submit_series("reveal_task_result", pairs,
                               lambda cs: cs[0].submit("reveal_task_result", reveal_params(cs[1])), ledger)
            s.pop("_receipts")
            series["reveal_task_result"] = s
            s = _submit_series("accept_task_result", subs_a,
                               lambda sid: alice.submit("accept_task_result", {"submission_id": sid}), ledger)
            s.pop("_receipts")
            series["accept_task_result"] = s
            out["one_at_a_time"] = series

            # group B takes the second task's slots; its assigns run under the profiler
            # (only to see where a round trip goes; their times are not used)
            def assign_b():
                return [int(c.submit("assign_task", {"task_id": task_b}).first("TaskAssigned").attributes["submission_id"])
                        for c in chains_b]
            subs_b, prof = common.profile_call(assign_b, profile_dir / "chain-assign-one-at-a-time.txt")
            out["profile"] = prof
            for c, sid in zip(chains_b, subs_b):
                send(c, sid)

            # accept `count` results in one batch_all, through the marketplace API
            market = Marketplace(alice)
            before = ledger.snapshot()
            t0 = time.perf_counter()
            receipt = market.decide_task_results(accept=subs_b)
            batch_seconds = time.perf_counter() - t0
            d = RpcLedger.diff(ledger.snapshot(), before)
            accepted = len(receipt.find("ResultAccepted"))
            if accepted != count:
                raise RuntimeError(f"the batch accepted {accepted} results, expected {count}")
            out["batch_accept"] = {
                "count": count, "seconds": round(batch_seconds, 3), "accepted": accepted, "fee": receipt.fee,
                "rpc_count": d["rpc_count"], "rpc_seconds": round(d["rpc_seconds"], 3),
                "split_s": {k: round(v, 4) for k, v in d["steps"].items()}, "by_method": d["by_method"],
                "load_after": common.load(),
            }
            log(f"batch_all accept of {count}: {batch_seconds:.3f} s")

            # client-side cost, no network
            alice_kp = alice.keypair
            block = alice.block_number()
            out["client_side"] = {
                "create_task": client_side_cost(substrate, alice_kp, PALLET, "create_task",
                                                create_params(block, reward, count, 0), repeats),
                "assign_task": client_side_cost(substrate, group_a[0], PALLET, "assign_task", {"task_id": task_a}, repeats),
                "commit_task_result": client_side_cost(
                    substrate, group_a[0], PALLET, "commit_task_result",
                    commit_params(group_a[0].ss58_address, subs_a[0]), repeats),
                "reveal_task_result": client_side_cost(substrate, group_a[0], PALLET, "reveal_task_result",
                                                       reveal_params(subs_a[0]), repeats),
                "accept_task_result": client_side_cost(substrate, alice_kp, PALLET, "accept_task_result",
                                                       {"submission_id": subs_a[0]}, repeats),
            }
            substrate.close()
        finally:
            devnet.down(port)
            shutil.rmtree(run_dir, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chain", description=__doc__.split("\n")[0])
    common.common_args(parser)
    parser.add_argument("--count", type=int, help="extrinsics of each kind (default 100; smoke 5)")
    parser.add_argument("--spec-timeout", type=float, default=float(os.environ.get("DECENTRALML_BENCH_SPEC_TIMEOUT", 3600)),
                        help="seconds to wait for the chain spec to be built")
    args = parser.parse_args(argv)
    out_dir = common.out_dir(args)
    count = args.count or (5 if args.smoke else 100)
    repeats = args.repeats or (20 if args.smoke else 200)
    result = common.new_result(NAME, args.smoke)
    spec = wait_for_spec(args.spec_timeout)
    result["parameters"] = {"count": count, "client_side_repeats": repeats, "chain_spec": str(spec),
                            "executor": "Chopsticks (devnet.cjs), instant mode: a block as soon as a transaction arrives "
                                        "(one at a time here, so one block per transaction)"}
    data = run(count, repeats, out_dir / "profiles")
    result.update({k: v for k, v in data.items() if k != "profile"})
    result["profiles"] = {"assign_one_at_a_time": data["profile"]}

    one = data["one_at_a_time"]
    client = data["client_side"]
    shares = {}
    for kind, s in one.items():
        rt = s["round_trip_ms"]["median"]
        shares[kind] = {
            "client_cpu_share": common.ratio(client[kind]["total_ms"], rt, 4),
            "library_presubmit_share": common.ratio(s["split_ms_median"]["compose"] + s["split_ms_median"]["sign"], rt, 4),
            "receipt_share": common.ratio(s["split_ms_median"]["receipt"], rt, 4),
        }
    result["shares"] = shares
    accept = one["accept_task_result"]
    batch = data["batch_accept"]
    speedup = common.ratio(accept["wall_seconds"], batch["seconds"], 2)
    result["ratios"] = {f"{k}_client_cpu_share": v["client_cpu_share"] for k, v in shares.items()}
    result["ratios"].update({f"{k}_library_presubmit_share": v["library_presubmit_share"] for k, v in shares.items()})
    result["ratios"]["batch_accept_speedup"] = speedup
    result["ratios"].update({f"{k}_per_s": s["extrinsics_per_s"] for k, s in one.items()})

    worst = max(shares.items(), key=lambda kv: kv[1]["client_cpu_share"] or 0)
    result["goals"] = [
        common.goal("client_share", "client-side cost (compose + sign + encode) at most 10% of the round trip",
                    "<= 0.10", worst[1]["client_cpu_share"], (worst[1]["client_cpu_share"] or 0) <= 0.10,
                    detail=", ".join(f"{k} {client[k]['total_ms']} ms of {one[k]['round_trip_ms']['median']} ms "
                                     f"({v['client_cpu_share']:.1%})" for k, v in shares.items())),
        common.goal("batch", f"accepting {count} results in one batch_all at least 10x faster than one by one",
                    ">= 10x", speedup, speedup is not None and speedup >= 10,
                    detail=f"one by one {accept['wall_seconds']} s, batched {batch['seconds']} s"),
    ]
    common.finish_result(result, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
