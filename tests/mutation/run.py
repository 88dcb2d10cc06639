"""Run the mutation plan: mutmut inside functions, then the constant mutants; report and enforce floors.

    python -m tests.mutation.run [MODULE ...] [--workers 2] [--out mutants]

Per module, in ``<out>/<module>/`` (a scratch copy of the project, never the worktree itself):

1. ``mutmut run`` with ``only_mutate`` = the module and the module's own test selection;
2. every constant mutant (:mod:`tests.mutation.constants`) written into ``--workers`` further copies
   and the same tests run against it, one forked pytest a mutant (heavy imports are made once);
3. killed / survived / total of both, the survivors' diffs, and the score against the floor.

``<out>/report.json`` holds everything; the table is printed. Exit 1 when a module is below its floor.
A mutant counts as killed when a test fails (or the run times out, as mutmut counts it); a mutant
no test reaches counts as survived.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.mutation.constants import Mutant, constant_mutants
from tests.mutation.plan import MODULES, SEED, Module

ROOT = Path(__file__).resolve().parents[2]
COPIED = ("irkit", "tests", "runbooks", "docs")
MUTMUT_STATUS = {1: "killed", 3: "killed", 36: "timeout", -24: "timeout", 24: "timeout", 152: "timeout", 255: "timeout"}
MUTMUT_SURVIVED = {0: "survived", 5: "no tests", 33: "no tests"}


@dataclass
class Score:
    killed: int = 0
    survived: int = 0
    survivors: list[dict[str, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.killed + self.survived


@dataclass
class ModuleResult:
    name: str
    path: str
    floor: float
    functions: Score
    constants: Score
    seconds: float
    sample: int | None = None

    @property
    def score(self) -> float:
        total = self.functions.total + self.constants.total
        return 100.0 * (self.functions.killed + self.constants.killed) / total if total else 0.0


def _copy_project(dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for name in COPIED:
        shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _write_mutmut_config(project: Path, module: Module) -> None:
    """The copy's ``[tool.mutmut]``: this module only, this module's tests."""
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    section = (
        "[tool.mutmut]\n"
        'source_paths = ["irkit/"]\n'
        f"only_mutate = {_toml_list([module.path])}\n"
        'also_copy = ["runbooks/", "docs/"]\n'
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-p", "tests.mutation.order"]\n'
        f"pytest_add_cli_args_test_selection = {_toml_list(list(module.tests))}\n"
        "use_git_change_detection = false\n"
    )
    match = re.search(r"^\[tool\.mutmut\]\n(?:(?!^\[).*\n?)*", text, flags=re.MULTILINE)
    text = text[: match.start()] + section + text[match.end() :] if match else text.rstrip() + "\n\n" + section
    (project / "pyproject.toml").write_text(text, encoding="utf-8")


def _sampled(names: list[str], size: int | None) -> list[str]:
    """``size`` of the mutant names, the same ones for the same source (fixed seed, sorted input)."""
    if size is None or size >= len(names):
        return sorted(names)
    return sorted(random.Random(SEED).sample(sorted(names), size))


def _mutmut(project: Path, module: Module, workers: int, log: Path) -> Score:
    env = {**os.environ, "PYTHONPATH": ""}
    meta = project / "mutants" / (module.path + ".meta")
    chosen: list[str] = []
    if module.sample is not None:
        # mutmut generates every mutant and collects its test stats before it filters by name: a
        # name that matches nothing stops it right there, with the mutants listed in the meta file.
        with log.open("w") as fh:
            subprocess.run(
                [sys.executable, "-m", "mutmut", "run", "--max-children", str(workers), "no-such-mutant"],
                cwd=project, env=env, stdout=fh, stderr=subprocess.STDOUT, check=False,
            )  # fmt: skip
        if not meta.is_file():
            raise SystemExit(f"mutmut generated no mutants for {module.name}; see {log}")
        chosen = _sampled(list(json.loads(meta.read_text())["exit_code_by_key"]), module.sample)
    with log.open("a") as fh:
        proc = subprocess.run(
            [sys.executable, "-m", "mutmut", "run", "--max-children", str(workers), *chosen],
            cwd=project,
            env=env,
            stdout=fh,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if proc.returncode != 0 or not meta.is_file():
        raise SystemExit(f"mutmut failed for {module.name} (exit {proc.returncode}); see {log}")
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    if chosen:
        codes = {name: codes.get(name) for name in chosen}
    score = Score()
    for name, code in sorted(codes.items()):
        if code in MUTMUT_STATUS:
            score.killed += 1
            continue
        status = MUTMUT_SURVIVED.get(code, f"exit {code}") if code is not None else "not run"
        score.survived += 1
        shown = subprocess.run(
            [sys.executable, "-m", "mutmut", "show", name],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        score.survivors.append({"name": name, "status": status, "diff": shown.strip()})
    return score


# -- constant mutants: one forked pytest a mutant ---------------------------------------------------

_HEAVY = ("boto3", "botocore.session", "moto", "moto.server", "cryptography", "hypothesis", "orjson", "yaml", "typer")


def _preload() -> None:
    """Import once what every test run imports (never irkit or the tests: those come from the copy)."""
    import importlib

    import pytest  # noqa: F401  (loaded before the fork on purpose)

    for name in _HEAVY:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)


def _child(project: Path, tests: tuple[str, ...], log: Path) -> None:
    """In the forked child: forget irkit and the tests, run pytest on the copy, exit with its code."""
    code = 99
    try:
        os.setpgid(0, 0)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        for name in list(sys.modules):
            if name.split(".")[0] in {"irkit", "tests"}:
                del sys.modules[name]
        sys.path[:] = [str(project)] + [p for p in sys.path if p and Path(p).resolve() != ROOT]
        os.chdir(project)
        import pytest

        args = ["-x", "-q", "-p", "no:cacheprovider", "-p", "tests.mutation.order", f"--rootdir={project}"]
        code = int(pytest.main([*args, *tests]))
    except BaseException:
        code = 98
    finally:
        os._exit(code)


def _fork(project: Path, tests: tuple[str, ...], log: Path) -> int:
    pid = os.fork()
    if pid == 0:
        _child(project, tests, log)
    return pid


def _wait(running: dict[int, tuple[float, Any]], timeout: float) -> tuple[int, int | None, Any]:
    """The next child to finish: (pid, exit code or None for a timeout, its tag)."""
    while True:
        for pid, (started, tag) in list(running.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                del running[pid]
                return pid, os.waitstatus_to_exitcode(status), tag
            if time.monotonic() - started > timeout:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                del running[pid]
                return pid, None, tag
        time.sleep(0.05)


def _constants(base: Path, module: Module, workers: int) -> Score:
    source = (ROOT / module.path).read_text(encoding="utf-8")
    mutants = constant_mutants(module.path, source, module.hand)
    copies = []
    for k in range(workers):
        copy = base / f"constants-{k}"
        _copy_project(copy)
        copies.append(copy)
    sys.dont_write_bytecode = True
    _preload()
    # The clean run must pass (else every mutant would look killed) and sets the timeout.
    started = time.monotonic()
    pid = _fork(copies[0], module.tests, base / "constants-clean.log")
    _, clean = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(clean) != 0:
        raise SystemExit(f"the clean test run of {module.name} fails; see {base / 'constants-clean.log'}")
    timeout = max(60.0, 5 * (time.monotonic() - started))
    score = Score()
    free = list(copies)
    running: dict[int, tuple[float, Any]] = {}
    pending = list(mutants)

    def finish(code: int | None, tag: tuple[Path, Mutant]) -> None:
        copy, mutant = tag
        (copy / module.path).write_text(source, encoding="utf-8")
        free.append(copy)
        if code is None or code != 0:
            score.killed += 1
            return
        score.survived += 1
        diff = difflib.unified_diff(
            source.splitlines(), mutant.source.splitlines(), module.path, module.path, n=0, lineterm=""
        )
        score.survivors.append({"name": mutant.name, "status": "survived", "diff": "\n".join(diff)})

    while pending or running:
        while pending and free:
            copy, mutant = free.pop(), pending.pop(0)
            (copy / module.path).write_text(mutant.source, encoding="utf-8")
            pid = _fork(copy, module.tests, copy / "last-run.log")
            running[pid] = (time.monotonic(), (copy, mutant))
        _, code, tag = _wait(running, timeout)
        finish(code, tag)
    return score


def run_module(module: Module, out: Path, workers: int, *, mutmut: bool, constants: bool) -> ModuleResult:
    started = time.monotonic()
    base = out / module.name
    project = base / "project"
    functions, consts = Score(), Score()
    if mutmut:
        _copy_project(project)
        _write_mutmut_config(project, module)
        functions = _mutmut(project, module, workers, base / "mutmut.log")
    if constants:
        consts = _constants(base, module, workers)
    seconds = time.monotonic() - started
    return ModuleResult(module.name, module.path, module.floor, functions, consts, seconds, module.sample)


def table(results: list[ModuleResult]) -> str:
    lines = [
        "| module | functions (killed / total) | constants (killed / total) | score | floor | minutes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        sampled = f" (sample of {r.sample})" if r.sample is not None else ""
        lines.append(
            f"| {r.path} | {r.functions.killed} / {r.functions.total}{sampled} "
            f"| {r.constants.killed} / {r.constants.total} "
            f"| {r.score:.1f} % | {r.floor:.0f} % | {r.seconds / 60:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module names from tests/mutation/plan.py (default: all)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "mutants")
    parser.add_argument("--no-mutmut", action="store_true", help="constant mutants only")
    parser.add_argument("--no-constants", action="store_true", help="mutmut only")
    args = parser.parse_args(argv)
    known = {m.name: m for m in MODULES}
    unknown = [n for n in args.modules if n not in known]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; known: {sorted(known)}")
    chosen = [known[n] for n in args.modules] if args.modules else list(MODULES)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for module in chosen:
        print(f"== {module.name}: {module.path}", flush=True)
        result = run_module(module, out, args.workers, mutmut=not args.no_mutmut, constants=not args.no_constants)
        print(
            f"   functions {result.functions.killed}/{result.functions.total}, constants "
            f"{result.constants.killed}/{result.constants.total}, score {result.score:.1f} % "
            f"({result.seconds / 60:.1f} min)",
            flush=True,
        )
        results.append(result)
    report = [
        {**asdict(r), "score": round(r.score, 1), "total": r.functions.total + r.constants.total} for r in results
    ]
    (out / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print()
    print(table(results))
    survivors = [(r.name, s) for r in results for s in r.functions.survivors + r.constants.survivors]
    if survivors:
        print(f"\n{len(survivors)} survivors (diffs in {out / 'report.json'}):")
        for name, s in survivors:
            print(f"  {name}: {s['name']} ({s['status']})")
    below = [r for r in results if r.score < r.floor]
    for r in below:
        print(f"\nBELOW THE FLOOR: {r.path} scores {r.score:.1f} %, the floor is {r.floor:.0f} %")
    return 1 if below else 0


if __name__ == "__main__":
    raise SystemExit(main())
