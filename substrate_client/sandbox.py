"""Running a bundle's code we did not write.

A task's bundle comes from its creator, a stranger to the contributor who runs it:
``start_task.sh`` and everything it starts are untrusted. :func:`run_bundle` runs it
under bubblewrap (``bwrap``, Debian's ``bubblewrap`` package) so that it sees:

- a root of its own holding only the system (``/usr``, and ``/etc`` less every entry a
  user other than root could not read), the Python it is given (read-only), the keras
  data-set cache (read-only) and the bundle folder at ``/task``, the one place it may
  write. The contributor's home (``~/.config/decentralml``, ``~/.aws``, ``~/.ssh``...),
  key file, config file, the client's send journal, other run folders and every other
  path of the machine are not in it at all;
- its own ``/proc`` (its own pid namespace: no other process to read), a minimal
  ``/dev``, an empty ``/tmp``;
- no network: its own network namespace, where not even the host's 127.0.0.1 is
  reachable, unless the task declares it needs the network and the contributor agrees
  (:func:`task_needs`, ``SandboxSettings.network``);
- an environment of allow-listed names only (:data:`BUNDLE_ENVIRONMENT`): no signer,
  no key file, no storage credential, no chain URL;
- no capabilities, no new privileges, no user namespaces of its own making, a session of
  its own and no terminal;
- limits on CPU time, address space and file size (``setrlimit`` through
  ``prlimit``), and on wall-clock time; everything it started is killed when it ends;
- a lower CPU priority (``nice``, :data:`DEFAULT_NICENESS`): the contributor's machine,
  and the agent sending a result while another trains, stay responsive.

Its output reaches the caller with control characters escaped. The caller, not the
bundle, stores and sends the result: :func:`find_result` names the SavedModel folder
the bundle left in ``output/``.

``SandboxSettings(isolate=False)`` runs the script directly instead: the environment is
still cleared and the limits still apply, but the script can read every file the
contributor can, write anywhere they can and use the network.
"""

from __future__ import annotations

import codecs
import json
import logging
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from .errors import ConfigError, DecentralMLError, UserInputError

log = logging.getLogger(__name__)

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

#: Where the bundle folder is inside the sandbox; the script's working directory.
TASK_DIR = Path("/task")
#: The script every bundle starts with.
START_SCRIPT = "start_task.sh"
#: Folders inside the bundle folder: the results the script leaves, its home.
OUTPUT_NAME = "output"
HOME_NAME = ".home"
#: The bundle's task settings file (the creator's) and the key that asks for the network.
TASK_SETTINGS_FILE = "task_settings.json"
NETWORK_SETTING = "NETWORK"
MAX_TASK_SETTINGS_BYTES = 64 * KiB

#: The environment variables a bundle may be given (what the example start_task.sh
#: documents), besides those the sandbox sets itself: PATH, HOME, TMPDIR, LANG,
#: DECENTRALML_PYTHON, DECENTRALML_OUTPUT_DIR and DECENTRALML_SANDBOX.
BUNDLE_ENVIRONMENT = frozenset({
    "DECENTRALML_TASK_ID",
    "DECENTRALML_SUBMISSION_ID",
    "DECENTRALML_CONTRIBUTOR_ID",
    "DECENTRALML_SHARD_INDEX",
    "DECENTRALML_NUM_SHARDS",
    "DECENTRALML_PARTITION",
    "DECENTRALML_MAX_SAMPLES",
    "DECENTRALML_DATASET",
    "DECENTRALML_SABOTAGE",
    "TF_CPP_MIN_LOG_LEVEL",
    "PYTHONUNBUFFERED",
})
MAX_ENV_VALUE = 4096

#: Host folders under the contributor's home made visible read-only at the same place
#: under the bundle's home: keras' data-set cache (MNIST, the offline Fashion-MNIST links).
SHARED_CACHES = (".keras/datasets",)
#: System folders the sandbox's root holds, read-only (those that exist).
SYSTEM_DIRS = ("/usr", "/etc")
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: A walk of /etc for entries to hide stops after this many entries.
MAX_ETC_ENTRIES = 20_000

