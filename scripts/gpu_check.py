#!/usr/bin/env python3
"""The GPU check runner: runs the bundle that scripts/gpu-bundle.sh made on a GPU machine and writes the record.

usage (on the GPU machine, from anywhere):  gpu-bundle/run.sh [--out DIR] [--budget SECONDS] [--skip-memcheck]
                                            [--skip-bench] [--memcheck-filter GTEST_FILTER] [--skip-tests]
                                            [--skip-pytorch] [--bench-filter REGEX] [--bench-args ARGS]
                                            [--only-train-step]

It unpacks gpu-bundle/payload.tar.xz into a scratch folder, points LD_LIBRARY_PATH at the bundled libraries, the
machine's cuBLAS (CUDA toolkit or the Python environment's nvidia packages) and cuDNN (the Python environment's
nvidia-cudnn-cu13 package), and then:
  1. prints the GPU, driver, CUDA and cuDNN versions (nvidia-smi, nvcc, the Python package metadata);
  2. runs every test label's GoogleTest binary directly (no CTest: the build tree is not there), with
     GAN_TEST_DATA_DIR pointing at the bundled tests/ data, and counts passed / failed / skipped from its XML
     report (or from its output when it crashed before writing one);
  3. runs compute-sanitizer memcheck on the gpu label, with the caching allocator off (GAN_CUDA_ALLOC=direct) so
     that every allocation's real bounds are checked;
  4. runs every benchmark program (cuda_* first, then train_step_bench) and copies the markdown tables they print
     (or, for a program that prints none, makes one from its Google Benchmark JSON); train_step_bench's JSON and
     CSV are kept as OUT/train_step_bench.json and OUT/train_step_bench.csv;
  5. runs the PyTorch peer of the training-step benchmark (pytorch_train_step.py, carried beside this file) with
     this machine's python3 (the one running this script), eager and torch.compile, into
     OUT/pytorch_train_step.txt, with --precision bf16 (torch.autocast) when GAN_PRECISION=bf16 puts ours in bf16
     (unless --pytorch-args names a --precision); skipped with a note when PyTorch cannot be imported;
  6. writes OUT/gpu-check.md (OUT: --out, else $OUT, else ./gpu-check-out) with a train-step section (ours vs
     PyTorch, made by make_train_step_table.py, also written alone as OUT/train-step.md) and the full logs beside it.
--only-train-step runs just 4 (train_step_bench alone) and 5 with the whole budget: the full run rarely leaves the
PyTorch peer enough time for torch.compile, so run the bundle a second time with it.
Everything runs under one time budget (default 540 s, inside the device tool's 10 minutes per command); a phase
that no longer fits is recorded as not run. The exit status is 0 whenever the record was written, also when tests
failed: the record's first line says PASS, FAIL or INCOMPLETE, and the reasons follow. Standard library only.
"""
import argparse
import datetime
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET

LABEL_ORDER = ["core", "gradcheck", "io", "gpu", "models", "apps"]
NO_CUDA_SKIP = "no CUDA device"  # the gpu suite's skip message (tests/gpu/gpu_test_util.h)
MAX_FAILURES_SHOWN = 40
MAX_MESSAGE_CHARS = 1500


class Budget:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return max(0.0, self.end - time.monotonic())


def run(cmd, env, timeout, cwd=None):
    """Runs cmd in its own process group; returns (exit code or None on timeout, output text, seconds)."""
    start = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
    except OSError as e:
        return 127, f"could not start {cmd[0]}: {e}\n", 0.0
    try:
        out, _ = proc.communicate(timeout=max(1.0, timeout))
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = proc.communicate()
        rc = None
    return rc, out.decode("utf-8", "replace"), time.monotonic() - start


def describe_rc(rc):
    if rc is None:
        return "timed out (killed)"
    if rc < 0:
        try:
            return f"killed by signal {signal.Signals(-rc).name}"
        except ValueError:
            return f"killed by signal {-rc}"
    return f"exit status {rc}"


def clip(text, limit=MAX_MESSAGE_CHARS):
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more characters)"


# ---- environment --------------------------------------------------------------------------------------------------

def first_line(cmd):
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60).stdout
        return out.decode("utf-8", "replace").strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def find_tool(name):
    found = shutil.which(name)
    if found:
        return found
    for pattern in (f"/usr/local/cuda/bin/{name}", f"/usr/local/cuda*/bin/{name}",
                    f"/usr/local/cuda*/{name}/{name}", f"/opt/nvidia/*/{name}"):
        hits = sorted(glob.glob(pattern))
        if hits:
            return hits[-1]
    return None


def site_dirs():
    import site
    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    dirs += [site.getusersitepackages()] if hasattr(site, "getusersitepackages") else []
    dirs += [p for p in sys.path if p.endswith("-packages")]
    return [d for i, d in enumerate(dirs) if d and os.path.isdir(d) and d not in dirs[:i]]


