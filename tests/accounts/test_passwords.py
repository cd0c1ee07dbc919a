import shutil
import subprocess
import sys

from argon2 import PasswordHasher

from issuer.accounts.passwords import HASHER, hash_password, verify_password


async def test_hash_is_argon2id_with_owasp_parameters() -> None:
    stored = await hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in stored


async def test_verify_matches_and_rejects() -> None:
    stored = await hash_password("correct horse")
    assert (await verify_password(stored, "correct horse")).ok
    assert not (await verify_password(stored, "wrong horse")).ok


async def test_unknown_user_pays_for_a_verification_and_fails() -> None:
    check = await verify_password(None, "issuer-dummy-password-for-unknown-users")
    assert not check.ok


async def test_old_parameters_ask_for_a_rehash() -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("pw")
    check = await verify_password(weaker, "pw")
    assert check.ok and check.needs_rehash
    current = await verify_password(HASHER.hash("pw"), "pw")
    assert current.ok and not current.needs_rehash


async def test_garbage_hash_is_a_mismatch_not_an_error() -> None:
    assert not (await verify_password("not-a-hash", "pw")).ok


def test_argon2_threads_follow_the_cpus_the_process_may_use() -> None:
    """One hash per usable core: under `taskset -c 0` a single Argon2 thread."""
    assert shutil.which("taskset"), "util-linux taskset is part of the test machine"
    probe = "from issuer.accounts import passwords; print(passwords._POOL._max_workers)"
    pinned = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
    )
    assert pinned.stdout.strip() == "1"