_SIGNAL_EXITS = {signal.SIGXCPU: "the CPU-time limit", signal.SIGXFSZ: "the file-size limit"}


class BundleError(DecentralMLError):
    """A bundle failed, broke one of its limits, or left no result."""


class SandboxUnavailableError(ConfigError):
    """bubblewrap is missing or cannot make a sandbox on this machine."""


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class Limits:
    """What one run of a bundle may use. The CPU time, address space and file size are
    each process's own (``setrlimit``); the wall-clock time is the whole run's."""

    #: CPU seconds of one process (all its threads); it gets SIGXCPU, then SIGKILL 5 s later.
    cpu_seconds: int = 8 * 3600
    #: Address space of one process (TensorFlow reserves far more than it touches).
    memory_bytes: int = 16 * GiB
    #: Largest file the bundle may write.
    file_bytes: int = 8 * GiB
    #: The whole run, from start to the last process killed.
    wall_seconds: float = 24 * 3600
    #: Output passed on to the caller; the rest is dropped (with a note).
    output_bytes: int = 64 * MiB

    def __post_init__(self) -> None:
        for name in ("cpu_seconds", "memory_bytes", "file_bytes", "wall_seconds", "output_bytes"):
            if getattr(self, name) <= 0:
                raise UserInputError(f"the sandbox's {name.replace('_', ' ')} must be more than 0")


#: How much lower than the client's the priority of a bundle's processes is.
DEFAULT_NICENESS = 10


@dataclass(frozen=True)
class SandboxSettings:
    """How a bundle runs."""

    #: The Python the bundle is given (read-only), as DECENTRALML_PYTHON.
    python: str = sys.executable
    #: Let the bundle use the network. Only when its task asks for it (:func:`task_needs`)
    #: and the contributor agrees.
    network: bool = False
    limits: Limits = field(default_factory=Limits)
    #: False: run the script directly, without the sandbox (see the module's docstring).
    isolate: bool = True
    #: More host folders to show the bundle read-only, at the same path (the contributor's data).
    read_only: tuple[Path, ...] = ()
    #: Added to the run's niceness (0 to 19): its processes yield the CPU to the rest of
    #: the machine, as volunteer-computing clients run their work.
    niceness: int = DEFAULT_NICENESS

    def __post_init__(self) -> None:
        if not 0 <= self.niceness <= 19:
            raise UserInputError(f"the sandbox's niceness must be from 0 to 19, not {self.niceness}")


@dataclass(frozen=True)
class TaskNeeds:
    """What a bundle's task settings ask of the contributor's machine."""

    network: bool = False


@dataclass(frozen=True)
class BundleRun:
    """How a run of a bundle ended."""

    exit_code: int
    seconds: float
    output_dir: Path
    #: Why it was stopped, if a limit stopped it (``the CPU-time limit``...).
    stopped_by: str | None = None
    output_truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.stopped_by is None

    def describe(self) -> str:
        if self.stopped_by:
            return f"{START_SCRIPT} was stopped by {self.stopped_by} (exit code {self.exit_code})"
        return f"{START_SCRIPT} exited with code {self.exit_code}"


# --------------------------------------------------------------------------- what a task asks