def dist_version(prefixes):
    try:
        from importlib import metadata
    except ImportError:
        return ""
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower()
        if any(name.startswith(p) for p in prefixes):
            return f"{name} {dist.version}"
    return ""


def lib_dir_of(soname, candidates):
    for d in candidates:
        if glob.glob(os.path.join(d, soname + "*")):
            return d
    return None


def header_version(path, prefix):
    try:
        text = open(path).read()
    except OSError:
        return ""
    parts = [re.search(rf"#define {prefix}_{k}\s+(\d+)", text) for k in ("MAJOR", "MINOR", "PATCHLEVEL")]
    return ".".join(m.group(1) for m in parts if m)


def environment(manifest):
    env = {}
    smi = find_tool("nvidia-smi")
    gpus = []
    if smi:
        q = first_line([smi, "--query-gpu=name,driver_version,memory.total,compute_cap", "--format=csv,noheader"])
        gpus = [line.strip() for line in q.splitlines() if line.strip()]
        m = re.search(r"CUDA Version:\s*([\d.]+)", first_line([smi]))
        env["driver_cuda"] = m.group(1) if m else "?"
    env["gpus"] = gpus
    env["gpu"] = gpus[0].split(",")[0].strip() if gpus else "none visible"
    env["driver"] = gpus[0].split(",")[1].strip() if gpus and "," in gpus[0] else "?"
    nvcc = find_tool("nvcc")
    release = re.search(r"release [^\n]*", first_line([nvcc, "--version"])) if nvcc else None
    env["nvcc_here"] = release.group(0) if release else ("found, version unknown" if nvcc else "not found")
    env["nvcc_build"] = manifest.get("nvcc", "?")
    env["sanitizer"] = find_tool("compute-sanitizer")

    sites = site_dirs()
    nv = [d for s in sites for d in glob.glob(os.path.join(s, "nvidia", "*", "lib"))]
    cuda_dirs = [d for d in ("/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib",
                             "/usr/local/cuda/lib") if os.path.isdir(d)]
    cudnn_dir = lib_dir_of("libcudnn.so.9", [d for d in nv if "/cudnn/" in d] + nv + cuda_dirs +
                           ["/usr/lib/x86_64-linux-gnu"])
    cublas_dir = lib_dir_of("libcublas.so.13", cuda_dirs + nv)
    env["cudnn_dir"], env["cublas_dir"] = cudnn_dir, cublas_dir
    cudnn_hdr = os.path.join(os.path.dirname(cudnn_dir), "include", "cudnn_version.h") if cudnn_dir else ""
    env["cudnn"] = " ".join(x for x in (header_version(cudnn_hdr, "CUDNN"),
                                         f"({dist_version(['nvidia-cudnn'])})" if dist_version(['nvidia-cudnn'])
                                         else "") if x) or ("found, version unknown" if cudnn_dir else "not found")
    cublas_real = os.path.realpath(os.path.join(cublas_dir, "libcublas.so.13")) if cublas_dir else ""
    env["cublas"] = re.sub(r".*libcublas\.so\.", "", cublas_real) if cublas_real else "not found"
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        model = "?"
    env["cpu"] = f"{os.cpu_count()} cores, {model}"
    env["host"] = " ".join(os.uname()[2:3]) + ", " + first_line(["sh", "-c", ". /etc/os-release; echo $PRETTY_NAME"])
    env["python"] = sys.version.split()[0]
    return env


# ---- tests --------------------------------------------------------------------------------------------------------

def parse_gtest_xml(path):
    """[(name, status, message)] with status passed / failed / skipped / disabled."""
    cases = []
    for tc in ET.parse(path).getroot().iter("testcase"):
        name = f"{tc.get('classname')}.{tc.get('name')}"
        if tc.get("value_param"):
            name += f" [{tc.get('value_param')}]"
        failures = tc.findall("failure")
        skipped = tc.find("skipped")
        if failures:
            msg = "\n".join((f.text or f.get("message") or "").strip() for f in failures)
            cases.append((name, "failed", msg))
        elif tc.get("result") == "skipped" or skipped is not None:
            msg = (skipped.get("message") if skipped is not None else "") or ""
            cases.append((name, "skipped", msg))
        elif tc.get("status") == "notrun" or tc.get("result") == "suppressed":
            cases.append((name, "disabled", ""))
        else:
            cases.append((name, "passed", ""))
    return cases


def parse_gtest_output(text):
    """The same from a console log (for a binary that died before writing its XML); also the test it died in."""
    cases, running = [], None
    for line in text.splitlines():
        m = re.match(r"\[ RUN      \] (\S+)", line)
        if m:
            running = m.group(1)
            continue
        m = re.match(r"\[\s+(OK|FAILED|SKIPPED)\s+\] (\S+) \(\d+ ms\)", line)
        if m:
            status = {"OK": "passed", "FAILED": "failed", "SKIPPED": "skipped"}[m.group(1)]
            cases.append((m.group(2), status, "see the log" if status == "failed" else ""))
            running = None
    return cases, running


