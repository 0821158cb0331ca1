"""Storage: uploading and downloading a SavedModel-like folder, ours against the plain tools.

The folder (1 GiB: two ~480 MiB variable shards, a few protobufs, 2000 small asset files
of 1-64 KiB; random bytes, so nothing compresses) is generated once and cached under
``~/.cache/decentralml/bench/storage``. A real Kubo and a real MinIO are started for the
run with the helpers of ``tests/daemons.py``.

Variants, each in its own process (time and kernel-measured peak RSS):

* IPFS, ours: ``substrate_client.storage.upload_folder`` / ``download_folder`` with
  ``IpfsStorage`` (pack to a tar, add it over the RPC API; cat, check sha256, unpack);
  plain: ``ipfs add -r`` / ``ipfs get`` with the CLI against the same daemon.
* S3, ours: the same with ``S3Storage``; plain: boto3 ``upload_file`` / ``download_file``
  (default transfer settings) of the same tar archive, made beforehand and not timed; and,
  for context, a server-side ``copy_object`` of that archive.

* Before (with ``--before REV``): ours as it was at the git revision REV (its
  ``substrate_client`` exported with ``git archive`` and put first on the workers' path),
  timed in the same run, so a change is measured against what it replaces on the same
  machine under the same load.

Between repetitions the stored copies are deleted (unpin + ``repo gc``; delete object),
so every upload stores the bytes anew.

    python -m bench.storage [--smoke] [--repeats R] [--sizes 5m,1g] [--before REV]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import common
from bench.common import MiB, log

NAME = "storage"
BUCKET = "dml-bench"
PLAIN_KEY = "plain/bundle.tar"
INPUT_VERSION = 1
RSS_LIMIT_MB = 200

#: name -> (total bytes, number of small files, largest small file)
SIZES = {
    "5m": (5 * MiB, 50, 16 * 1024),
    "100m": (100 * MiB, 500, 64 * 1024),
    "1g": (1024 * MiB, 2000, 64 * 1024),
}


# --------------------------------------------------------------------------- the input folder


def folder_for(size: str) -> Path:
    return common.cache_dir() / "storage" / f"savedmodel-{size}-v{INPUT_VERSION}"


def _write_random(path: Path, size: int, rng: random.Random) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 8 * MiB)
            f.write(rng.randbytes(n))
            left -= n


def make_folder(size: str) -> Path:
    """A SavedModel-like folder of ``size`` (cached): many small files and a few large ones."""
    total, small_count, small_max = SIZES[size]
    folder = folder_for(size)
    marker = folder.with_name(folder.name + ".complete")
    if marker.is_file() and folder.is_dir():
        return folder
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    rng = random.Random(20261122)
    log(f"generating the {size} input folder in {folder}")
    fixed = {"saved_model.pb": min(4 * MiB, total // 20), "keras_metadata.pb": min(200 * 1024, total // 100),
             "fingerprint.pb": 60, "variables/variables.index": min(100 * 1024, total // 100)}
    small = [rng.randint(1024, small_max) for _ in range(small_count)]
    shard = (total - sum(fixed.values()) - sum(small)) // 2
    files = dict(fixed)
    files["variables/variables.data-00000-of-00002"] = shard
    files["variables/variables.data-00001-of-00002"] = total - sum(fixed.values()) - sum(small) - shard
    for i, n in enumerate(small):
        files[f"assets/vocab/part_{i // 100:02d}/token_table_{i:05d}.bin"] = n
    for name, n in files.items():
        _write_random(tmp / name, n, rng)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    marker.write_text("ok\n")
    return folder


def folder_bytes(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


# --------------------------------------------------------------------------- workers


def _backend(args):
    from substrate_client.storage import IpfsStorage, S3Storage

    if args.backend == "ipfs":
        return IpfsStorage(args.api, timeout=600)
    return S3Storage(BUCKET, endpoint_url=args.endpoint)


def worker_upload(args) -> dict[str, Any]:
    from substrate_client.storage import upload_folder

    backend = _backend(args)
    with common.Meter() as meter:
        stored = upload_folder(backend, Path(args.folder))
    return {"op": meter.result(), "path": stored.path, "hash": stored.content_hash.hex(), "size": stored.size,
            "code": upload_folder.__code__.co_filename}


def worker_download(args) -> dict[str, Any]:
    from substrate_client.storage import download_folder

    backend = _backend(args)
    with common.Meter() as meter:
        download_folder(backend, args.path, bytes.fromhex(args.hash), Path(args.dest))
    return {"op": meter.result(), "code": download_folder.__code__.co_filename}


def worker_boto_upload(args) -> dict[str, Any]:
    client = _boto_client(args)
    with common.Meter() as meter:
        client.upload_file(args.archive, BUCKET, PLAIN_KEY)
    return {"op": meter.result()}


def worker_boto_copy(args) -> dict[str, Any]:
    """A server-side copy of the plain archive: what storing under a temporary key and then
    copying to a content-hash key would add to an upload (the route not taken: S3 objects
    get a fresh key per upload instead)."""
    client = _boto_client(args)
    with common.Meter() as meter:
        client.copy_object(CopySource={"Bucket": BUCKET, "Key": PLAIN_KEY}, Bucket=BUCKET, Key=PLAIN_KEY + ".copy")
    return {"op": meter.result()}


def worker_boto_download(args) -> dict[str, Any]:
    client = _boto_client(args)
    with common.Meter() as meter:
        client.download_file(BUCKET, PLAIN_KEY, args.dest)
    return {"op": meter.result()}


def _boto_client(args):
    import boto3
    from botocore.config import Config

    client = boto3.session.Session().client(
        "s3", endpoint_url=args.endpoint, region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}))
    try:
        client.head_bucket(Bucket=BUCKET)
    except Exception:
        client.create_bucket(Bucket=BUCKET)
    return client


def worker_s3_delete(args) -> dict[str, Any]:
    client = _boto_client(args)
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for o in page.get("Contents", [])]
    for key in keys:
        client.delete_object(Bucket=BUCKET, Key=key)
    return {"deleted": len(keys)}


def worker_pack(args) -> dict[str, Any]:
    from substrate_client.storage import pack_folder

    digest = pack_folder(Path(args.folder), Path(args.archive))
    return {"hash": digest.hex()}


def worker_profile(args) -> dict[str, Any]:
    from substrate_client.storage import download_folder, upload_folder

    backend = _backend(args)
    target = Path(args.profile_out)
    if args.op == "upload":
        _, summary = common.profile_call(lambda: upload_folder(backend, Path(args.folder)), target)
    else:
        _, summary = common.profile_call(
            lambda: download_folder(backend, args.path, bytes.fromhex(args.hash), Path(args.dest)), target)
    return {"profile": summary}


WORKERS = {
    "upload": worker_upload, "download": worker_download, "boto_upload": worker_boto_upload,
    "boto_download": worker_boto_download, "boto_copy": worker_boto_copy, "s3_delete": worker_s3_delete,
    "pack": worker_pack, "profile": worker_profile,
}


# --------------------------------------------------------------------------- the benchmark


class Daemons:
    """Kubo and MinIO for the run, from the helpers in tests/daemons.py."""

    def __init__(self, workdir: Path):
        from tests import daemons

        self.workdir = workdir
        for name in ("kubo", "minio"):
            (workdir / name).mkdir(parents=True, exist_ok=True)
        self.kubo = daemons.start_kubo(workdir / "kubo")
        try:
            self.minio = daemons.start_minio(workdir / "minio")
        except BaseException:
            self.kubo.stop()
            raise
        self.ipfs = str(daemons.find_binary("ipfs"))
        self.env = common.worker_env(
            AWS_ACCESS_KEY_ID=daemons.MINIO_USER, AWS_SECRET_ACCESS_KEY=daemons.MINIO_PASSWORD,
            AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE="/nonexistent/decentralml-bench",
            AWS_SHARED_CREDENTIALS_FILE="/nonexistent/decentralml-bench")
        self.env.pop("AWS_PROFILE", None)
        self.env.pop("AWS_SESSION_TOKEN", None)
        self.ipfs_env = dict(self.kubo.env)

    def stop(self) -> None:
        self.minio.stop()
        self.kubo.stop()

    def ipfs_cmd(self, *argv: str, **kw) -> dict[str, Any]:
        return common.run_command([self.ipfs, *argv], env=self.ipfs_env, **kw)

    def ipfs_forget(self, cid: str) -> None:
        """Unpin ``cid`` and garbage-collect, so the next add stores every block again."""
        self.ipfs_cmd("pin", "rm", cid)
        self.ipfs_cmd("repo", "gc", "--quiet")


def _op(result: dict[str, Any], nbytes: int) -> dict[str, Any]:
    op = result["op"]
    return {"seconds": op["seconds"], "mb_per_s": round(nbytes / MiB / op["seconds"], 1),
            "peak_rss_mb": max(op["peak_rss_mb"], op["startup_peak_rss_mb"]),
            "work_peak_rss_mb": op["peak_rss_mb"], "rss_before_mb": op["rss_before_mb"],
            "process_maxrss_mb": result.get("process_maxrss_mb"), "load": result.get("load_before"),
            "code": result.get("code")}


def _cmd(result: dict[str, Any], nbytes: int) -> dict[str, Any]:
    return {"seconds": result["seconds"], "mb_per_s": round(nbytes / MiB / result["seconds"], 1),
            "peak_rss_mb": result["maxrss_mb"], "process_maxrss_mb": result["maxrss_mb"],
            "load": result.get("load_before")}


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _worker(task: str, d: Daemons, *argv: str) -> dict[str, Any]:
    return common.run_worker("storage", ["--task", task, *argv], env=d.env, label=f"storage {task}")


def export_revision(rev: str, into: Path) -> str:
    """Put ``substrate_client`` as it was at ``rev`` under ``into``; return the full commit."""
    commit = subprocess.run(["git", "rev-parse", "--verify", f"{rev}^{{commit}}"], cwd=common.ROOT,
                            check=True, capture_output=True, text=True).stdout.strip()
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", "--format=tar", commit, "substrate_client"], cwd=common.ROOT,
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return commit


def _round_trip(runs: dict[str, list], store: str, kind: str, argv_store: list[str], d: Daemons, folder: Path,
                dest: Path, nbytes: int, before: Path | None, forget) -> None:
    """Upload ``folder`` and download it with ours (``kind`` "before": as at --before), then forget it."""
    code = ["--code", str(before)] if kind == "before" else []
    up = _worker("upload", d, *argv_store, *code, "--folder", str(folder))
    runs[f"{store}_{kind}_up"].append(_op(up, nbytes))
    down = _worker("download", d, *argv_store, *code, "--path", up["path"], "--hash", up["hash"],
                   "--dest", str(_fresh(dest)))
    runs[f"{store}_{kind}_down"].append(_op(down, nbytes))
    shutil.rmtree(dest, ignore_errors=True)
    forget(up)


def bench_size(size: str, d: Daemons, repeats: int, work: Path, before: Path | None = None) -> dict[str, Any]:
    folder = make_folder(size)
    nbytes, nfiles = folder_bytes(folder)
    archive = work / "plain-bundle.tar"
    _worker("pack", d, "--folder", str(folder), "--archive", str(archive))
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in (
        "ipfs_ours_up", "ipfs_ours_down", "ipfs_plain_up", "ipfs_plain_down",
        "s3_ours_up", "s3_ours_down", "s3_plain_up", "s3_plain_down", "s3_plain_copy")}
    kinds = ["ours"]
    if before is not None:
        kinds.append("before")
        runs.update({f"{store}_before_{op}": [] for store in ("ipfs", "s3") for op in ("up", "down")})
    common.run_command(["cat", *map(str, (p for p in folder.rglob("*") if p.is_file()))], capture=False)
    api = ["--backend", "ipfs", "--api", d.kubo.api_url]
    s3 = ["--backend", "s3", "--endpoint", d.minio.endpoint_url]
    dest = work / "download"
    for rep in range(repeats):
        log(f"{size}: repetition {rep + 1}/{repeats} (load {common.load()})")
        for kind in kinds:  # IPFS, ours (and ours before)
            _round_trip(runs, "ipfs", kind, api, d, folder, dest, nbytes, before,
                        lambda up: d.ipfs_forget(up["path"]))
        # IPFS, plain CLI
        add = d.ipfs_cmd("add", "-r", "-Q", "--pin=true", "--cid-version=1", "--raw-leaves", "--progress=false",
                         str(folder))
        cid = add["stdout"].strip().splitlines()[-1]
        runs["ipfs_plain_up"].append(_cmd(add, nbytes))
        get = d.ipfs_cmd("get", "--progress=false", "-o", str(_fresh(dest)), cid)
        runs["ipfs_plain_down"].append(_cmd(get, nbytes))
        shutil.rmtree(dest, ignore_errors=True)
        d.ipfs_forget(cid)
        for kind in kinds:  # S3, ours (and ours before)
            _round_trip(runs, "s3", kind, s3, d, folder, dest, nbytes, before, lambda up: _worker("s3_delete", d, *s3))
        # S3, plain boto3 of the same archive
        runs["s3_plain_up"].append(_op(_worker("boto_upload", d, *s3, "--archive", str(archive)), nbytes))
        runs["s3_plain_copy"].append(_op(_worker("boto_copy", d, *s3), nbytes))
        _fresh(dest).mkdir()
        target = dest / "bundle.tar"
        runs["s3_plain_down"].append(_op(_worker("boto_download", d, *s3, "--dest", str(target)), nbytes))
        shutil.rmtree(dest, ignore_errors=True)
        _worker("s3_delete", d, *s3)
    archive.unlink(missing_ok=True)

    variants = {}
    for name, rs in runs.items():
        variants[name] = {
            "seconds": round(common.median(r["seconds"] for r in rs), 3),
            "seconds_all": [r["seconds"] for r in rs],
            "mb_per_s": round(nbytes / MiB / common.median(r["seconds"] for r in rs), 1),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "process_maxrss_mb": max(r["process_maxrss_mb"] or 0 for r in rs),
            "load": [r["load"] for r in rs],
            "code": rs[0].get("code"),
        }
        if "work_peak_rss_mb" in rs[0]:
            variants[name]["rss_before_mb"] = round(common.median(r["rss_before_mb"] for r in rs), 1)
    ratios = {}
    for store in ("ipfs", "s3"):
        for op in ("up", "down"):
            # ours' throughput as a share of the plain tool's = plain time / ours time
            for kind in kinds:
                ratios[f"{store}_{op}_{kind}_throughput_share"] = common.ratio(
                    variants[f"{store}_plain_{op}"]["seconds"], variants[f"{store}_{kind}_{op}"]["seconds"], 3)
    return {"size": size, "bytes": nbytes, "files": nfiles, "variants": variants, "ratios": ratios}


def goals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    big = max(rows, key=lambda r: r["bytes"])
    for store in ("ipfs", "s3"):
        for op, verb in (("up", "upload"), ("down", "download")):
            share = big["ratios"][f"{store}_{op}_ours_throughput_share"]
            v = big["variants"]
            out.append(common.goal(
                f"{store}_{verb}", f"{store.upper()} {verb} of the {big['size']} folder: ours at least 80% of "
                f"the plain tool's throughput", ">= 0.80", share, None if share is None else share >= 0.8,
                detail=f"ours {v[f'{store}_ours_{op}']['mb_per_s']} MiB/s ({v[f'{store}_ours_{op}']['seconds']} s), "
                       f"plain {v[f'{store}_plain_{op}']['mb_per_s']} MiB/s ({v[f'{store}_plain_{op}']['seconds']} s)"))
    peaks = [(r["size"], name, v["peak_rss_mb"]) for r in rows for name, v in r["variants"].items() if "_ours_" in name]
    worst = max(peaks, key=lambda p: p[2])
    out.append(common.goal(
        "memory", f"ours' peak RSS under {RSS_LIMIT_MB} MB whatever the size", f"< {RSS_LIMIT_MB} MB", worst[2],
        worst[2] < RSS_LIMIT_MB,
        detail=f"worst: {worst[1]} at {worst[0]}; all: " + ", ".join(f"{s} {n} {p} MB" for s, n, p in peaks)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.storage", description=__doc__.split("\n")[0])
    common.common_args(parser)
    parser.add_argument("--sizes", help="comma-separated from " + ", ".join(SIZES) + " (default 5m,1g; smoke 5m)")
    parser.add_argument("--before", metavar="REV",
                        help="also time ours as it was at this git revision, in the same run")
    for name in ("task", "backend", "api", "endpoint", "folder", "path", "hash", "dest", "archive", "op",
                 "profile-out", "code"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        if args.code:  # ours as it was at an earlier revision (see --before)
            sys.path.insert(0, args.code)
        common.write_worker_result(args.result, WORKERS[args.task](args))
        return 0

    out_dir = common.out_dir(args)
    result = common.new_result(NAME, args.smoke)
    sizes = args.sizes.split(",") if args.sizes else (["5m"] if args.smoke else ["5m", "1g"])
    repeats = args.repeats or (1 if args.smoke else 3)
    result["parameters"] = {"sizes": sizes, "repeats": repeats, "bucket": BUCKET,
                            "ipfs_add_flags": "-r --cid-version=1 --raw-leaves --pin=true",
                            "boto3": "client.upload_file / download_file, default TransferConfig"}
    workdir = Path(tempfile.mkdtemp(prefix="storage-run-", dir=common.cache_dir()))
    rows = []
    before = None
    if args.before:
        before = workdir / "before"
        commit = export_revision(args.before, before)
        result["parameters"]["before"] = {"revision": args.before, "commit": commit}
        result["command"] = (f"python -m bench.storage --before {args.before}"
                             + (" --smoke" if args.smoke else "") + " (then python -m bench --report-only)")
    try:
        d = Daemons(workdir)
        try:
            result["daemons"] = {"kubo": d.ipfs_cmd("version")["stdout"].strip(),
                                 "minio": common.run_command([str(Path(d.ipfs).with_name("minio")), "--version"])
                                 ["stdout"].strip().splitlines()[0]}
            for size in sizes:
                rows.append(bench_size(size, d, repeats, workdir / "work", before))
                result["rows"] = rows
                common.finish_result(result, out_dir)
            for r in rows:
                for k, v in r["ratios"].items():
                    result["ratios"][f"{r['size']}_{k}"] = v
            result["goals"] = goals(rows)
            # Where ours spends its time, on the largest size.
            size = max(rows, key=lambda r: r["bytes"])["size"]
            folder = folder_for(size)
            result["profiles"] = {}
            for store, argv_store in (("ipfs", ["--backend", "ipfs", "--api", d.kubo.api_url]),
                                      ("s3", ["--backend", "s3", "--endpoint", d.minio.endpoint_url])):
                path = out_dir / "profiles" / f"storage-{store}-upload-{size}.txt"
                up = _worker("profile", d, *argv_store, "--op", "upload", "--folder", str(folder),
                             "--profile-out", str(path))
                result["profiles"][f"{store}_upload_{size}"] = up["profile"]
                stored = _worker("upload", d, *argv_store, "--folder", str(folder))
                path = out_dir / "profiles" / f"storage-{store}-download-{size}.txt"
                dest = _fresh(workdir / "work" / "download")
                down = _worker("profile", d, *argv_store, "--op", "download", "--path", stored["path"],
                               "--hash", stored["hash"], "--dest", str(dest), "--profile-out", str(path))
                shutil.rmtree(dest, ignore_errors=True)
                result["profiles"][f"{store}_download_{size}"] = down["profile"]
        finally:
            d.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    common.finish_result(result, out_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