def task_needs(bundle_dir: str | Path) -> TaskNeeds:
    """Read what the bundle's ``task_settings.json`` asks for: ``"NETWORK": true`` says
    the bundle needs the network (to download its data, say). The file is the creator's:
    it is read as data, with a size limit, and anything malformed is refused."""
    path = Path(bundle_dir) / TASK_SETTINGS_FILE
    try:
        st = path.lstat()
    except FileNotFoundError:
        return TaskNeeds()
    if not stat.S_ISREG(st.st_mode):
        raise BundleError(f"the bundle's {TASK_SETTINGS_FILE} is not a regular file")
    if st.st_size > MAX_TASK_SETTINGS_BYTES:
        raise BundleError(f"the bundle's {TASK_SETTINGS_FILE} is {st.st_size} bytes; "
                          f"at most {MAX_TASK_SETTINGS_BYTES} are read")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"the bundle's {TASK_SETTINGS_FILE} is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise BundleError(f"the bundle's {TASK_SETTINGS_FILE} is not a JSON object")
    network = {k.upper(): v for k, v in data.items() if isinstance(k, str)}.get(NETWORK_SETTING, False)
    if not isinstance(network, bool):
        raise BundleError(f"the bundle's {TASK_SETTINGS_FILE}: {NETWORK_SETTING} must be true or "
                          f"false, not {json.dumps(network)[:40]}")
    return TaskNeeds(network=network)


# --------------------------------------------------------------------------- the machine


def bwrap_path() -> str:
    found = shutil.which("bwrap")
    if not found:
        raise SandboxUnavailableError(
            "bubblewrap (bwrap) is not installed; install it (Debian: apt-get install bubblewrap) "
            "to run task bundles in a sandbox")
    return found


_checked: set[str] = set()


