#!/usr/bin/python3
"""The README's Slurm recipe, run as it stands on a real one-node Slurm.

Usage: test_slurm.py README.md slurm.conf.in   (FACET_CLI names facet-cli)

Starts munged, slurmctld and slurmd (Debian's slurm-wlm 22.05) on this
machine with the configuration in slurm.conf.in: state, logs, spool, the
munge key and socket in a temporary folder, ports of their own. The three
shell blocks of the README's "Analysing on a cluster" section are taken from
the README itself: the batch script is written to analyze.sbatch unchanged,
the submission blocks are run by bash unchanged, in the project's folder,
with facet-cli on PATH.

Two rounds on a two-video project of 18 chunks (so every one of the 16
shards has work and shard K, the one the README resubmits, has two chunks):
  1. The recipe: array, then the merge after it. The merge job is held
     until the array is done so that the shards can be kept; merging them
     again afterwards must change nothing.
  2. Task K killed half-way with scancel, after its first chunk: the merge
     job waits forever, is cancelled; the README's resubmission block runs
     task K again (it continues: its log says the first chunk was done
     already) and the merge.
Each round's merged project must equal one single-process `facet-cli
analyze` of the same videos with the same model: every prediction and face
row, byte for byte; integrity and foreign-key checks clean; no shard files
left. Everything started is stopped by PID at the end, also on failure.

Skipped (exit 77) unless run as root with the Slurm and munge programs
installed (build-aux/install-deps.sh installs them): slurmd must be root to
start jobs.
"""

import glob
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

