"""Why a missed INT8 speed-up is missed: the report names a CPU without int8 dot products."""

from __future__ import annotations

from edgefer.bench.system import cpu_info
from edgefer.bench.targets import _int8_dot_words


def _result(flags: list[str]) -> dict:
    return {"system": {"cpu": {"flags": flags}}}


def test_a_cpu_without_vnni_is_named_as_the_reason():
    words = _int8_dot_words(_result(["avx2", "fma"]))
    assert "no int8 dot-product instruction" in words and "avx2, fma" in words


def test_a_cpu_with_vnni_or_arm_dot_products_is_not_blamed():
    assert _int8_dot_words(_result(["avx2", "avx512_vnni"])) == ""
    assert _int8_dot_words(_result(["asimddp", "fphp"])) == ""
    assert _int8_dot_words(_result([])) == ""  # flags unknown: say nothing


def test_this_machines_flags_are_read_from_proc_cpuinfo():
    flags = cpu_info()["flags"]
    assert isinstance(flags, list) and flags == sorted(flags)
    assert {"avx2", "asimd"} & set(flags)  # x86-64 CI machines have AVX2, Arm ones ASIMD