def check_available() -> None:
    """Make a trial sandbox; raise SandboxUnavailableError saying why it cannot be made
    (bwrap missing, user namespaces disabled...). Checked once per process."""
    bwrap = bwrap_path()
    if bwrap in _checked:
        return
    argv = [bwrap, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--clearenv", *_system_args(()),
            "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=60, env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SandboxUnavailableError(f"bwrap cannot run: {error}") from None
    if proc.returncode != 0:
        raise SandboxUnavailableError(
            f"bwrap cannot make a sandbox here: {printable(proc.stderr.strip())[:300]} "
            "(unprivileged user namespaces may be disabled on this machine)")
    _checked.add(bwrap)


@dataclass(frozen=True)
class PythonInfo:
    """A Python interpreter as the sandbox needs to know it."""

    executable: str
    #: Folders it needs besides /usr: its prefixes (a venv, a pyenv installation...).
    folders: tuple[Path, ...]
    #: Which of the modules asked about it can import.
    modules: dict[str, bool]


def probe_python(python: str, modules: Sequence[str] = ("tensorflow", "tf_keras")) -> PythonInfo:
    """Where the interpreter ``python`` lives and whether it has ``modules`` (found, not
    imported). The interpreter is the contributor's own: it is run outside the sandbox."""
    exe = shutil.which(python) if os.sep not in python else python
    if not exe or not os.access(exe, os.X_OK):
        raise UserInputError(f"no Python interpreter at {python}")
    exe = os.path.abspath(exe)
    code = ("import sys, json, importlib.util as u; "
            "print(json.dumps({'prefixes': [sys.prefix, sys.base_prefix, sys.exec_prefix, "
            "sys.base_exec_prefix], 'modules': {m: u.find_spec(m) is not None for m in sys.argv[1:]}}))")
    try:
        proc = subprocess.run([exe, "-I", "-c", code, *modules], stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=120,
                              env={"PATH": "/usr/bin:/bin"})
        info = json.loads(proc.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError) as error:
        raise UserInputError(f"{exe} does not run as a Python interpreter: {error}") from None
    folders = {Path(p).resolve() for p in info["prefixes"]}
    folders.add(Path(os.path.realpath(exe)).parent)
    return PythonInfo(exe, tuple(sorted(folders)), dict(info["modules"]))


def secret_paths(environ: Mapping[str, str] | None = None,
                 extra: Iterable[str | Path] = ()) -> list[Path]:
    """Paths that hold the contributor's secrets: their home (the config, key and state
    folders, ~/.aws, ~/.ssh...), and wherever the environment says a key, config or
    credentials file is. None of them may be shown to a bundle."""
    environ = os.environ if environ is None else environ
    home = Path.home()
    candidates: list[str | Path] = [home, *(home / name for name in _HOME_SECRETS), *extra]
    for name in ("HOME", "DECENTRALML_KEY_FILE", "DECENTRALML_CONFIG", "DECENTRALML_STATE_DIR",
                 "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "AWS_SHARED_CREDENTIALS_FILE",
                 "AWS_CONFIG_FILE", "GOOGLE_APPLICATION_CREDENTIALS"):
        if environ.get(name):
            candidates.append(environ[name])
    found = []
    for path in candidates:
        resolved = Path(os.path.realpath(Path(path).expanduser()))
        if resolved != Path("/") and resolved not in found:
            found.append(resolved)
    return found


#: Folders under a home that hold secrets, kept out of reach even when a folder shown to a
#: bundle is inside the home (a Python installed in ~/.local, say).
_HOME_SECRETS = (".config", ".local/state", ".local/share/keyrings", ".aws", ".ssh", ".gnupg",
                 ".docker", ".kube", ".netrc", ".git-credentials", ".pypirc")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _check_shown(path: Path, what: str, secrets: Sequence[Path]) -> Path:
    """A folder to show the bundle: refused if it is, or holds, a secret path."""
    resolved = Path(os.path.realpath(path))
    if resolved == Path("/"):
        raise UserInputError(f"{what} is the whole file system; it cannot be shown to a bundle")
    for secret in secrets:
        if _inside(secret, resolved):
            raise UserInputError(
                f"{what} ({resolved}) holds {secret}, which must stay out of the bundle's reach; "
                "use a folder of its own")
    return resolved


def shown_folders(settings: SandboxSettings, python: PythonInfo | None = None,
                  secrets: Iterable[str | Path] = ()) -> list[Path]:
    """The host folders a bundle is shown read-only besides the system: the Python's, the
    extra ones asked for and keras' data-set cache. Raises UserInputError for one that is,
    or holds, a secret path (:func:`secret_paths`); check before taking a slot."""
    python = python or probe_python(settings.python, modules=())
    hidden = secret_paths(extra=secrets)
    shown = [_check_shown(folder, f"the Python {python.executable}'s folder", hidden)
             for folder in python.folders]
    shown += [_check_shown(Path(folder), f"the folder {folder}", hidden)
              for folder in settings.read_only]
    for cache in SHARED_CACHES:
        host = Path.home() / cache
        if host.is_dir() and not host.is_symlink():
            _check_shown(host, f"the cache {host}", hidden)
    return sorted({f for f in shown if not any(_inside(f, Path(d)) for d in SYSTEM_DIRS)})


def _hidden_system_entries(secrets: Sequence[Path]) -> list[tuple[Path, bool]]:
    """(path, is_dir) under /etc that a user other than root could not read, and secret
    paths under the system folders: the sandbox hides them (the bundle may run as root)."""
    hidden: list[tuple[Path, bool]] = []
    seen = 0
    for top, dirs, files in os.walk("/etc"):
        kept = []
        for name in dirs:
            path = Path(top) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode) and (st.st_mode & 0o005) != 0o005:
                hidden.append((path, True))
            elif stat.S_ISDIR(st.st_mode):
                kept.append(name)
        dirs[:] = kept
        for name in files:
            path = Path(top) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and not st.st_mode & 0o004:
                hidden.append((path, False))
        seen += len(files) + len(dirs)
        if seen > MAX_ETC_ENTRIES:
            log.warning("/etc has more than %d entries; only the first were checked", MAX_ETC_ENTRIES)
            break
    for secret in secrets:
        if any(_inside(secret, Path(d)) for d in SYSTEM_DIRS) and secret.exists():
            hidden.append((secret, secret.is_dir()))
    return hidden


def _system_args(secrets: Sequence[Path]) -> list[str]:
    args: list[str] = []
    for folder in SYSTEM_DIRS:
        if os.path.isdir(folder):
            args += ["--ro-bind", folder, folder]
    for link in SYSTEM_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for path, is_dir in _hidden_system_entries(secrets):
        args += ["--tmpfs", str(path)] if is_dir else ["--ro-bind", "/dev/null", str(path)]
    return args


# --------------------------------------------------------------------------- running