def skip_reason(message):
    """A skip message without its file:line prefix, for grouping."""
    lines = [l.strip() for l in message.strip().splitlines() if l.strip()]
    lines = [re.sub(r"^\S+:\d+:\s*", "", l) for l in lines if not re.fullmatch(r"\S+:\d+:?", l)]
    return lines[0] if lines else "(no message)"


def run_label(label, binary, env, scratch, timeout, log):
    xml = os.path.join(scratch, f"{label}.xml")
    rc, out, secs = run([binary, f"--gtest_output=xml:{xml}", "--gtest_color=no"], env, timeout, cwd=scratch)
    log.write(f"\n==== {label}: {binary} ({describe_rc(rc)}, {secs:.1f} s) ====\n{out}")
    res = {"label": label, "rc": rc, "seconds": secs, "note": ""}
    cases = None
    if os.path.exists(xml):
        try:
            cases = parse_gtest_xml(xml)
        except ET.ParseError as e:
            res["note"] = f"unreadable XML report ({e}); counted from the output. "
    if cases is None:
        cases, running = parse_gtest_output(out)
        if rc != 0:
            res["note"] += f"{describe_rc(rc)}" + (f" during {running}" if running else "") + \
                "; counts are of the tests that finished. "
            tail = "\n".join(out.strip().splitlines()[-15:])
            cases.append((f"{label} binary", "failed", f"{describe_rc(rc)}"
                          + (f" during {running}" if running else "") + f"; last output:\n{tail}"))
    elif rc not in (0, 1):  # 1 is gtest's "some test failed"; anything else after a full XML is odd
        res["note"] += f"{describe_rc(rc)} after all tests ran. "
        cases.append((f"{label} binary", "failed", f"{describe_rc(rc)} after writing its report"))
    if not cases:
        res["note"] += "no tests ran. "
        cases.append((f"{label} binary", "failed", "no tests ran:\n" + clip(out, 500)))
    res["cases"] = cases
    for k in ("passed", "failed", "skipped", "disabled"):
        res[k] = sum(1 for c in cases if c[1] == k)
    return res


# ---- memcheck -----------------------------------------------------------------------------------------------------

def run_memcheck(sanitizer, binary, env, scratch, timeout, gtest_filter, log):
    slog = os.path.join(scratch, "memcheck.log")
    xml = os.path.join(scratch, "memcheck.xml")
    cmd = [sanitizer, "--tool", "memcheck", "--error-exitcode", "86", "--print-limit", "50",
           "--log-file", slog, binary, f"--gtest_output=xml:{xml}", "--gtest_color=no"]
    if gtest_filter:
        cmd.append(f"--gtest_filter={gtest_filter}")
    menv = dict(env, GAN_CUDA_ALLOC="direct")
    rc, out, secs = run(cmd, menv, timeout, cwd=scratch)
    report = open(slog, errors="replace").read() if os.path.exists(slog) else ""
    log.write(f"\n==== memcheck: {' '.join(cmd)} ({describe_rc(rc)}, {secs:.1f} s) ====\n{out}\n"
              f"---- sanitizer log ----\n{report}")
    m = re.search(r"ERROR SUMMARY:\s*(\d+) error", report)
    res = {"rc": rc, "seconds": secs, "errors": int(m.group(1)) if m else None, "filter": gtest_filter or "*"}
    res["summary_line"] = m.group(0) if m else ""
    res["report"] = clip("\n".join(l for l in report.splitlines() if l.startswith("=========")), 4000)
    cases = []
    if os.path.exists(xml):
        try:
            cases = parse_gtest_xml(xml)
        except ET.ParseError:
            cases = []
    if not cases:
        cases, _ = parse_gtest_output(out)
    res["cases"] = cases
    for k in ("passed", "failed", "skipped"):
        res[k] = sum(1 for c in cases if c[1] == k)
    return res


# ---- benchmarks ---------------------------------------------------------------------------------------------------

def markdown_blocks(text):
    """Heading and table lines a program printed (the CUDA benchmarks end with '## title' and a table)."""
    lines = [l.rstrip() for l in text.splitlines()]
    keep = []
    for i, line in enumerate(lines):
        if line.startswith("|"):
            keep.append(line)
        elif line.startswith("#") and any(l.startswith("|") for l in lines[i + 1:i + 4]):
            keep.append("")
            keep.append("**" + line.lstrip("#").strip() + "**")
            keep.append("")
    return "\n".join(keep).strip()