CLI = os.path.abspath(os.environ.get("FACET_CLI", "facet-cli"))
CHUNK = 256      # FACET_ANALYSIS_CHUNK_FRAMES
SHARDS = 16      # as in the README's script
TIMEOUT = 180    # seconds for any one wait on the cluster


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def run(args, cwd=None, env=None, timeout=120):
    p = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        raise Failure(f"{' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p


def wait_for(predicate, what, timeout=TIMEOUT, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def readme_blocks(readme):
    """The shell blocks of the README's cluster section, verbatim."""
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    start = text.index("## Analysing on a cluster")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end >= 0 else len(text)]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    check(len(blocks) == 3, f"the README's cluster section should have 3 sh blocks, has {len(blocks)}")
    script, submit, resubmit = blocks
    check(script.startswith("#!/bin/bash\n"), "the first block should be the batch script")
    check(f"#SBATCH --array=1-{SHARDS}\n" in script and f"SHARDS={SHARDS}\n" in script,
          f"the batch script should be an array of {SHARDS} shards")
    return script, submit, resubmit


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def predictions(project):
    db = sqlite3.connect(f"file:{project}?mode=ro", uri=True)
    rows = db.execute("SELECT video_id, frame, probs FROM predictions ORDER BY video_id, frame").fetchall()
    db.close()
    return rows


def faces(project):
    db = sqlite3.connect(f"file:{project}?mode=ro", uri=True)
    rows = db.execute("SELECT video_id, frame, status, x, y, w, h, landmarks, quality, time, transform "
                      "FROM faces ORDER BY video_id, frame").fetchall()
    db.close()
    return rows


def snapshot(project):
    """Every row of every table, for "merging again changes nothing"."""
    db = sqlite3.connect(f"file:{project}?mode=ro", uri=True)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    rows = {t: db.execute(f'SELECT * FROM "{t}" ORDER BY 1, 2').fetchall() for t in tables}
    db.close()
    return rows


def integrity(project):
    db = sqlite3.connect(f"file:{project}?mode=ro", uri=True)
    ok = db.execute("PRAGMA integrity_check").fetchone()[0]
    fk = db.execute("PRAGMA foreign_key_check").fetchall()
    db.close()
    return ok, fk


class Cluster:
    """munged, slurmctld and slurmd of our own, all state under `folder`."""

    def __init__(self, folder, conf_in):
        self.dir = folder
        self.conf = os.path.join(folder, "slurm.conf")
        self.daemons = []
        self.seen = set()
        os.makedirs(os.path.join(folder, "state"))
        os.makedirs(os.path.join(folder, "spool"))
        munge = os.path.join(folder, "munge")
        os.makedirs(munge)
        # munged insists on a socket folder others may enter but not write,
        # and a key only its owner reads.
        os.chmod(folder, 0o755)
        os.chmod(munge, 0o755)
        key = os.path.join(munge, "munge.key")
        with open(key, "wb") as f:
            f.write(os.urandom(1024))
        os.chmod(key, 0o600)
        open(os.path.join(folder, "plugstack.conf"), "w").close()
        with open(conf_in) as f:
            conf = f.read()
        for name, value in (("DIR", folder), ("HOST", socket.gethostname().split(".")[0]),
                            ("CTLD_PORT", free_port()), ("SLURMD_PORT", free_port())):
            conf = conf.replace(f"@{name}@", str(value))
        with open(self.conf, "w") as f:
            f.write(conf)
        self.env = dict(os.environ, SLURM_CONF=self.conf,
                        PATH=os.path.dirname(CLI) + os.pathsep + os.environ.get("PATH", ""))
        self.munge_socket = os.path.join(munge, "munge.socket")
        self.munge = ["munged", "--foreground", "--force", f"--socket={self.munge_socket}",
                      f"--key-file={key}", f"--log-file={munge}/munged.log",
                      f"--pid-file={munge}/munged.pid", f"--seed-file={munge}/munged.seed"]

    def _spawn(self, name, args):
        log = open(os.path.join(self.dir, name + ".out"), "w")
        p = subprocess.Popen(args, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
        log.close()
        self.daemons.append((name, p))
        return p

    def start(self):
        self._spawn("munged", self.munge)
        wait_for(lambda: os.path.exists(self.munge_socket), "munged's socket", timeout=30)
        self._spawn("slurmctld", ["slurmctld", "-D"])
        self._spawn("slurmd", ["slurmd", "-D"])

        def idle():
            for name, p in self.daemons:
                check(p.poll() is None, f"{name} exited ({p.returncode}): {self.log(name)}")
            p = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True, text=True)
            return p.returncode == 0 and p.stdout.strip() == "idle"
        wait_for(idle, "the node to be idle in sinfo", timeout=60)

    def log(self, name):
        tail = ""
        for path in (os.path.join(self.dir, name + ".out"), os.path.join(self.dir, name + ".log")):
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    tail += f.read()[-1500:]
        return tail

    def cmd(self, *args, cwd=None):
        return run(args, cwd=cwd, env=self.env).stdout

    def shell(self, block, cwd):
        """Runs a README block with bash, as a user pastes it."""
        return run(["bash", "-e", "-c", block], cwd=cwd, env=self.env).stdout

    def queue(self, *args):
        """squeue lines "JOBID STATE REASON" (jobs still pending, running or completing)."""
        out = self.cmd("squeue", "-h", "-o", "%i %T %r", *args)
        return [line.split(None, 2) for line in out.splitlines()]

    def job_states(self, job):
        """{task or job id: (JobState, ExitCode)} from slurmctld's records (finished ones too)."""
        out = self.cmd("scontrol", "-o", "show", "job", str(job))
        states = {}
        for line in out.splitlines():
            fields = dict(re.findall(r"(\w+)=(\S*)", line))
            key = fields.get("ArrayTaskId") or fields["JobId"]
            states[key] = (fields["JobState"], fields["ExitCode"])
        return states

    def new_job(self, name):
        """The one job named `name` submitted since the last call."""
        ids = set(self.cmd("squeue", "-h", "-t", "all", "-n", name, "-o", "%F").split()) - self.seen
        check(len(ids) == 1, f"expected one new job named {name}, found {sorted(ids)}")
        self.seen |= ids
        return ids.pop()

    def wait_gone(self, job, what):
        wait_for(lambda: not self.queue("-j", str(job)), what)

    def _our_processes(self, *more):
        """Job processes and slurmstepd: every process started with our
        SLURM_CONF (and the other NAME=VALUE given) in its environment."""
        mine = {p.pid for _, p in self.daemons} | {os.getpid()}
        markers = [f"{m}".encode() + b"\0" for m in (f"SLURM_CONF={self.conf}",) + more]
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in mine:
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        continue    # dead already, not yet reaped
                with open(f"/proc/{entry}/environ", "rb") as f:
                    env = b"\0" + f.read()
            except (OSError, IndexError):
                continue
            if all(b"\0" + m in env for m in markers):
                found.append(int(entry))
        return found

    def task_processes(self, array, task):
        return self._our_processes(f"SLURM_ARRAY_JOB_ID={array}", f"SLURM_ARRAY_TASK_ID={task}")

    def stop(self):
        if any(p.poll() is None for name, p in self.daemons if name == "slurmctld"):
            subprocess.run(["scancel", "--full", "-u", str(os.getuid())], env=self.env,
                           capture_output=True, timeout=30)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                r = subprocess.run(["squeue", "-h"], env=self.env, capture_output=True, text=True)
                if r.returncode != 0 or not r.stdout.strip():
                    break
                time.sleep(0.2)
        for pid in self._our_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # After it has run jobs, slurmctld (22.05, on this machine) hangs on
        # TERM once it has saved its state ("_write_msg: read/write op
        # failed"): it gets a few seconds, then KILL; its state is thrown
        # away with the folder anyway.
        order = {"slurmctld": 0, "slurmd": 1, "munged": 2}
        for name, p in sorted(self.daemons, key=lambda d: order[d[0]]):
            if p.poll() is None:
                t0 = time.monotonic()
                p.terminate()
                try:
                    p.wait(timeout=3 if name == "slurmctld" else 15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                print(f"{name} stopped in {time.monotonic() - t0:.1f} s ({p.returncode})")
        left = self._our_processes()
        check(not left, f"processes of the test cluster still running: {left}")


def make_video(path, frames):
    run(["ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=25",
         "-frames:v", str(frames), "-pix_fmt", "yuv420p", "-g", "50", path])


def new_project(folder, videos, model, script):
    os.makedirs(folder)
    project = os.path.join(folder, "study.facet")
    run([CLI, "init", project])
    for i, video in enumerate(videos):
        run([CLI, "add", project, video, "--subject", f"S{i + 1}", "--crop", "none"])
    shutil.copy(model, os.path.join(folder, "fmae-iat-bp4d.pth"))
    with open(os.path.join(folder, "analyze.sbatch"), "w") as f:
        f.write(script)
    return project


def check_merged(project, reference, frames):
    folder = os.path.dirname(project)
    want = predictions(reference)
    check(len(want) == frames, f"the reference has {len(want)} predictions, not {frames}")
    got = predictions(project)
    check(len(got) == len(want), f"{project}: {len(got)} predictions after the merge, want {len(want)}")
    diff = [(g[0], g[1]) for g, w in zip(got, want) if g != w]
    check(not diff, f"{project}: predictions differ from one single-process analyze at "
                    f"{len(diff)} frames (first: video {diff[0][0] if diff else 0}, "
                    f"frame {diff[0][1] if diff else 0})")
    check(faces(project) == faces(reference), f"{project}: face rows differ from the single run")
    check(integrity(project) == ("ok", []), f"{project}: integrity check {integrity(project)}")
    left = glob.glob(os.path.join(folder, "study.shard-*"))
    check(not left, f"shard files left after the merge job: {left}")


def round_recipe(cluster, folder, videos, model, reference, frames, script, submit):
    project = new_project(folder, videos, model, script)
    cluster.shell(submit, folder)
    array = cluster.new_job("facet-analyze")
    merge = cluster.new_job("wrap")
    # Held so that the shards can be kept for merging them again below;
    # it cannot have started: the array's tasks take seconds.
    cluster.cmd("scontrol", "hold", merge)
    cluster.wait_gone(array, "the array's 16 tasks")
    states = cluster.job_states(array)
    check(len(states) == SHARDS and all(s == ("COMPLETED", "0:0") for s in states.values()),
          f"array tasks: {states}")
    shards = sorted(glob.glob(os.path.join(folder, f"study.shard-*-of-{SHARDS}.facet")))
    check(len(shards) == SHARDS, f"{len(shards)} shard files written, want {SHARDS}")
    check(all(len(predictions(s)) > 0 for s in shards), "a shard without predictions")
    check(sum(len(predictions(s)) for s in shards) == frames, "the shards do not add up to the project")
    kept = os.path.join(folder, "kept")
    os.makedirs(kept)
    for s in shards:
        shutil.copy(s, kept)
    check(predictions(project) == [], "the main project was written before the merge")
    cluster.cmd("scontrol", "release", merge)
    cluster.wait_gone(merge, "the merge job")
    check(cluster.job_states(merge)[merge] == ("COMPLETED", "0:0"), f"merge job: {cluster.job_states(merge)}")
    check_merged(project, reference, frames)

    # Merging the same shards again changes nothing.
    before = snapshot(project)
    out = cluster.cmd(CLI, "merge", project, *sorted(glob.glob(os.path.join(kept, "*.facet"))))
    check("0 new predictions" in out, f"a second merge reported: {out}")
    check(snapshot(project) == before, "merging the shards a second time changed the project")
    status = json.loads(cluster.cmd(CLI, "status", project, "--json"))
    check([m["frames_analysed"] for m in status["models"]] == [frames], f"status after the merge: {status}")


def frames_per_shard(lengths):
    """Frames each shard analyses (stride 1): a video's chunks of CHUNK
    frames go to the shards in turn, counted across the videos."""
    counts, k = {i: 0 for i in range(1, SHARDS + 1)}, 0
    for n in lengths:
        for first in range(0, n, CHUNK):
            counts[k % SHARDS + 1] += min(CHUNK, n - first)
            k += 1
    return counts


def pin_after_first_chunk(shard, total):
    """Waits until the shard has its first chunk committed, and returns an
    open connection holding the shard's write lock and the number of
    predictions committed then: the job cannot commit its next chunk while
    the lock is held, so it is killed part-way for sure.

    The shard is in WAL mode, so the polling reads never hold up the job's
    commits (a poll that took the write lock could delay a commit until the
    next chunk was ready, and both then landed between two polls: on a quiet
    machine the whole shard was done before the test looked)."""
    def committed():
        if not os.path.exists(shard):
            return None
        try:
            db = sqlite3.connect(f"file:{shard}?mode=ro", uri=True, timeout=1)
            try:
                return db.execute("SELECT count(*) FROM predictions").fetchone()[0] or None
            finally:
                db.close()
        except sqlite3.OperationalError:
            return None    # the job is still creating the file
    wait_for(committed, f"the first chunk in {shard}", interval=0.01)
    db = sqlite3.connect(f"file:{shard}?mode=rw", uri=True, isolation_level=None, timeout=30)
    db.execute("BEGIN IMMEDIATE")
    n = db.execute("SELECT count(*) FROM predictions").fetchone()[0]
    if n >= total:
        db.execute("ROLLBACK")
        db.close()
        raise Failure(f"{shard} had all its {total} predictions before the test could hold it")
    return db, n


def round_kill(cluster, folder, videos, lengths, model, reference, script, submit, resubmit):
    frames = sum(lengths)
    task = re.search(r"--array=(\d+) ", resubmit)
    check(task is not None, "the README's resubmission should name one task: --array=K")
    task = task.group(1)
    project = new_project(folder, videos, model, script)
    cluster.shell(submit, folder)
    array = cluster.new_job("facet-analyze")
    merge = cluster.new_job("wrap")
    shard = os.path.join(folder, f"study.shard-{task}-of-{SHARDS}.facet")
    lock, n_pinned = pin_after_first_chunk(shard, frames_per_shard(lengths)[int(task)])
    try:
        check(cluster.task_processes(array, task), f"no processes of task {task} found")
        cluster.cmd("scancel", f"{array}_{task}")
        # Slurm sends TERM, and KILL KillWait seconds later: facet-cli stops
        # decoding at once but waits for the lock to write what it has.
        try:
            wait_for(lambda: not cluster.task_processes(array, task), f"task {task} to end after scancel",
                     timeout=60)
        except Failure:
            left = cluster.task_processes(array, task)
            raise Failure(f"task {task} still running after scancel: " + "; ".join(
                open(f"/proc/{p}/cmdline").read().replace("\0", " ") + open(f"/proc/{p}/stat").read()[:80]
                for p in left))
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    wait_for(lambda: cluster.job_states(array)[task][0] == "CANCELLED",
             f"task {task} to be CANCELLED, not {cluster.job_states(array)[task]}")
    n_killed = len(predictions(shard))
    check(n_killed == n_pinned and n_killed % CHUNK == 0,
          f"the killed task kept {n_killed} predictions, want the {n_pinned} of its chunks "
          f"committed before it was held (whole chunks of {CHUNK})")

    # The others finish; the merge can then never run.
    wait_for(lambda: not cluster.queue("-j", str(array)), "the array's other tasks")
    wait_for(lambda: any(r[2:] == ["DependencyNeverSatisfied"] for r in cluster.queue("-j", merge)),
             "the merge job to be marked DependencyNeverSatisfied")
    cluster.cmd("scancel", merge)
    cluster.wait_gone(merge, "the cancelled merge job")
    check(predictions(project) == [], "the main project was written by a cancelled merge")

    cluster.shell(resubmit, folder)
    again = cluster.new_job("facet-analyze")
    merge2 = cluster.new_job("wrap")
    cluster.wait_gone(again, f"the resubmitted task {task}")
    cluster.wait_gone(merge2, "the second merge job")
    check(cluster.job_states(again) == {task: ("COMPLETED", "0:0")},
          f"resubmitted task: {cluster.job_states(again)}")
    with open(os.path.join(folder, f"slurm-{again}_{task}.out")) as f:
        log = f.read()
    check(f"{n_killed} were done already" in log and f"of-{SHARDS}.facet" in log,
          f"the resubmitted task should continue after its first chunk; its log:\n{log}")
    check(cluster.job_states(merge2)[merge2] == ("COMPLETED", "0:0"), "the second merge job failed")
    check_merged(project, reference, frames)


def main():
    readme, conf_in = sys.argv[1], sys.argv[2]
    if os.getuid() != 0:
        print("SKIP: slurmd has to run as root to start jobs")
        return 77
    missing = [p for p in ("munged", "slurmctld", "slurmd", "sbatch", "ffmpeg") if not shutil.which(p)]
    if missing:
        print(f"SKIP: not installed: {' '.join(missing)} (build-aux/install-deps.sh installs them)")
        return 77
    script, submit, resubmit = readme_blocks(readme)
    task = int(re.search(r"--array=(\d+) ", resubmit).group(1))

    # A TERM from meson's timeout still stops the cluster (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    top = tempfile.mkdtemp(prefix="facet-slurm-")
    cluster = Cluster(os.path.join(top, "slurm"), conf_in)
    ok = False
    try:
        t0 = time.monotonic()
        # 2 x 16 + task chunks of 256 frames: every shard has two, task's
        # shard three, so that it is held part-way even when it runs fast.
        media = os.path.join(top, "media")
        os.makedirs(media)
        videos = [os.path.join(media, "clip.mp4"), os.path.join(media, "second.mp4")]
        lengths = [12 * CHUNK - 50, (2 * SHARDS + task - 12) * CHUNK - 70]
        for video, n in zip(videos, lengths):
            make_video(video, n)
        frames = sum(lengths)
        model = os.path.join(top, "tiny.safetensors")
        run([CLI, "model", "new", "--size", "tiny", "--depth", "1", "--image-size", "32", "--crop", "none",
             "--seed", "1", model])
        reference = os.path.join(top, "whole.facet")
        run([CLI, "init", reference])
        for i, video in enumerate(videos):
            run([CLI, "add", reference, video, "--subject", f"S{i + 1}", "--crop", "none"])
        print(f"videos, model and reference project made in {time.monotonic() - t0:.1f} s")
        t0 = time.monotonic()
        run([CLI, "analyze", reference, "--model", model, "--batch", "32"])
        print(f"single-process analyze: {frames} frames in {time.monotonic() - t0:.1f} s")

        t0 = time.monotonic()
        cluster.start()
        print(f"cluster up in {time.monotonic() - t0:.1f} s")
        t0 = time.monotonic()
        round_recipe(cluster, os.path.join(top, "recipe"), videos, model, reference, frames, script, submit)
        print(f"ok: the recipe, merged = single run, merging again changes nothing "
              f"({time.monotonic() - t0:.1f} s)")
        t0 = time.monotonic()
        round_kill(cluster, os.path.join(top, "killed"), videos, lengths, model, reference, script, submit,
                   resubmit)
        print(f"ok: task {task} killed part-way, resubmitted, continued; merged = single run "
              f"({time.monotonic() - t0:.1f} s)")
        ok = True
    except Failure as e:
        print(f"FAIL: {e}")
        for name in ("slurmctld", "slurmd"):
            print(f"--- {name} log (tail) ---\n{cluster.log(name)}")
    finally:
        t0 = time.monotonic()
        try:
            cluster.stop()
        except Failure as e:
            print(f"FAIL: {e}")
            ok = False
        print(f"cluster stopped in {time.monotonic() - t0:.1f} s")
        if ok:
            shutil.rmtree(top, ignore_errors=True)
        else:
            print(f"(files kept in {top})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
