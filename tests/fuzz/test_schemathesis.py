"""A bounded schemathesis run (its CLI: every phase, every check) over the OpenAPI document,
against `issuer serve` on each database, as an admin whose token the hooks keep valid
(tests/fuzz/hooks.py): every answer is as documented, and none is a 5xx.

One check is left out: `positive_data_acceptance` expects every schema-valid body to be
accepted, and the admin API refuses some with a 400 that names a rule JSON Schema does not
carry (an e-mail's or a client id's syntax, an audience's form, a public client's grants,
the password policy) — the 400 is documented and the rule is the handler's to say."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.fuzz.conftest import ADMIN_CLIENT, FuzzedIssuer

EXAMPLES = 10  # per operation and phase: about 1,200 cases per database, 20-45 s
# A fixed seed: the suite's verdict does not change from run to run. To explore further, run
# it with another (`st run … --seed N` prints the one it used on every report).
SEED = 13
ST = Path(sys.executable).with_name("st")


def test_every_answer_is_documented_and_none_is_a_server_error(
    fuzzed: FuzzedIssuer, tmp_path: Path
) -> None:
    env = os.environ | {
        "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
        "PYTHONPATH": str(Path(__file__).parents[2]),
        "FUZZ_ISSUER_URL": fuzzed.url,
        "FUZZ_ADMIN_CLIENT": ADMIN_CLIENT,
        "FUZZ_ADMIN_SECRET": fuzzed.admin_secret,
    }
    run = subprocess.run(
        [
            str(ST),
            "run",
            f"{fuzzed.url}/schema/openapi.json",
            "--checks=all",
            "--exclude-checks=positive_data_acceptance",
            f"--max-examples={EXAMPLES}",
            f"--seed={SEED}",
            "--workers=1",
            "--no-color",
            "--warnings=off",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "No issues found" in report, report
    # Every phase ran, over a real number of cases (not skipped for want of a token).
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in report, report
    generated = re.search(r"(\d+) generated, (\d+) passed", report)
    assert generated is not None and int(generated[1]) >= 500, report