def _bundle_env(env: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(env) - BUNDLE_ENVIRONMENT)
    if unknown:
        raise ValueError(f"not for a bundle's environment: {', '.join(unknown)} "
                         f"(allowed: {', '.join(sorted(BUNDLE_ENVIRONMENT))})")
    for name, value in env.items():
        if "\0" in value or len(value) > MAX_ENV_VALUE:
            raise UserInputError(f"{name} is not a short text")
    return dict(env)


PRLIMIT = "/usr/bin/prlimit"


def _prlimit(limits: Limits) -> list[str]:
    if not os.access(PRLIMIT, os.X_OK):
        raise SandboxUnavailableError(f"{PRLIMIT} (util-linux) is missing: the limits cannot be set")
    return [PRLIMIT, f"--cpu={limits.cpu_seconds}:{limits.cpu_seconds + 5}",
            f"--as={limits.memory_bytes}", f"--fsize={limits.file_bytes}", "--core=0", "--"]


def sandbox_argv(bundle_dir: Path, env: Mapping[str, str], args: Sequence[str],
                 settings: SandboxSettings, python: PythonInfo,
                 secrets: Sequence[Path]) -> list[str]:
    """The bwrap command that runs the bundle's start_task.sh (see the module's docstring)."""
    home = TASK_DIR / HOME_NAME
    # Its own user namespace, in which it may not make another: fewer kernel paths to attack.
    argv = _die_with_us() + _nice(settings.niceness) + [bwrap_path(), "--unshare-all", "--unshare-user",
                                                         "--disable-userns"]
    if settings.network:
        argv.append("--share-net")
    argv += ["--die-with-parent", "--new-session", "--cap-drop", "ALL", "--clearenv"]
    argv += _system_args(secrets)
    if settings.network:
        resolv = Path(os.path.realpath("/etc/resolv.conf"))
        if resolv.is_file() and not _inside(resolv, Path("/etc")):
            argv += ["--ro-bind", str(resolv), str(resolv)]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/var",
             "--tmpfs", "/var/tmp"]
    for folder in shown_folders(settings, python, secrets):
        argv += ["--ro-bind", str(folder), str(folder)]
    argv += ["--bind", str(bundle_dir), str(TASK_DIR)]
    for cache in SHARED_CACHES:
        host = Path.home() / cache
        if host.is_dir() and not host.is_symlink():
            argv += ["--ro-bind", str(host), str(home / cache)]
    argv += ["--chdir", str(TASK_DIR)]
    full_env = {**_bundle_env(env), **_fixed_env(home, TASK_DIR / OUTPUT_NAME, python.executable)}
    for name, value in sorted(full_env.items()):
        argv += ["--setenv", name, value]
    argv += _prlimit(settings.limits)
    argv += ["/bin/bash", str(TASK_DIR / START_SCRIPT), *args]
    return argv


def _die_with_us() -> list[str]:
    """A prefix that kills the run when the client dies (bwrap has no option for it)."""
    setpriv = shutil.which("setpriv", path="/usr/bin:/bin")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


def _nice(niceness: int) -> list[str]:
    """A prefix that lowers the run's CPU priority by ``niceness`` (its children inherit it)."""
    if niceness == 0:
        return []
    nice = shutil.which("nice", path="/usr/bin:/bin")
    if nice is None:
        raise SandboxUnavailableError("nice (coreutils) is missing: the bundle's priority cannot be lowered")
    return [nice, "-n", str(niceness)]


def _fixed_env(home: Path, output: Path, python: str) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TMPDIR": "/tmp",
            "LANG": "C.UTF-8", "DECENTRALML_PYTHON": python, "DECENTRALML_OUTPUT_DIR": str(output),
            "DECENTRALML_SANDBOX": "1"}