def table_from_json(path):
    try:
        data = json.load(open(path))
    except (OSError, ValueError):
        return ""
    rows = ["| benchmark | real time | CPU time | iterations | counters |", "| --- | ---: | ---: | ---: | --- |"]
    skip = {"name", "run_name", "run_type", "repetitions", "repetition_index", "threads", "iterations", "real_time",
            "cpu_time", "time_unit", "family_index", "per_family_instance_index", "aggregate_name", "label"}
    for b in data.get("benchmarks", []):
        if b.get("error_occurred"):
            rows.append(f"| {b.get('name')} | error: {b.get('error_message', '')} | | | |")
            continue
        unit = b.get("time_unit", "")
        counters = ", ".join(f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}={v}"
                             for k, v in b.items() if k not in skip)
        rows.append(f"| {b.get('name')} | {b.get('real_time', 0):.4g} {unit} | {b.get('cpu_time', 0):.4g} {unit} | "
                    f"{b.get('iterations', '')} | {counters} |")
    return "\n".join(rows) if len(rows) > 2 else ""


def run_benchmark(program, env, scratch, timeout, log, extra_args=()):
    name = os.path.basename(program)
    js = os.path.join(scratch, f"{name}.json")
    rc, out, secs = run([program, f"--benchmark_out={js}", "--benchmark_out_format=json",
                         "--benchmark_color=false", *extra_args], env, timeout, cwd=scratch)
    log.write(f"\n==== {name} ({describe_rc(rc)}, {secs:.1f} s) ====\n{out}")
    table = markdown_blocks(out) or table_from_json(js)
    return {"name": name, "rc": rc, "seconds": secs, "table": table,
            "tail": "" if rc == 0 else clip("\n".join(out.strip().splitlines()[-10:]), 1500)}


# ---- the training-step benchmark and its PyTorch peer --------------------------------------------------------------

TRAIN_STEP = "train_step_bench"


def bench_rank(name):
    return 0 if name.startswith("cuda_") else (1 if name == TRAIN_STEP else 2)


def run_train_step_bench(program, env, out_dir, timeout, log, commit):
    """train_step_bench with its JSON and CSV kept in out_dir (CSV on the console, JSON through --benchmark_out)."""
    js = os.path.join(out_dir, f"{TRAIN_STEP}.json")
    cs = os.path.join(out_dir, f"{TRAIN_STEP}.csv")
    rc, out, secs = run([program, f"--benchmark_out={js}", "--benchmark_out_format=json", "--benchmark_format=csv",
                         f"--benchmark_context=commit={commit[:12]}"], env, timeout, cwd=out_dir)
    log.write(f"\n==== {TRAIN_STEP} ({describe_rc(rc)}, {secs:.1f} s) ====\n{out}")
    rows = [l for l in out.splitlines() if l.startswith("name,") or l.startswith('"BM_')]
    if rows:
        with open(cs, "w") as f:
            f.write("\n".join(rows) + "\n")
    try:  # a crashed run leaves a truncated JSON file; its console CSV (line-buffered) still has what finished
        json.load(open(js))
        js_ok = True
    except (OSError, ValueError):
        js_ok = False
    return {"name": TRAIN_STEP, "rc": rc, "seconds": secs, "table": table_from_json(js) if js_ok else "",
            "tail": "" if rc == 0 else clip("\n".join(out.strip().splitlines()[-10:]), 1500),
            "json": js if js_ok else None, "csv": cs if rows else None}


def run_pytorch_peer(script, out_dir, timeout, log, commit, started, extra_args):
    """pytorch_train_step.py with sys.executable; its lines go to out_dir/pytorch_train_step.txt."""
    penv = {k: v for k, v in os.environ.items() if not k.startswith("GAN_")}
    txt = os.path.join(out_dir, "pytorch_train_step.txt")
    res = {"rc": None, "seconds": 0.0, "lines": [], "note": "", "txt": None, "torch": ""}
    rc, out, secs = run([sys.executable, "-c", "import torch; print(torch.__version__, torch.cuda.is_available())"],
                        penv, 180)
    log.write(f"\n==== PyTorch check ({describe_rc(rc)}, {secs:.1f} s) ====\n{out}")
    if rc != 0:
        res["note"] = (f"not run: PyTorch cannot be imported by {sys.executable} ({describe_rc(rc)}: "
                       f"{clip(out.strip().splitlines()[-1] if out.strip() else '', 200)})")
        print(f"pytorch peer: {res['note']}", flush=True)
        return res
    res["torch"] = out.strip().splitlines()[-1]
    print(f"pytorch peer: torch {res['torch']} (version, cuda available); running ...", flush=True)
    cmd = [sys.executable, script, "--budget", f"{max(10.0, timeout - 20):.0f}", "--tag", f"commit={commit[:12]}",
           "--tag", f"date={started.strftime('%Y-%m-%d')}"] + extra_args.split()
    # GAN_* stays out of the peer's environment, so the math mode it gives train_step_bench is passed on as the
    # peer's own option: the table compares ours in bf16 with PyTorch's autocast bf16 only.
    if os.environ.get("GAN_PRECISION") == "bf16" and \
            not any(a == "--precision" or a.startswith("--precision=") for a in extra_args.split()):
        cmd += ["--precision", "bf16"]
    rc, out, secs = run(cmd, penv, timeout, cwd=out_dir)
    log.write(f"\n==== {' '.join(cmd)} ({describe_rc(rc)}, {secs:.1f} s) ====\n{out}")
    with open(txt, "w") as f:
        f.write(out)
    res.update(rc=rc, seconds=secs, txt=txt,
               lines=[l for l in out.splitlines() if l.startswith("pytorch_train_step ")])
    if rc != 0:
        res["note"] = f"{describe_rc(rc)} after {secs:.0f} s; last output: " + \
            clip(" / ".join(out.strip().splitlines()[-3:]), 400)
    print(f"pytorch peer: {describe_rc(rc)} ({secs:.1f} s), {len(res['lines'])} lines", flush=True)
    return res


