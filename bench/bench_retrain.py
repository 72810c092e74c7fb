"""Time `manage.py retrain` end to end on PostgreSQL: wall time, peak memory, load/train/store split.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bookrec_recsys .venv/bin/python bench/bench_retrain.py [retrain options]

Load the data first (bench/make_synthetic_ratings.py, then manage.py import_goodbooks bench/data/synthetic).
Runs `retrain --force` in a child process (so the peak memory is the command's own), then reads the
run's ModelRun record for the split. Targets (issue 11, with the item-item model): ≤ 60 s and ≤ 2 GB peak at goodbooks scale.
"""

import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def machine_info():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import numpy
    import scipy

    load = os.getloadavg()
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}; load average {load[0]:.1f}; Python {platform.python_version()}, "
        f"numpy {numpy.__version__}, scipy {scipy.__version__}"
    )


def main():
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to the PostgreSQL database holding the benchmark data.")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bookrec_site.settings")
    os.environ.setdefault("DEBUG", "1")
    import django

    django.setup()
    from django.db import connection

    from accounts.models import Rating
    from recommender.models import ModelRun

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    print(f"Machine: {machine_info()}; PostgreSQL {server}")
    print(f"Ratings in the database: {Rating.objects.count():,}")
    connection.close()

    command = [sys.executable, str(ROOT / "manage.py"), "retrain", "--force", *sys.argv[1:]]
    print("$", " ".join(command[1:]))
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, text=True)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    if result.returncode:
        sys.exit(f"retrain exited with {result.returncode}")
    run = ModelRun.objects.order_by("-pk").first()
    print()
    print(f"Run #{run.pk} ({run.status}): {run.n_ratings:,} ratings, {run.n_users:,} raters, {run.n_books:,} books")
    print(f"  wall time      {wall:6.1f} s   (target ≤ 60 s)")
    print(f"  peak memory    {peak:6.0f} MiB (target ≤ 2048 MiB)")
    print(f"  load           {run.load_seconds:6.1f} s   (COPY, id maps, validation split)")
    print(f"  train          {run.train_seconds:6.1f} s   ({len(run.epochs)} epochs + validation metrics)")
    choice = run.settings_choice or {}
    if choice.get("item_item_seconds") is not None:
        steps = choice.get("item_item_steps", {})
        print(f"    of which     {choice.get('factor_seconds', 0):6.1f} s   factor model (epochs, early stopping)")
        print(f"                 {choice['item_item_seconds']:6.1f} s   item-item model (Gram {steps.get('gram', 0):.1f} s, "
              f"inverse {steps.get('inverse', 0):.1f} s, pruning {steps.get('prune', 0):.1f} s)")
        print(f"                 {choice.get('selection_seconds', 0):6.1f} s   choosing the blend "
              f"({len(choice.get('candidates', []))} candidates): {choice.get('chosen')}")
    print(f"  store          {run.store_seconds:6.1f} s   (pack .npz, INSERT, activate, prune)")
    other = wall - run.load_seconds - run.train_seconds - run.store_seconds
    print(f"  other          {other:6.1f} s   (interpreter and Django start, lock, fingerprint)")
    print(f"  validation     RMSE {run.metrics.get('val_rmse')}, recall@10 {run.metrics.get('val_recall_at_10')}")


if __name__ == "__main__":
    main()