def prepare_bundle_dir(bundle_dir: str | Path) -> Path:
    """Check a bundle folder can be run: it has a start_task.sh (a regular file) and no
    results yet (``output/`` missing or empty, so a result found after the run is the
    run's own). Returns the folder, resolved."""
    folder = Path(bundle_dir).resolve()
    script = folder / START_SCRIPT
    try:
        st = script.lstat()
    except FileNotFoundError:
        raise BundleError(f"the bundle has no {START_SCRIPT} ({script})") from None
    if not stat.S_ISREG(st.st_mode):
        raise BundleError(f"the bundle's {START_SCRIPT} is not a regular file")
    for name in (OUTPUT_NAME, HOME_NAME):
        path = folder / name
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise BundleError(f"the bundle's {name} is not a folder")
    output = folder / OUTPUT_NAME
    if output.is_dir() and any(output.iterdir()):
        raise BundleError(f"{output} already holds files (a result of an earlier run?); "
                          "fetch the bundle into a new folder to run it again")
    return folder


def run_bundle(bundle_dir: str | Path, env: Mapping[str, str] | None = None,
               args: Sequence[str] = (), settings: SandboxSettings | None = None,
               echo: Callable[[str], None] | None = None,
               secrets: Iterable[str | Path] = (),
               cancel: threading.Event | None = None) -> BundleRun:
    """Run the bundle's ``start_task.sh`` with ``env`` (names from
    :data:`BUNDLE_ENVIRONMENT` only) and ``args``; its output, control characters
    escaped, goes to ``echo`` line by line (default: dropped). ``secrets`` are more paths
    to keep out of reach (a key file named on the command line, say). Setting
    ``cancel`` (from another thread) kills the run: it ends stopped by :data:`CANCELLED`.

    Returns how it ended; raises SandboxUnavailableError when no sandbox can be made,
    UserInputError when a folder to show it holds a secret."""
    settings = settings or SandboxSettings()
    env = _bundle_env(env or {})
    folder = prepare_bundle_dir(bundle_dir)
    hidden = secret_paths(extra=secrets)
    _check_shown(folder, "the bundle folder", hidden)  # it is mounted writable
    python = probe_python(settings.python, modules=())
    output = folder / OUTPUT_NAME
    home = folder / HOME_NAME
    output.mkdir(exist_ok=True)
    home.mkdir(mode=0o700, exist_ok=True)
    if settings.isolate:
        check_available()
        argv = sandbox_argv(folder, env, args, settings, python, hidden)
        process_env = {"PATH": "/usr/bin:/bin"}
        cwd = "/"
    else:
        log.warning("running %s WITHOUT the sandbox: it can read your files and use the network",
                    folder / START_SCRIPT)
        process_env = {**env, **_fixed_env(home, output, python.executable)}
        argv = _die_with_us() + _nice(settings.niceness) + _prlimit(settings.limits) \
            + ["/bin/bash", str(folder / START_SCRIPT), *args]
        cwd = str(folder)
    return _supervise(argv, process_env, cwd, settings.limits, output, echo, cancel)


#: Why a run stopped when its caller cancelled it.
CANCELLED = "its caller (cancelled)"


def _supervise(argv: list[str], env: dict[str, str], cwd: str, limits: Limits, output: Path,
               echo: Callable[[str], None] | None, cancel: threading.Event | None = None) -> BundleRun:
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
    pump = _OutputPump(proc.stdout, echo, limits.output_bytes)
    pump.start()
    killed = threading.Event()  # set by the watcher when it kills the run for ``cancel``
    if cancel is not None:
        threading.Thread(target=_kill_when_cancelled, args=(proc, cancel, killed), daemon=True,
                         name="bundle-cancel").start()
    stopped_by = None
    try:
        proc.wait(timeout=limits.wall_seconds)
    except subprocess.TimeoutExpired:
        stopped_by = f"the wall-clock limit ({limits.wall_seconds:g} s)"
        _kill(proc)
    except BaseException:
        _kill(proc)
        raise
    finally:
        pump.join()
    code = proc.returncode
    if code < 0:  # killed by a signal, by us
        code = 128 - code
    if stopped_by is None and killed.is_set():
        stopped_by = CANCELLED
    if stopped_by is None and code > 128:
        try:
            stopped_by = _SIGNAL_EXITS.get(signal.Signals(code - 128))
        except ValueError:
            pass
        if stopped_by == "the CPU-time limit":
            stopped_by += f" ({limits.cpu_seconds} s)"
        elif stopped_by == "the file-size limit":
            stopped_by += f" ({limits.file_bytes} bytes)"
    return BundleRun(code, round(time.monotonic() - started, 2), output, stopped_by, pump.truncated)