def train_step_section(here, train_step, peer, out_dir, commit, started, ran):
    md = ["## Training step (train_step_bench vs PyTorch)", ""]
    if not ran:
        return md + ["Not run (see above).", ""]
    ours = [train_step["json"]] if train_step.get("json") else ([train_step["csv"]] if train_step.get("csv") else [])
    theirs = [peer["txt"]] if peer and peer.get("txt") else []
    if peer is None or not theirs:
        md += ["PyTorch peer: " + (peer["note"] if peer and peer.get("note") else "not run (see above)") + ".", ""]
    table_py = os.path.join(here, "make_train_step_table.py")
    try:
        import importlib.util
        spec = importlib.util.spec_from_file_location("make_train_step_table", table_py)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        reason = "this run produced no GPU measurements (see above)"
        kw = dict(commit=commit[:12], date=started.strftime("%Y-%m-%d"), no_gpu_reason=reason)
        body = mod.build(ours, theirs, None, title=None, **kw)
        with open(os.path.join(out_dir, "train-step.md"), "w") as f:
            f.write(mod.build(ours, theirs, None, **kw))
        return md + [body.strip(), ""]
    except Exception as e:  # noqa: BLE001 - the record must still be written
        md += [f"(no table: {table_py}: {type(e).__name__}: {e})", ""]
        if theirs:
            md += ["```"] + (peer["lines"] or ["(no result lines)"]) + ["```", ""]
        return md


