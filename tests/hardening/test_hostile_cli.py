#!/usr/bin/env python3
"""test_hostile_cli.py — every hostile checkpoint of make_hostile.py through `gaitrt info -m`.

Each run must end with the exit code docs/errors.md gives for the status the manifest names
(cli_exit_code in tools/gaitrt/main.c), never with a signal or a sanitizer report, and print
exactly one error line that names the file and ends with a hint. No payload may have run
afterwards (no PWNED_* file). Only the standard library is used.

usage: test_hostile_cli.py GAITRT DIR
"""
import os
import subprocess
import sys

# gaitrt_status -> exit code of the command line (cli_exit_code in tools/gaitrt/main.c)
EXIT = {1: 2, 2: 3, 3: 4, 10: 4, 5: 5, 4: 6, 6: 7, 7: 8, 8: 9, 9: 10}

gaitrt, folder = sys.argv[1:3]
manifest = os.path.join(folder, "manifest.tsv")
if not os.path.exists(manifest):
    print(f"SKIPPED: {manifest} missing (make_hostile.py did not run)", file=sys.stderr)
    sys.exit(77)

failures = runs = 0
for line in open(manifest):
    kind, name, status, says = (line.rstrip("\n").split("\t") + [""])[:4]
    if kind != "model":
        continue
    path = os.path.join(folder, name)
    p = subprocess.run([gaitrt, "info", "-m", path], capture_output=True, text=True, errors="replace", timeout=120)
    lines = [l for l in p.stderr.splitlines() if l.strip() and not l.startswith("gaitrt: warning:")]
    want = EXIT.get(int(status), 11)
    ok = (p.returncode == want and len(lines) == 1 and path in lines[0] and "---> HINT:" in lines[0]
          and (not says or says in lines[0]) and "Sanitizer" not in p.stderr and "runtime error" not in p.stderr)
    print(f"{'ok ' if ok else 'BAD'} {name}: exit {p.returncode} (want {want}): {p.stderr.strip()[:400]}")
    failures += not ok
    runs += 1

pwned = [f for f in os.listdir(folder) if f.startswith("PWNED")]
if pwned:
    print(f"BAD: payloads ran: {pwned}")
    failures += 1
print(f"{runs} hostile checkpoints through `gaitrt info -m`; {failures} failures")
sys.exit(1 if failures or runs < 30 else 0)