def _kill_when_cancelled(proc: subprocess.Popen, cancel: threading.Event,
                         killed: threading.Event) -> None:
    """Kill the run as soon as ``cancel`` is set; return when the run ends by itself."""
    while proc.poll() is None:
        if cancel.wait(0.1):
            if proc.poll() is None:
                killed.set()
                _kill(proc)
            return


def _kill(proc: subprocess.Popen) -> None:
    """Kill the run: its process group (bwrap, or the script run directly, leads one of its
    own); a sandbox's processes die with bwrap."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with control characters (escape sequences, carriage returns...) shown
    as ``\\xNN``, so a bundle's output cannot drive the terminal it is printed on."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class _OutputPump(threading.Thread):
    """Reads the run's output and passes it on, line by line, escaped, up to a limit."""

    def __init__(self, stream, echo: Callable[[str], None] | None, limit: int):
        super().__init__(daemon=True)
        self.stream, self.echo, self.limit = stream, echo, limit
        self.passed = 0
        self.truncated = False

    def run(self) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        partial = ""
        while True:
            chunk = self.stream.read1(64 * KiB) if hasattr(self.stream, "read1") else self.stream.read(64 * KiB)
            if not chunk:
                break
            partial += decoder.decode(chunk)
            *lines, partial = partial.split("\n")
            for line in lines:
                self._emit(line)
            if len(partial) > 64 * KiB:  # a very long line: pass it on in pieces
                self._emit(partial)
                partial = ""
        partial += decoder.decode(b"", final=True)
        if partial:
            self._emit(partial)
        self.stream.close()

    def _emit(self, line: str) -> None:
        if self.truncated:
            return
        self.passed += len(line) + 1
        if self.passed > self.limit:
            self.truncated = True
            if self.echo:
                self.echo(f"[output past {self.limit} bytes dropped]")
            return
        if self.echo:
            try:
                self.echo(printable(line))
            except Exception:  # e.g. a closed terminal: keep draining, or the run would block
                log.debug("cannot pass on the bundle's output", exc_info=True)
                self.echo = None


# --------------------------------------------------------------------------- the result


def find_result(output_dir: str | Path) -> Path:
    """The one SavedModel folder (a folder with ``saved_model.pb``) the bundle left in
    ``output_dir``. Links are never followed: the bundle made them."""
    output = Path(output_dir)
    try:
        st = output.lstat()
    except FileNotFoundError:
        raise BundleError(f"the bundle left no {output} folder") from None
    if not stat.S_ISDIR(st.st_mode):
        raise BundleError(f"{output} is not a folder (the bundle made it a link or a file)")
    found = []
    for entry in sorted(os.scandir(output), key=lambda e: e.name):
        if entry.is_dir(follow_symlinks=False):
            marker = Path(entry.path) / "saved_model.pb"
            try:
                if stat.S_ISREG(marker.lstat().st_mode):
                    found.append(Path(entry.path))
            except FileNotFoundError:
                pass
    if len(found) != 1:
        names = ", ".join(printable(p.name) for p in found[:5])
        raise BundleError(f"the bundle should leave one SavedModel folder in {output}, "
                          f"found {len(found)}{': ' + names if names else ''}")
    return found[0]


__all__ = ["BUNDLE_ENVIRONMENT", "BundleError", "BundleRun", "Limits", "PythonInfo",
           "SandboxSettings", "SandboxUnavailableError", "CANCELLED", "TaskNeeds", "check_available",
           "find_result", "printable", "probe_python", "run_bundle", "secret_paths", "task_needs"]