# ---- main ---------------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.environ.get("OUT") or os.path.join(os.getcwd(), "gpu-check-out"))
    ap.add_argument("--budget", type=float, default=540.0, help="seconds for everything (default 540)")
    ap.add_argument("--memcheck-timeout", type=float, default=240.0)
    ap.add_argument("--memcheck-filter", default="", help="gtest filter for the memcheck run (default: all)")
    ap.add_argument("--bench-timeout", type=float, default=150.0, help="cap per benchmark program")
    ap.add_argument("--skip-memcheck", action="store_true")
    ap.add_argument("--skip-bench", action="store_true")
    ap.add_argument("--skip-tests", action="store_true", help="run no test label")
    ap.add_argument("--bench-filter", default="", help="run only the benchmark programs whose name matches")
    ap.add_argument("--bench-args", default="", help="extra arguments for the benchmark programs but "
                    "train_step_bench, given with '=' (e.g. --bench-args='--benchmark_filter=conv/tf32')")
    ap.add_argument("--train-step-timeout", type=float, default=200.0, help="cap for train_step_bench")
    ap.add_argument("--skip-pytorch", action="store_true", help="do not run the PyTorch train-step peer")
    ap.add_argument("--pytorch-timeout", type=float, default=420.0, help="cap for the PyTorch train-step peer")
    ap.add_argument("--pytorch-args", default="", help="extra arguments for pytorch_train_step.py, given with '=' "
                    "(e.g. --pytorch-args='--modes eager --tf32 off')")
    ap.add_argument("--only-train-step", action="store_true",
                    help="only train_step_bench and its PyTorch peer (= --skip-tests --skip-memcheck "
                         "--bench-filter '^train_step_bench$')")
    args = ap.parse_args()
    if args.only_train_step:
        args.skip_tests = args.skip_memcheck = True
        args.bench_filter = r"^train_step_bench$"
    budget = Budget(args.budget)
    here = os.path.dirname(os.path.abspath(__file__))
    os.makedirs(args.out, exist_ok=True)
    started = datetime.datetime.now(datetime.timezone.utc)

    scratch = tempfile.mkdtemp(prefix="gan-gpu-check-")
    payload = os.path.join(here, "payload.tar.xz")
    if not os.path.exists(payload):
        print(f"gpu_check: {payload} not found; build the bundle with scripts/gpu-bundle.sh", file=sys.stderr)
        return 2
    with tarfile.open(payload, "r:xz") as tar:
        try:
            tar.extractall(os.path.join(scratch, "b"), filter="data")
        except TypeError:  # Python without extraction filters (< 3.8.17 / 3.11.4)
            tar.extractall(os.path.join(scratch, "b"))
    b = os.path.join(scratch, "b")
    manifest = json.load(open(os.path.join(b, "manifest.json")))
    env_info = environment(manifest)

    libpath = [os.path.join(b, "lib")] + [d for d in (env_info["cublas_dir"], env_info["cudnn_dir"]) if d]
    if os.environ.get("LD_LIBRARY_PATH"):
        libpath.append(os.environ["LD_LIBRARY_PATH"])
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(libpath), GAN_TEST_DATA_DIR=os.path.join(b, "data", "tests"))
    for k in ("GAN_DEVICE", "GAN_CUDA_ALLOC", "GAN_CUDA_SYNC", "OMP_NUM_THREADS"):
        env.pop(k, None)

    print(f"GPU: {', '.join(env_info['gpus']) or 'none visible'}; driver {env_info['driver']} "
          f"(CUDA {env_info.get('driver_cuda', '?')}); nvcc here: {env_info['nvcc_here']}; "
          f"built with: {env_info['nvcc_build']}")
    print(f"cuBLAS {env_info['cublas']} from {env_info['cublas_dir']}; cuDNN {env_info['cudnn']} from "
          f"{env_info['cudnn_dir']}", flush=True)

    log = open(os.path.join(args.out, "gpu-check-tests.log"), "w")
    problems, incomplete = [], []
    if not env_info["gpus"]:
        problems.append("nvidia-smi shows no GPU")

    # Libraries that do not resolve (ldd) with the search path above.
    programs = sorted(glob.glob(os.path.join(b, "bin", "*")) + glob.glob(os.path.join(b, "bench", "*")))
    unresolved = {}
    for p in programs:
        _, out, _ = run(["ldd", p], env, 60)
        miss = sorted({l.split()[0] for l in out.splitlines() if "not found" in l})
        if miss:
            unresolved[os.path.basename(p)] = miss
    if unresolved:
        problems.append("shared libraries not found: " +
                        "; ".join(f"{k}: {', '.join(v)}" for k, v in unresolved.items()))

    # Tests, one binary per label.
    binaries = {re.sub(r"^gan_(.*)_tests$", r"\1", os.path.basename(p)): p
                for p in glob.glob(os.path.join(b, "bin", "gan_*_tests"))}
    labels = [l for l in LABEL_ORDER if l in binaries] + sorted(l for l in binaries if l not in LABEL_ORDER)
    for l in LABEL_ORDER:
        if l not in binaries and not args.skip_tests:
            incomplete.append(f"no {l} test binary in the bundle")
    if args.skip_tests:
        incomplete.append("tests skipped (--skip-tests" + (", --only-train-step" if args.only_train_step else "")
                          + ")")
        labels = []
    results = []
    for label in labels:
        reserve = 0 if (args.skip_memcheck and args.skip_bench) else 150
        timeout = min(300.0, budget.left() - reserve)
        if timeout < 10:
            incomplete.append(f"label {label} not run: out of time")
            continue
        print(f"tests: {label} ...", flush=True)
        r = run_label(label, binaries[label], env, scratch, timeout, log)
        results.append(r)
        print(f"tests: {label}: {r['passed']} passed, {r['failed']} failed, {r['skipped']} skipped "
              f"({r['seconds']:.1f} s) {r['note']}", flush=True)
        if r["failed"]:
            problems.append(f"label {label}: {r['failed']} failed")
    gpu = next((r for r in results if r["label"] == "gpu"), None)
    if gpu and env_info["gpus"]:
        no_dev = [c for c in gpu["cases"] if c[1] == "skipped" and NO_CUDA_SKIP in c[2]]
        if no_dev:
            problems.append(f"{len(no_dev)} gpu tests skipped for want of a CUDA device although nvidia-smi "
                            f"shows one: {skip_reason(no_dev[0][2])}")

    # compute-sanitizer memcheck on the gpu label.
    memcheck = None
    if args.skip_memcheck:
        incomplete.append("memcheck skipped (--skip-memcheck)")
    elif "gpu" not in binaries:
        incomplete.append("memcheck not run: no gpu test binary")
    elif not env_info["sanitizer"]:
        incomplete.append("memcheck not run: compute-sanitizer not found")
    else:
        timeout = min(args.memcheck_timeout, budget.left() - (0 if args.skip_bench else 90))
        if timeout < 20:
            incomplete.append("memcheck not run: out of time")
        else:
            print("memcheck: gpu ...", flush=True)
            memcheck = run_memcheck(env_info["sanitizer"], binaries["gpu"], env, scratch, timeout,
                                    args.memcheck_filter, log)
            print(f"memcheck: {memcheck['summary_line'] or describe_rc(memcheck['rc'])} "
                  f"({memcheck['seconds']:.1f} s)", flush=True)
            if memcheck["rc"] is None:
                incomplete.append(f"memcheck timed out after {memcheck['seconds']:.0f} s "
                                  f"({memcheck['passed'] + memcheck['failed'] + memcheck['skipped']} tests done)")
            if memcheck["errors"]:
                problems.append(f"memcheck: {memcheck['errors']} errors")
            elif memcheck["errors"] is None and memcheck["rc"] is not None:
                problems.append(f"memcheck: no error summary ({describe_rc(memcheck['rc'])})")
            if memcheck["failed"]:
                problems.append(f"memcheck: {memcheck['failed']} gpu tests failed under the sanitizer")

    # Benchmarks: CUDA ones first, then the training step, then the rest.
    benches = []
    bench_programs = sorted(glob.glob(os.path.join(b, "bench", "*")),
                            key=lambda p: (bench_rank(os.path.basename(p)), os.path.basename(p)))
    if args.bench_filter:
        bench_programs = [p for p in bench_programs if re.search(args.bench_filter, os.path.basename(p))]
        if not bench_programs and not args.skip_bench:
            incomplete.append(f"no benchmark program matches --bench-filter {args.bench_filter!r}")
    if args.skip_bench:
        incomplete.append("benchmarks skipped (--skip-bench)")
    peer_script = os.path.join(here, "pytorch_train_step.py")
    want_peer = not args.skip_bench and not args.skip_pytorch and \
        any(os.path.basename(p) == TRAIN_STEP for p in bench_programs)
    # Time kept for the peer, but only what the programs would not need at 60 s each: the benchmark programs come
    # first (as before the peer existed); a cut-short peer is recorded, and --only-train-step gives it the budget.
    peer_reserve = 0.0
    if want_peer and os.path.exists(peer_script):
        peer_reserve = min(args.pytorch_timeout, 120.0, max(0.0, budget.left() - 10 - 60 * len(bench_programs)))
    train_step = {"json": None, "csv": None}
    for i, prog in enumerate([] if args.skip_bench else bench_programs):
        name = os.path.basename(prog)
        share = (budget.left() - 10 - peer_reserve) / (len(bench_programs) - i)
        if name == TRAIN_STEP:  # as much as it needs up to its cap, leaving 15 s to each program after it
            share = budget.left() - 10 - peer_reserve - 15 * (len(bench_programs) - i - 1)
            timeout = min(args.train_step_timeout, share)
        else:
            timeout = min(args.bench_timeout, share)
        if timeout < 15:
            incomplete.append(f"benchmark {name} not run: out of time")
            continue
        print(f"bench: {name} ...", flush=True)
        if name == TRAIN_STEP:
            r = run_train_step_bench(prog, env, args.out, timeout, log, manifest.get("commit", "unknown"))
            train_step.update(json=r["json"], csv=r["csv"])
        else:
            r = run_benchmark(prog, env, scratch, timeout, log, shlex.split(args.bench_args))
        benches.append(r)
        print(f"bench: {r['name']}: {describe_rc(r['rc'])} ({r['seconds']:.1f} s)", flush=True)
        if r["rc"] != 0:
            problems.append(f"benchmark {r['name']}: {describe_rc(r['rc'])}")

    # The PyTorch peer of train_step_bench, with this machine's Python (not the bundle's libraries).
    peer = None
    if args.skip_pytorch:
        incomplete.append("PyTorch train-step peer skipped (--skip-pytorch)")
    elif want_peer:
        if not os.path.exists(peer_script):
            incomplete.append(f"PyTorch train-step peer not run: {peer_script} is not in the bundle")
        else:
            timeout = min(args.pytorch_timeout, budget.left() - 10)
            if timeout < 40:
                incomplete.append(f"PyTorch train-step peer not run: out of time ({budget.left():.0f} s left); run "
                                  "gpu-bundle/run.sh --only-train-step")
            else:
                peer = run_pytorch_peer(peer_script, args.out, timeout, log, manifest.get("commit", "unknown"),
                                        started, args.pytorch_args)
                if peer["note"]:
                    incomplete.append(f"PyTorch train-step peer: {peer['note']}")
                skipped = sum(1 for l in peer["lines"] if " status=skipped " in l and "out of time" in l)
                if skipped:
                    incomplete.append(f"PyTorch train-step peer: {skipped} configurations skipped for time; run "
                                      "gpu-bundle/run.sh --only-train-step")
    log.close()

    # ---- the record ----
    totals = {k: sum(r[k] for r in results) for k in ("passed", "failed", "skipped")}
    status = "FAIL" if problems else ("INCOMPLETE" if incomplete else "PASS")
    commit = manifest.get("commit", "unknown")
    md = [f"# GPU check: {status}", "",
          f"- commit: {commit[:12]}{' (built from a working tree with uncommitted changes)' if manifest.get('dirty') else ''}"
          f", date: {started.strftime('%Y-%m-%d %H:%M UTC')}",
          f"- GPU: {env_info['gpu']}, driver {env_info['driver']}",
          f"- tests: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped "
          f"({len(results)} labels)"
          + (f"; memcheck: {memcheck['errors'] if memcheck['errors'] is not None else '?'} errors" if memcheck else ""),
          ""]
    if problems:
        md += ["**FAIL:**", ""] + [f"- {p}" for p in problems] + [""]
    if incomplete:
        md += ["Not run or incomplete:", ""] + [f"- {p}" for p in incomplete] + [""]
    md += ["## Environment", "", "| | |", "| --- | --- |",
           f"| GPUs | {'; '.join(env_info['gpus']) or 'none visible'} |",
           f"| driver | {env_info['driver']} (supports CUDA {env_info.get('driver_cuda', '?')}) |",
           f"| CUDA build | {env_info['nvcc_build']}, architectures {manifest.get('cuda_architectures', '?')}, built "
           f"{manifest.get('built', '?')} on {manifest.get('build_host', '?')} |",
           f"| nvcc on the GPU machine | {env_info['nvcc_here']} |",
           f"| cuBLAS | {env_info['cublas']} ({env_info['cublas_dir']}) |",
           f"| cuDNN | {env_info['cudnn']} ({env_info['cudnn_dir']}); headers built against: "
           f"{manifest.get('cudnn_headers') or '?'} |",
           f"| compute-sanitizer | {env_info['sanitizer'] or 'not found'} |",
           f"| CPU | {env_info['cpu']} |",
           f"| OS | {env_info['host']}, Python {env_info['python']} |", ""]
    md += ["## Tests", "", "| label | passed | failed | skipped | disabled | seconds | note |",
           "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        md.append(f"| {r['label']} | {r['passed']} | {r['failed']} | {r['skipped']} | {r['disabled']} | "
                  f"{r['seconds']:.1f} | {r['note'].strip()} |")
    md.append("")
    failures = [(r["label"], c) for r in results for c in r["cases"] if c[1] == "failed"]
    if failures:
        md += ["### Failures", ""]
        for label, (name, _, msg) in failures[:MAX_FAILURES_SHOWN]:
            md += [f"- `{label}` {name}", "", "```", clip(msg) or "(no message)", "```", ""]
        if len(failures) > MAX_FAILURES_SHOWN:
            md += [f"... and {len(failures) - MAX_FAILURES_SHOWN} more (gpu-check-tests.log)", ""]
    skips = {}
    for r in results:
        for name, st, msg in r["cases"]:
            if st == "skipped":
                skips.setdefault((r["label"], skip_reason(msg)), []).append(name)
    if skips:
        md += ["### Skipped", "", "| label | tests | reason | e.g. |", "| --- | ---: | --- | --- |"]
        for (label, reason), names in sorted(skips.items()):
            md.append(f"| {label} | {len(names)} | {reason.replace('|', '/')} | {names[0]} |")
        md.append("")
    md += ["## compute-sanitizer memcheck (gpu label, GAN_CUDA_ALLOC=direct)", ""]
    if memcheck:
        md += [f"- {memcheck['summary_line'] or 'no error summary'}; {describe_rc(memcheck['rc'])}; "
               f"{memcheck['seconds']:.1f} s; filter {memcheck['filter']}",
               f"- gpu tests under the sanitizer: {memcheck['passed']} passed, {memcheck['failed']} failed, "
               f"{memcheck['skipped']} skipped", ""]
        if memcheck["errors"]:
            md += ["```", memcheck["report"], "```", ""]
    else:
        md += ["Not run (see above).", ""]
    md += ["## Benchmarks", ""]
    if not benches:
        md += ["None run." if bench_programs else "No benchmark programs in the bundle.", ""]
    for r in benches:
        md += [f"### {r['name']} ({describe_rc(r['rc'])}, {r['seconds']:.0f} s)", ""]
        md += [r["table"] or "(no table printed)", ""]
        if r["tail"]:
            md += ["```", r["tail"], "```", ""]
    md += train_step_section(here, train_step, peer, args.out, commit, started,
                             any(os.path.basename(p) == TRAIN_STEP for p in bench_programs) and not args.skip_bench)
    md += ["Logs: gpu-check-tests.log (every program's full output). Made by scripts/gpu_check.py "
           f"in {args.budget - budget.left():.0f} s.", ""]
    record = os.path.join(args.out, "gpu-check.md")
    with open(record, "w") as f:
        f.write("\n".join(md))
    print("\n" + "\n".join(md))
    print(f"\n{status}: {totals['passed']} passed, {totals['failed']} failed, {totals['skipped']} skipped; "
          f"record: {record}")
    for p in problems:
        print(f"  FAIL: {p}")
    for p in incomplete:
        print(f"  incomplete: {p}")
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
